"""CURVE on the order channel: allowed keys get through; no CURVE or an unknown key gets nothing; key files."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
import zmq

from jtrader.bus.auth import (
    ClientCurve,
    CurveError,
    ServerCurve,
    authorise_client,
    generate_keys,
    keys_command,
    load_keypair,
    load_public_key,
)
from jtrader.bus.messages import MarketData, encode
from jtrader.bus.transport import BusConfigError, CommandClient, CommandServer, Publisher, Subscriber
from tests.bus.builders import ack, counter, submit, trade, wait_until, warm_up

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    keys_command(directory, echo=lambda _line: None)
    generate_keys(tmp_path / "rogue", ["rogue"])
    return directory


def curve_server(ctx, closing, registry, keys: Path, name: str = "oms") -> CommandServer:
    server = CommandServer(
        ctx,
        "tcp://127.0.0.1:*",
        name=name,
        registry=registry,
        curve=ServerCurve(keys / "server.key_secret", keys / "allowed_clients"),
    )
    closing.append(server)
    return server


def test_authorised_client_submits_and_gets_the_reply(ctx, closing, registry, keys) -> None:
    server = curve_server(ctx, closing, registry, keys)
    client = CommandClient(
        ctx, server.endpoint, registry=registry, curve=ClientCurve(keys / "client.key_secret", keys / "server.key")
    )
    closing.append(client)
    assert client.send(submit(), timeout_ms=5000)
    client_id, order = server.recv(5000)
    assert order == submit()
    assert server.send(client_id, ack(order))
    assert client.recv(5000) == ack(order)


def raw_dealer(ctx, closing, server: CommandServer, curve: ClientCurve | None):
    """A DEALER without IMMEDIATE, so its messages queue and are pushed as soon as a handshake would succeed."""
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    if curve is not None:
        curve.apply(sock)
    sock.connect(server.endpoint)
    closing.append(sock)
    return sock


def assert_nothing_gets_through(server: CommandServer, sock) -> None:
    for i in range(3):
        sock.send_multipart([b"submit", *encode(submit(cid=f"x{i}"))])
    assert server.recv(1000) is None
    assert sock.poll(300) == 0
    assert server.live_clients() == []


def test_client_without_curve_gets_nothing_and_server_sees_nothing(ctx, closing, registry, keys) -> None:
    server = curve_server(ctx, closing, registry, keys)
    sock = raw_dealer(ctx, closing, server, None)
    assert_nothing_gets_through(server, sock)
    bus_client = CommandClient(ctx, server.endpoint, name="plain", registry=registry, allow_insecure=True)
    closing.append(bus_client)
    assert bus_client.send(submit(), timeout_ms=300) is False  # no handshake, so nothing is even queued


def test_client_with_a_key_not_in_the_allowed_dir_gets_nothing_and_is_counted(
    ctx, closing, registry, keys, tmp_path
) -> None:
    server = curve_server(ctx, closing, registry, keys)
    rogue = ClientCurve(tmp_path / "rogue" / "rogue.key_secret", keys / "server.key")
    sock = raw_dealer(ctx, closing, server, rogue)
    assert_nothing_gets_through(server, sock)
    wait_until(lambda: counter(registry, "rejects", component="oms", reason="not_authorised") >= 1)


def test_client_pinning_the_wrong_server_key_gets_nothing(ctx, closing, registry, keys, tmp_path) -> None:
    server = curve_server(ctx, closing, registry, keys)
    confused = ClientCurve(keys / "client.key_secret", tmp_path / "rogue" / "rogue.key")
    assert_nothing_gets_through(server, raw_dealer(ctx, closing, server, confused))


def test_client_key_authorised_after_start_is_accepted_after_reload(ctx, closing, registry, keys, tmp_path) -> None:
    server = curve_server(ctx, closing, registry, keys)
    rogue = ClientCurve(tmp_path / "rogue" / "rogue.key_secret", keys / "server.key")
    authorise_client(tmp_path / "rogue" / "rogue.key", keys / "allowed_clients")
    server.reload_allowed_clients()
    client = CommandClient(ctx, server.endpoint, registry=registry, curve=rogue)
    closing.append(client)
    assert client.send(submit(), timeout_ms=5000)
    assert server.recv(5000)[1] == submit()


def test_two_curve_servers_in_one_context_accept_only_their_own_clients(ctx, closing, registry, keys, tmp_path) -> None:
    other_keys = tmp_path / "other"
    keys_command(other_keys, echo=lambda _line: None)
    first = curve_server(ctx, closing, registry, keys, name="first")
    second = curve_server(ctx, closing, registry, other_keys, name="second")
    # the client of the first server, pointed at the second with the second's server key: refused there
    crossing = ClientCurve(keys / "client.key_secret", other_keys / "server.key")
    assert_nothing_gets_through(second, raw_dealer(ctx, closing, second, crossing))
    own = CommandClient(
        ctx, first.endpoint, registry=registry, curve=ClientCurve(keys / "client.key_secret", keys / "server.key")
    )
    closing.append(own)
    assert own.send(submit(), timeout_ms=5000)
    assert first.recv(5000)[1] == submit()


def test_market_data_can_be_curve_protected_too(ctx, closing, registry, keys) -> None:
    pub = Publisher(
        ctx,
        "tcp://127.0.0.1:*",
        registry=registry,
        curve=ServerCurve(keys / "server.key_secret", keys / "allowed_clients"),
    )
    closing.append(pub)
    sub = Subscriber(
        ctx, pub.endpoint, [b"md."], MarketData, registry=registry,
        curve=ClientCurve(keys / "client.key_secret", keys / "server.key"),
    )  # fmt: skip
    closing.append(sub)
    assert warm_up(lambda: pub.publish(b"md.t", trade()), lambda: sub.recv(10)) == (b"md.t", trade())


def test_curve_sides_are_checked(ctx, keys) -> None:
    server_curve = ServerCurve(keys / "server.key_secret", keys / "allowed_clients")
    with pytest.raises(BusConfigError, match="binding side"):
        Subscriber(ctx, "tcp://127.0.0.1:5999", [b""], MarketData, curve=server_curve)


# -- key files ------------------------------------------------------------------------------


def test_generated_secret_files_are_private_and_public_files_hold_no_secret(tmp_path) -> None:
    files = generate_keys(tmp_path / "k", ["server", "client", "ops-1"])
    for pair in files.values():
        assert stat.S_IMODE(pair.secret.stat().st_mode) == 0o600
        assert b"secret-key" not in pair.public.read_bytes()
        public, secret = load_keypair(pair.secret)
        assert load_public_key(pair.public) == public and len(secret) == 40
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o700
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == sorted(
        f"{n}{ext}" for n in ("server", "client", "ops-1") for ext in (".key", ".key_secret")
    )


def test_existing_keys_are_never_overwritten_unless_asked(tmp_path) -> None:
    first = generate_keys(tmp_path, ["server"])
    before = first["server"].secret.read_bytes()
    with pytest.raises(CurveError, match="already exist"):
        generate_keys(tmp_path, ["server"])
    assert first["server"].secret.read_bytes() == before
    generate_keys(tmp_path, ["server"], overwrite=True)
    assert first["server"].secret.read_bytes() != before


def test_secret_file_readable_by_others_is_refused(tmp_path) -> None:
    pair = generate_keys(tmp_path, ["client"])["client"]
    os.chmod(pair.secret, 0o644)
    with pytest.raises(CurveError, match="chmod 600"):
        load_keypair(pair.secret)


def test_missing_key_file_and_public_file_as_secret_are_refused_with_a_hint(tmp_path) -> None:
    with pytest.raises(CurveError, match="jtrader keys"):
        load_keypair(tmp_path / "nope.key_secret")
    pair = generate_keys(tmp_path, ["client"])["client"]
    with pytest.raises(CurveError, match="only a public key"):
        load_keypair(pair.public)
    (tmp_path / "junk.key").write_text("hello\n")
    with pytest.raises(CurveError, match="not a CURVE certificate"):
        load_public_key(tmp_path / "junk.key")


def test_authorising_a_secret_file_is_refused(tmp_path) -> None:
    pair = generate_keys(tmp_path, ["client"])["client"]
    with pytest.raises(CurveError, match="secret key"):
        authorise_client(pair.secret, tmp_path / "allowed")


def test_missing_or_empty_allowed_dir_is_refused(tmp_path) -> None:
    pair = generate_keys(tmp_path, ["server"])["server"]
    with pytest.raises(CurveError, match="does not exist"):
        ServerCurve(pair.secret, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CurveError, match=r"no \.key file"):
        ServerCurve(pair.secret, tmp_path / "empty")


def test_bad_key_name_is_refused(tmp_path) -> None:
    with pytest.raises(CurveError, match="key name"):
        generate_keys(tmp_path, ["../evil"])


def test_keys_command_prints_paths_and_never_key_material(tmp_path, caplog) -> None:
    lines: list[str] = []
    files = keys_command(tmp_path / "k", echo=lines.append)
    secrets = [load_keypair(pair.secret) for pair in files.values()]
    text = "\n".join(lines)
    assert str(files["server"].secret) in text and "allowed_clients" in text
    for public, secret in secrets:
        assert public.decode() not in text and secret.decode() not in text
    server = ServerCurve(files["server"].secret, tmp_path / "k" / "allowed_clients")
    client = ClientCurve(files["client"].secret, files["server"].public)
    for _public, secret in secrets:
        assert secret.decode() not in repr(server) + repr(client)


def test_refused_handshakes_log_no_key_material(ctx, closing, registry, keys, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server = curve_server(ctx, closing, registry, keys)
    rogue_pair = load_keypair(tmp_path / "rogue" / "rogue.key_secret")
    rogue = ClientCurve(tmp_path / "rogue" / "rogue.key_secret", keys / "server.key")
    raw_dealer(ctx, closing, server, rogue)
    wait_until(lambda: counter(registry, "rejects", component="oms", reason="not_authorised") >= 1)
    assert "refused" in caplog.text
    for key in (*rogue_pair, *load_keypair(keys / "server.key_secret"), *load_keypair(keys / "client.key_secret")):
        assert key.decode() not in caplog.text


def test_curve_objects_from_keys_work_without_files(ctx, closing, registry, keys) -> None:
    server_pub, server_sec = load_keypair(keys / "server.key_secret")
    client_pub, client_sec = load_keypair(keys / "client.key_secret")
    server = CommandServer(
        ctx, "tcp://127.0.0.1:*", registry=registry,
        curve=ServerCurve.from_keys(server_pub, server_sec, keys / "allowed_clients"),
    )  # fmt: skip
    closing.append(server)
    client = CommandClient(
        ctx, server.endpoint, registry=registry, curve=ClientCurve.from_keys(client_pub, client_sec, server_pub)
    )
    closing.append(client)
    assert client.send(submit(), timeout_ms=5000)
    assert server.recv(5000)[1] == submit()
    assert server_sec.decode() not in repr(server.curve) and client_sec.decode() not in repr(client)
