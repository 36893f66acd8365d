"""The venue process and its OMS-side client over real sockets: ipc, tcp with CURVE, reconnects, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import zmq

from jtrader.bus.auth import ClientCurve, authorise_client, generate_keys
from jtrader.bus.messages import (
    RejectReason,
    RequestKind,
    VenueAck,
    VenueCancelled,
    VenueQuery,
    VenueReject,
    VenueSnapshot,
)
from jtrader.bus.transport import Poller
from jtrader.config import load_settings
from jtrader.domain import BookSnapshot, OrderStatus, Quote, Trade
from jtrader.gateways.base import ExecutionClient, MarketDataClient
from jtrader.gateways.sim import (
    RECORD_FILE,
    SimExecutionClient,
    SimMarketConfig,
    SimMarketDataClient,
    SimVenueConfig,
    SimVenueNode,
    SimVenueServer,
    read_record,
    serve,
)
from tests.gateways.sim.builders import BUY, CAPTURE, SELL, SIM_BTC, cancel, kinds, submit

pytestmark = pytest.mark.timeout(120)

BTC = SIM_BTC.id
MARKET = SimMarketConfig(mirror="BTCUSDT.binance_usdm")


@pytest.fixture
def ctx() -> Iterator[zmq.Context[Any]]:
    """A client-side context, terminated at teardown (sockets are closed by the tests' ``with`` blocks)."""
    context: zmq.Context[Any] = zmq.Context()
    yield context
    context.destroy(linger=0)


@contextmanager
def running(config: SimVenueConfig) -> Iterator[SimVenueServer]:
    """Serve ``config`` in a thread (its own context); stop and join it on exit."""
    stop, ready = threading.Event(), threading.Event()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            serve(config, stop, ready=lambda server: (box.setdefault("server", server), ready.set()))
        except BaseException as exc:  # surfaced to the test below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=target, name="sim-venue", daemon=True)
    thread.start()
    assert ready.wait(60), "the venue did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield box["server"]
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), "the venue did not stop"


@contextmanager
def client(ctx: zmq.Context[Any], endpoint: str, events: list, **kwargs: Any) -> Iterator[SimExecutionClient]:
    kwargs.setdefault("allow_insecure", True)
    c = SimExecutionClient(ctx, endpoint, heartbeat_interval=0.1, **kwargs)
    c.connect(events.append)
    try:
        yield c
    finally:
        c.close()


def wait_for(clients: list[SimExecutionClient], done: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in clients:
            c.wait(20)
        if done():
            return
    raise AssertionError("timed out waiting for venue events")


def ipc(tmp_path: Path, name: str) -> str:
    return f"ipc://{tmp_path / name}.sock"


def test_oms_clients_over_ipc_submit_trade_cancel_and_see_public_data(ctx, tmp_path: Path) -> None:
    config = SimVenueConfig(
        markets=(MARKET,), command_endpoint=ipc(tmp_path, "venue"), publish_endpoint=ipc(tmp_path, "md"),
        allow_insecure=True, snapshot_interval_s=0.1,
    )  # fmt: skip
    a_events: list = []
    b_events: list = []
    md_events: list = []
    with (
        running(config) as server,
        client(ctx, server.command_endpoint, a_events, identity=b"oms-a") as a,
        client(ctx, server.command_endpoint, b_events, identity=b"oms-b") as b,
    ):
        md = SimMarketDataClient(ctx, server.publish_endpoint)
        try:
            assert isinstance(a, ExecutionClient) and isinstance(md, MarketDataClient)
            md.subscribe([BTC], md_events.append)
            poller = Poller(a, b, md)  # the OMS node's way: one poller over every socket
            deadline = time.monotonic() + 15
            while not any(isinstance(e, BookSnapshot) for e in md_events):  # the subscription is live
                assert time.monotonic() < deadline
                poller.poll(50)
                md.poll()
            a.send(submit("s1", SELL, 2, 600_000, instrument=BTC, account_id="paper-a"))
            wait_for([a], lambda: len(a_events) == 1)
            b.send(submit("b1", BUY, 2, instrument=BTC, account_id="paper-b"))
            # two sockets: the venue may see a's cancel before b's buy unless we wait for the fill first
            wait_for([a, b], lambda: len(a_events) == 2 and len(b_events) == 2)
            a.send(cancel("s1", BTC))
            wait_for([a, b], lambda: len(a_events) == 3)
            assert kinds(b_events) == ["VenueAck", "VenueFill"]
            assert kinds(a_events) == ["VenueAck", "VenueFill", "VenueReject"]
            assert a_events[1].fill.account_id == "paper-a" and b_events[1].fill.account_id == "paper-b"
            assert (a_events[2].reason, a_events[2].request) == (RejectReason.ORDER_NOT_OPEN, RequestKind.CANCEL)
            deadline = time.monotonic() + 15
            while not any(isinstance(e, Trade) for e in md_events):
                assert time.monotonic() < deadline
                poller.poll(50)
                md.poll()
            trade = next(e for e in md_events if isinstance(e, Trade))
            assert (trade.instrument_id, trade.price_ticks, trade.size_lots, trade.aggressor) == (BTC, 600_000, 2, BUY)
            assert server.account_of(b"oms-a") == "paper-a"
        finally:
            md.close()


def test_curve_client_over_tcp_loopback_trades_and_a_client_without_keys_gets_nothing(ctx, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    files = generate_keys(keys, ["server", "client"])
    authorise_client(files["client"].public, keys / "allowed_clients")
    config = SimVenueConfig(
        markets=(MARKET,), command_endpoint="tcp://127.0.0.1:*", publish_endpoint="tcp://127.0.0.1:*",
        curve_secret_key=str(files["server"].secret), allowed_clients_dir=str(keys / "allowed_clients"),
    )  # fmt: skip
    events: list = []
    rogue_events: list = []
    curve = ClientCurve(files["client"].secret, files["server"].public)
    with running(config) as server:
        assert server.command_endpoint.startswith("tcp://127.0.0.1:")
        with (
            client(ctx, server.command_endpoint, events, curve=curve, allow_insecure=False) as oms,
            client(ctx, server.command_endpoint, rogue_events, identity=b"rogue") as rogue,
        ):
            oms.send(submit("c1", BUY, 2, 599_000, instrument=BTC, account_id="paper"))
            oms.send(cancel("c1", BTC))
            rogue.send(submit("r1", BUY, 2, 599_000, instrument=BTC, account_id="rogue"))
            wait_for([oms, rogue], lambda: len(events) == 2)
            # venue order ids carry the venue session (its start time), then the counter
            assert isinstance(events[0], VenueAck) and events[0].client_order_id == "c1"
            assert events[0].venue_order_id.endswith(".1")
            assert isinstance(events[1], VenueCancelled)
            rogue.wait(300)
            assert rogue_events == []
        assert [o.client_order_id for o in server.record().orders] == ["c1"]


@pytest.mark.parametrize("kept", [100, 0], ids=["kept_events_delivered", "recovered_by_query_only"])
def test_reconnecting_oms_with_the_same_identity_recovers_the_fills_it_missed(ctx, tmp_path: Path, kept: int) -> None:
    config = SimVenueConfig(
        markets=(MARKET,), command_endpoint=ipc(tmp_path, "venue"), publish_endpoint=ipc(tmp_path, "md"),
        allow_insecure=True, max_pending_events=kept,
    )  # fmt: skip
    first: list = []
    other: list = []
    with running(config) as server, client(ctx, server.command_endpoint, other, identity=b"other") as taker:
        with client(ctx, server.command_endpoint, first) as oms:  # the default identity: b"oms"
            oms.send(submit("s1", SELL, 4, 600_000, instrument=BTC, account_id="paper"))
            wait_for([oms], lambda: len(first) == 1)
        time.sleep(0.3)  # the OMS is gone (killed): let the venue see its pipe close
        taker.send(submit("b1", BUY, 3, instrument=BTC, account_id="other"))
        wait_for([taker], lambda: kinds(other) == ["VenueAck", "VenueFill"])
        fill_ts = other[1].fill.ts_event

        second: list = []
        with client(ctx, server.command_endpoint, second) as oms:
            if kept:  # the venue kept the fill and delivers it once the OMS is heard again
                wait_for([oms], lambda: kinds(second) == ["VenueFill"])
                assert second[0].fill.client_order_id == "s1"
                # the venue thread may send before it updates its count: wait for it, don't sample it
                wait_for([oms], lambda: server.pending("paper") == 0)
            oms.send(VenueQuery(fills_since_ns=fill_ts))
            wait_for([oms], lambda: any(isinstance(e, VenueSnapshot) for e in second))
        snapshot = next(e for e in second if isinstance(e, VenueSnapshot))
        assert [(f.client_order_id, f.size_lots, f.account_id) for f in snapshot.fills] == [("s1", 3, "paper")]
        ((state),) = snapshot.open_orders
        assert (state.client_order_id, state.filled_lots, state.status) == ("s1", 3, OrderStatus.PARTIALLY_FILLED)
        assert snapshot.balances["BTCUSDT.sim"] < 0


def test_client_keeps_commands_until_the_venue_is_up_then_sends_them_in_order(ctx, tmp_path: Path) -> None:
    config = SimVenueConfig(
        markets=(MARKET,), command_endpoint=ipc(tmp_path, "venue"), publish_endpoint=ipc(tmp_path, "md"),
        allow_insecure=True,
    )  # fmt: skip
    events: list = []
    with client(ctx, config.command_endpoint, events) as oms:
        oms.send(submit("c1", BUY, 2, 599_000, instrument=BTC, account_id="paper"))
        oms.send(submit("c1", BUY, 2, 599_000, instrument=BTC, account_id="paper"))  # a retry: deduplicated
        oms.send(cancel("c1", BTC))
        assert oms.outbox == 3
        with running(config):
            wait_for([oms], lambda: len(events) == 3)
        assert kinds(events) == ["VenueAck", "VenueAck", "VenueCancelled"]
        assert oms.outbox == 0


def test_venue_process_serves_a_replayed_market_and_writes_its_record_on_sigterm(ctx, tmp_path: Path) -> None:
    data = Path(os.environ.get("JTRADER_DATA_PATH") or Path(__file__).resolve().parents[3] / ".." / "shared" / "data")
    record = tmp_path / "record.json"
    (tmp_path / "sim.toml").write_text(
        f"""
command_endpoint = "{ipc(tmp_path, "venue")}"
publish_endpoint = "{ipc(tmp_path, "md")}"
allow_insecure = true
speed = 0
record_path = "{record}"

[[markets]]
mirror = "BTCUSDT.binance_usdm"
[markets.replay]
capture_files = ["{(data / CAPTURE).resolve()}"]
max_lines = 2000
"""
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jtrader.gateways.sim",
            "--config",
            str(tmp_path / "sim.toml"),
            "--log-level",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    events: list = []
    try:
        with client(ctx, ipc(tmp_path, "venue"), events) as oms:
            oms.send(submit("m1", BUY, 5, instrument=BTC, account_id="paper"))  # waits in the outbox until it is up
            wait_for([oms], lambda: len(events) >= 2, timeout=90)
            assert kinds(events)[:2] == ["VenueAck", "VenueFill"]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    saved = read_record(record)
    assert [(o.client_order_id, o.status) for o in saved.orders] == [("m1", OrderStatus.FILLED)]
    assert sum(f.size_lots for f in saved.fills) == 5 and saved.net_positions("paper") == {"BTCUSDT.sim": 5}


def test_venue_node_of_a_desk_run_uses_its_endpoints_keys_capture_and_record(
    ctx, tmp_path: Path, sample_data_dir: Path
) -> None:
    settings = load_settings(env={}, toml_path=None, root=tmp_path, data_path=sample_data_dir)
    endpoints = SimpleNamespace(venue_commands=ipc(tmp_path, "venue"), venue_market_data=ipc(tmp_path, "venue-md"))
    run_config = SimpleNamespace(
        run=SimpleNamespace(run_dir="run", keys_dir="keys"),
        venue=SimpleNamespace(capture=str(CAPTURE), mirror="BTCUSDT.binance_usdm", speed=0.0, loop=True, max_lines=0),
        endpoints=lambda root: endpoints,
    )
    node = SimVenueNode.from_run_config(run_config, settings)
    assert node.config.record_path == str(tmp_path / "run" / RECORD_FILE)
    node.start()
    thread = threading.Thread(target=node.run, daemon=True)
    thread.start()
    events: list = []
    md_events: list = []
    curve = ClientCurve(tmp_path / "keys" / "client.key_secret", tmp_path / "keys" / "server.key")
    try:
        md = SimMarketDataClient(ctx, endpoints.venue_market_data)
        try:
            md.subscribe([BTC], md_events.append)
            with client(ctx, endpoints.venue_commands, events, curve=curve, allow_insecure=False) as oms:
                oms.send(submit("b1", BUY, 2, 500_000, instrument=BTC, account_id="paper"))
                wait_for([oms], lambda: len(events) == 1)
                deadline = time.monotonic() + 30
                while not {Quote, Trade} <= {type(e) for e in md_events}:  # the looped replay keeps publishing
                    assert time.monotonic() < deadline
                    md.socket.poll(50)
                    md.poll()
        finally:
            md.close()
    finally:
        node.stop()
        thread.join(15)
    assert not thread.is_alive()
    assert isinstance(events[0], VenueAck) and not isinstance(events[0], VenueReject)
    saved = read_record(tmp_path / "run" / RECORD_FILE)
    assert [(o.client_order_id, o.status) for o in saved.orders] == [("b1", OrderStatus.ACKED)]
