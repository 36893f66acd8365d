"""``jtrader run --mode live``: refused clearly without keys or venue, and wired to ccxt order entry when set up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jtrader.bus.messages import SubmitOrder
from jtrader.cli import app
from jtrader.config import load_settings
from jtrader.domain import OrderStatus, OrderType, Side, Venue
from jtrader.gateways.ccxt_execution import CcxtExecutionClient
from jtrader.live.config import parse_run_config
from jtrader.live.oms_node import OmsNode
from tests.gateways.execution.builders import SPOT_BTC
from tests.gateways.execution.emulators import KEY, SECRET

CREDENTIAL_VARS = ("BINANCE_API_KEY", "BINANCE_API_SECRET", "HTX_API_KEY", "HTX_API_SECRET", "VENUE_SECRETS_FILE")


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _run(config: Path, mode: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--mode", mode])
    return result.exit_code, " ".join(result.output.split())  # unwrap the console's line breaks


def test_live_run_without_api_keys_stops_before_starting_and_names_the_variables(desk):
    config = desk / "live.toml"
    config.write_text('[run]\nmode = "live"\nrun_dir = "run"\n\n[live]\nvenue = "binance_usdm"\n')
    code, output = _run(config, "live")

    assert code == 2
    assert "BINANCE_API_KEY" in output and "BINANCE_API_SECRET" in output and "live.secrets_file" in output
    assert not (desk / "run").exists()  # no desk process was started


def test_live_flag_on_a_paper_config_and_paper_flag_on_a_live_config_are_refused(desk):
    paper, live = desk / "paper.toml", desk / "live.toml"
    paper.write_text('[run]\nrun_dir = "run"\n')
    live.write_text('[run]\nmode = "live"\nrun_dir = "run"\n\n[live]\nvenue = "binance"\n')

    code, output = _run(paper, "live")
    assert code == 2 and "run.mode = 'paper'" in output
    code, output = _run(live, "paper")
    assert code == 2 and "run.mode = 'live'" in output


def test_live_run_on_bitmex_says_the_exchange_closed(desk, monkeypatch):
    monkeypatch.setenv("BITMEX_API_KEY", "k")
    monkeypatch.setenv("BITMEX_API_SECRET", "s")
    config = desk / "live.toml"
    config.write_text('[run]\nmode = "live"\nrun_dir = "run"\n\n[live]\nvenue = "bitmex"\n')
    code, output = _run(config, "live")

    assert code == 2 and "ceased operations on 2026-09-23" in output


def test_live_config_wires_ccxt_order_entry_into_the_oms(desk, spot, monkeypatch):
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    config = parse_run_config({
        "run": {"mode": "live", "run_dir": "run"},
        "live": {"venue": "binance", "base_url": spot.url, "poll_interval_s": 0.05, "timeout_s": 2.0},
        "oms": {"metrics_port": 0, "account_id": "live-1"},
        "risk": {"no_reference": "allow"},  # no market data in this test
    })  # fmt: skip
    node = OmsNode(config, load_settings(env={}, toml_path=None, root=desk))
    node.start()
    try:
        assert isinstance(node.venue, CcxtExecutionClient) and node.venue.venue is Venue.BINANCE
        assert node.oms.routes == {Venue.BINANCE: "binance"}
        submit = SubmitOrder(
            client_order_id="desk-1",
            instrument_id=SPOT_BTC,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            quantity_lots=100_000,
            price_ticks=6_000_000,
        )
        node._send(node.oms.on_command(submit, b"strategy-host"))
        deadline = time.monotonic() + 5
        while node.oms.order("desk-1").status is not OrderStatus.ACKED and time.monotonic() < deadline:
            node.poller.poll(20)
            node.venue.drain(64)
            for event in node._venue_events:
                node._send(node.oms.on_venue_event(event, Venue.BINANCE))
            node._venue_events = []
    finally:
        for closable in (node.server, node.state, node.market_data, node.venue):
            closable.close()
        node.oms.journal.close()

    order = node.oms.order("desk-1")
    assert order.status is OrderStatus.ACKED and order.venue_order_id == str(spot.order("desk-1").order_id)
    assert spot.calls("GET", "/api/v3/account")  # the start-up VenueQuery reached the venue
    assert spot.calls("POST", "/api/v3/order")[0].params["newClientOrderId"] == "desk-1"
