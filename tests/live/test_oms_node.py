"""The OMS process in-process beside a simulated venue: /health, /metrics, the SQL snapshot and journal checkpoints."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import zmq

from jtrader.bus.auth import ClientCurve
from jtrader.bus.messages import ExecutionReport, OrderRejected, Report, SubmitOrder
from jtrader.bus.transport import CommandClient
from jtrader.config import load_settings
from jtrader.domain import InstrumentId, OrderStatus, OrderType, Side
from jtrader.gateways.sim import SimVenueNode
from jtrader.live.config import parse_run_config
from jtrader.live.keys import ensure_keys
from jtrader.live.oms_node import OmsNode
from jtrader.live.venues import build_registry
from jtrader.oms import OmsEngine, journal_files
from jtrader.risk import RiskEngine

BTC = InstrumentId.parse("BTCUSDT.sim")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except urllib.error.URLError:
        return 0, b""


def wait_for(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def order(cid: str, instrument: InstrumentId = BTC) -> SubmitOrder:
    # 50,000.0: far below the replayed market, so it rests and is only acknowledged
    return SubmitOrder(
        client_order_id=cid, instrument_id=instrument, side=Side.BUY, order_type=OrderType.LIMIT,
        quantity_lots=2, price_ticks=500_000, strategy_id="t",
    )  # fmt: skip


@pytest.mark.slow
def test_oms_node_is_healthy_after_reconciling_and_exposes_order_and_reject_counters(tmp_path, sample_data_dir):
    port = free_port()
    run_dir = tmp_path / "run"
    data = {
        "run": {"name": "health", "run_dir": str(run_dir), "keys_dir": str(tmp_path / "keys"), "transport": "ipc"},
        "venue": {"capture": "binance/usdm/btcusdt_20240808.gz", "mirror": "BTCUSDT.binance_usdm", "speed": 1.0},
        "oms": {
            "metrics_port": port,
            "snapshot_interval_s": 0.2,
            "on_shutdown": "keep",
            "checkpoint_every_records": 4,
            "checkpoint_every_bytes": 0,
            "journal_keep_segments": 0,
        },
        "risk": {"no_reference": "allow", "self_trade_prevention": False},
    }
    config = parse_run_config(data)
    settings = load_settings(env={}, toml_path=None, root=tmp_path, data_path=sample_data_dir, log_level="WARNING")
    run_dir.mkdir()
    venue = SimVenueNode.from_run_config(config, settings)
    venue.start()
    venue_thread = threading.Thread(target=venue.run, daemon=True)
    venue_thread.start()
    node = OmsNode(config, settings)
    node.start()
    node_thread = threading.Thread(target=node.run, daemon=True)
    node_thread.start()
    ctx: zmq.Context[Any] = zmq.Context()
    client = None
    try:

        def healthy() -> dict[str, Any] | None:
            status, body = get(port, "/health")
            return json.loads(body) if status == 200 else None

        health = wait_for(healthy, "/health to say ok")
        assert health["ok"] and health["reconciled"] and not health["killed"]
        assert health["reconcile_differences"] == 0 and health["balance_differences"] == 0  # a fresh start agrees

        keys = ensure_keys(tmp_path / "keys")
        client = CommandClient(
            ctx, config.endpoints(tmp_path).oms_commands, Report, name="test", identity=b"test-host",
            curve=ClientCurve(keys.client_secret, keys.server_public),
        )  # fmt: skip
        reports: list[Any] = []
        for cid in ("h1", "h2", "h3"):
            assert client.send(order(cid), timeout_ms=1000)
        assert client.send(order("bad", InstrumentId.parse("NOPE.sim")), timeout_ms=1000)

        def answered() -> bool:
            while (report := client.recv(0)) is not None:
                reports.append(report)
            acked = {
                r.client_order_id for r in reports if isinstance(r, ExecutionReport) and r.status is OrderStatus.ACKED
            }
            return acked == {"h1", "h2", "h3"} and any(isinstance(r, OrderRejected) for r in reports)

        wait_for(answered, "three acks and one rejection")
        (rejected,) = [r for r in reports if isinstance(r, OrderRejected)]
        assert rejected.client_order_id == "bad" and rejected.reason.value == "unknown_instrument"

        def metrics() -> str:
            status, body = get(port, "/metrics")
            assert status == 200
            return body.decode()

        def gauges_set() -> str:
            text = metrics()
            return text if "jtrader_oms_open_orders 3.0" in text else ""

        text = wait_for(gauges_set, "the snapshot gauges")
        assert 'jtrader_oms_events_total{event="orders_accepted"} 3.0' in text
        assert 'jtrader_oms_events_total{event="rejected.unknown_instrument"} 1.0' in text
        assert 'jtrader_oms_inputs_total{kind="SubmitOrder"} 4.0' in text

        # the journal was checkpointed and rotated as configured, and /health says where it is
        def checkpointed() -> bool:
            return json.loads(get(port, "/health")[1])["journal_segment"] >= 1

        wait_for(checkpointed, "a checkpoint")
        assert journal_files(run_dir / "oms.journal").checkpoints
        # the SQL store got the orders from the incremental snapshot
        from jtrader.storage.sql import SqlStore

        def stored() -> list[str]:
            with SqlStore.from_settings(settings) as store:
                return sorted(o.client_order_id for o in store.open_orders(config.oms.account_id))

        wait_for(lambda: stored() == ["h1", "h2", "h3"], "the three open orders in the SQL store")
    finally:
        if client is not None:
            client.close()
        node.stop()
        node_thread.join(30)
        venue.stop()
        venue_thread.join(30)
        ctx.term()
    assert not node_thread.is_alive()
    # a restart recovers the same orders from the checkpoint and the segment after it
    registry = build_registry(config)
    recovered = OmsEngine.from_journal(
        run_dir / "oms.journal", registry, RiskEngine(config.risk, registry), time.time_ns, config.oms.account_id
    )
    assert recovered.recovery is not None and recovered.recovery.checkpoint
    assert sorted(o.client_order_id for o in recovered.open_orders()) == ["h1", "h2", "h3"]
    assert not (run_dir / "oms.journal").exists()  # segment 0 was pruned (journal_keep_segments = 0)
