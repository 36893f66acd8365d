"""API credentials: where they come from, that they never show, and that a full order flow never logs them."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from jtrader.bus.messages import RejectReason, VenueAck, VenueFill, VenueQuery, VenueReject, VenueSnapshot
from jtrader.domain import Venue
from jtrader.gateways.ccxt_execution import live_execution_client
from jtrader.gateways.credentials import ApiCredentials, CredentialsError, MissingCredentials, load_credentials
from jtrader.gateways.instruments import default_registry
from tests.gateways.execution.builders import HTX_BTC, SPOT_BTC, Session, cancel, submit
from tests.gateways.execution.emulators import KEY, SECRET, Fault


def test_repr_and_str_show_neither_key_nor_secret():
    creds = ApiCredentials(Venue.BINANCE, "the-key-123", "the-secret-456", "env")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "the-key-123" not in text and "the-secret-456" not in text and "<redacted>" in text


def test_environment_variables_win_over_the_secrets_file(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[binance]\napi_key = "file-key"\napi_secret = "file-secret"\n')
    env = {"BINANCE_API_KEY": "env-key", "BINANCE_API_SECRET": "env-secret"}
    assert load_credentials(Venue.BINANCE_USDM, env=env, secrets_file=secrets).key == "env-key"
    from_file = load_credentials(Venue.BINANCE_COINM, env={}, secrets_file=secrets)
    assert (from_file.key, from_file.secret, from_file.source) == ("file-key", "file-secret", f"file {secrets}")


def test_secrets_file_named_by_the_environment_is_read_as_json(tmp_path):
    secrets = tmp_path / "secrets.json"
    secrets.write_text('{"htx": {"api_key": "k", "api_secret": "s"}}')
    creds = load_credentials(Venue.HUOBI, env={"VENUE_SECRETS_FILE": str(secrets)})
    assert (creds.key, creds.secret) == ("k", "s")


def test_missing_credentials_name_the_variables_and_the_file_table():
    with pytest.raises(MissingCredentials) as err:
        load_credentials(Venue.HUOBI, env={})
    assert "HTX_API_KEY" in str(err.value) and "HTX_API_SECRET" in str(err.value) and "[htx]" in str(err.value)
    with pytest.raises(MissingCredentials, match="BINANCE_API_SECRET is not set"):
        load_credentials(Venue.BINANCE, env={"BINANCE_API_KEY": "half"})


def test_broken_secrets_file_is_named_without_quoting_its_content(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[binance]\napi_key = "sup3rs3cret\n')
    os.chmod(secrets, stat.S_IRUSR | stat.S_IWUSR)
    with pytest.raises(CredentialsError) as err:
        load_credentials(Venue.BINANCE, env={}, secrets_file=secrets)
    assert str(secrets) in str(err.value) and "sup3rs3cret" not in str(err.value)


def test_a_refused_key_rejects_orders_as_not_authorised(htx):
    client = live_execution_client(
        Venue.HUOBI, default_registry(), ApiCredentials(Venue.HUOBI, KEY, "not-the-secret"), base_url=htx.url,
        poll_interval=0.05, timeout=1.0, rate_limit_ms=1,
    )  # fmt: skip
    s = Session(client)
    try:
        s.send(submit("h-x", HTX_BTC, 1_000, 3_000_000))
        s.wait_for(lambda ev: bool(s.of(VenueReject)))
    finally:
        client.close()
    [reject] = s.of(VenueReject)
    assert reject.reason is RejectReason.NOT_AUTHORISED and "Verification failure" in reject.message
    assert not htx.orders


def test_full_order_flows_log_neither_key_nor_secret(spot, htx, session_factory, caplog):
    caplog.set_level(logging.DEBUG)  # every logger: ccxt's request dumps, urllib3's URLs, ours
    spot.inject("POST", "/api/v3/order", Fault(429, {"code": -1003, "msg": "Too many requests."}))
    spot.inject("GET", "/api/v3/openOrders", Fault(hang=1.0))  # a timeout: the exception text carries the URL
    b = session_factory(Venue.BINANCE, spot.url, timeout=0.4)
    h = session_factory(Venue.HUOBI, htx.url, timeout=0.4)
    b.send(submit("log-1", SPOT_BTC, 100_000, 6_000_000))
    h.send(submit("log-2", HTX_BTC, 10_000, 3_000_000))
    b.wait_for(lambda ev: bool(b.of(VenueAck)))
    h.wait_for(lambda ev: bool(h.of(VenueAck)))
    spot.fill("log-1", "0.0005")
    htx.fill("log-2", "0.005")
    b.wait_for(lambda ev: bool(b.of(VenueFill)), timeout=8.0)
    h.wait_for(lambda ev: bool(h.of(VenueFill)))
    for s, iid in ((b, SPOT_BTC), (h, HTX_BTC)):
        s.send(cancel("log-1" if s is b else "log-2", iid))
        s.send(cancel("unknown-1", iid))  # an error path
        s.send(VenueQuery(fills_since_ns=0))
        s.wait_for(lambda ev, s=s: bool(s.of(VenueSnapshot)))

    logged = caplog.text + "".join(str(r.exc_text or "") for r in caplog.records)
    messages = " ".join(getattr(e, "message", "") + getattr(e, "reason", "") for s in (b, h) for e in s.events)
    assert "X-MBX-APIKEY" in logged and "AccessKeyId=" in logged  # headers and URLs were logged ...
    for secret in (KEY, SECRET):
        assert secret not in logged and secret not in messages  # ... with the key and secret taken out
    assert logged.count("<redacted>") >= 2
