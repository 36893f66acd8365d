"""The desk end to end: orders through the bus, risk-checked and journaled by the OMS, acknowledged by the venue.

For ipc and tcp (CURVE-authenticated, loopback), a client stands in for a
strategy host against a real desk (`jtrader run`'s three processes: simulated
venue, OMS, strategy host with no strategies):

- ack latency p50/p99 at 1,000 and 10,000 orders/s offered: from sending ``SubmitOrder``
  to receiving the OMS's ``ExecutionReport(ACKED)``, which needs the OMS's
  risk check, journal flush, the venue's acknowledgement and the report back;
- throughput: orders acknowledged per second when offered as fast as possible.

Baseline: the raw pyzmq DEALER/ROUTER round trip (100-byte frames, an echo
process), measured in the same run. The orders rest far below the market so
the venue only acknowledges them.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import zmq
from rich.console import Console

from bench.bus import _percentiles, raw_round_trip
from jtrader.bus.auth import ClientCurve
from jtrader.bus.messages import ExecutionReport, Report, SubmitOrder
from jtrader.bus.transport import CommandClient
from jtrader.config import Settings, load_settings
from jtrader.domain import InstrumentId, OrderStatus, OrderType, Side
from jtrader.live.config import parse_run_config
from jtrader.live.ctl import ControlTimeout, send_control
from jtrader.live.keys import ensure_keys
from jtrader.live.supervisor import Supervisor

OFFERED_PER_S = 10_000
PACED_SECONDS = 2.0
BLAST_ORDERS = 20_000
BTC = InstrumentId.parse("BTCUSDT.sim")
PRICE_TICKS = 500_000  # 50,000.0: far below the replayed market, so orders rest and are only acknowledged


def _desk(run_dir: Path, transport: str) -> dict[str, Any]:
    return {
        "run": {"name": f"bench-{transport}", "run_dir": str(run_dir), "transport": transport, "base_port": 47300},
        "venue": {"capture": "binance/usdm/btcusdt_20240808.gz", "speed": 1.0},
        "oms": {"metrics_port": 0, "snapshot_interval_s": 0, "on_shutdown": "keep", "journal_fsync": "batch"},
        "risk": {"no_reference": "allow", "self_trade_prevention": False},
        "strategies": [],
    }


def _submit(n: int) -> SubmitOrder:
    return SubmitOrder(
        client_order_id=f"b-{n}", instrument_id=BTC, side=Side.BUY, order_type=OrderType.LIMIT,
        quantity_lots=2, price_ticks=PRICE_TICKS, strategy_id="b", ts=time.time_ns(),
    )  # fmt: skip


def _measure(client: CommandClient, count: int, per_s: float | None, first: int) -> tuple[list[int], float]:
    """Send ``count`` orders (paced at ``per_s``, or as fast as possible); return ack latencies (ns) and acks/s."""
    sent: dict[str, int] = {}
    latencies: list[int] = []
    started = time.perf_counter_ns()
    next_at = started
    interval = int(1e9 / per_s) if per_s else 0
    n = 0
    deadline = time.monotonic() + 60
    while len(latencies) < count and time.monotonic() < deadline:
        now = time.perf_counter_ns()
        while n < count and now >= next_at:
            message = _submit(first + n)
            if not client.send(message, timeout_ms=100):
                break
            sent[message.client_order_id] = time.perf_counter_ns()
            n += 1
            next_at += interval
            if interval:
                break
        while (report := client.recv(0)) is not None:
            if isinstance(report, ExecutionReport) and report.status is OrderStatus.ACKED:
                sent_ns = sent.pop(report.client_order_id, None)
                if sent_ns is not None:
                    latencies.append(time.perf_counter_ns() - sent_ns)
        client.maybe_heartbeat()
    elapsed = (time.perf_counter_ns() - started) / 1e9
    return latencies, len(latencies) / elapsed


def _wait_ready(config: Any, settings: Settings) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if send_control(config, settings, "status", timeout_s=2).ok:
                return
        except ControlTimeout:
            time.sleep(0.5)
    raise RuntimeError("the desk did not come up")


def run(settings: Settings, console: Console) -> list[dict]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        raw_p50, raw_p99 = raw_round_trip(Path(tmp))
        for transport in ("ipc", "tcp"):
            root = Path(tmp) / transport
            root.mkdir()
            data = _desk(root / "run", transport)
            config_path = root / "desk.json"
            config_path.write_text(json.dumps(data))
            config = parse_run_config(data)
            desk_settings = load_settings(
                env={}, toml_path=None, root=root, data_path=settings.data_dir, log_level="WARNING"
            )
            os.environ["JTRADER_DATA_PATH"] = str(settings.data_dir)
            supervisor = Supervisor(config, config_path, desk_settings, stop_timeout=30)
            supervisor.start()
            runner = threading.Thread(target=supervisor.run, daemon=True)
            runner.start()
            ctx: zmq.Context[Any] = zmq.Context()
            try:
                _wait_ready(config, desk_settings)
                keys = ensure_keys(desk_settings.resolve(Path(config.run.keys_dir)))
                client = CommandClient(
                    ctx, config.endpoints(root).oms_commands, Report, name="bench", identity=b"bench",
                    curve=ClientCurve(keys.client_secret, keys.server_public),
                )  # fmt: skip
                _measure(client, 500, None, 0)  # warm up every path once
                light, _ = _measure(client, 1_000, 1_000, 500)  # well below saturation: service latency
                paced, paced_rate = _measure(client, int(OFFERED_PER_S * PACED_SECONDS), OFFERED_PER_S, 1_000)
                _, blast_rate = _measure(client, BLAST_ORDERS, None, 100_000)
                client.close()
            finally:
                supervisor.stop()
                runner.join(60)
                ctx.term()
            p50, p99 = _percentiles(paced)
            light_p50, light_p99 = _percentiles(light)
            console.print(
                f"  {transport}: at 1,000 orders/s ack p50 {light_p50:.0f} µs, p99 {light_p99:.0f} µs; "
                f"ack p50 {p50:.0f} µs, p99 {p99:.0f} µs at {paced_rate:,.0f} acks/s offered "
                f"{OFFERED_PER_S:,}/s; flat out {blast_rate:,.0f} orders/s; raw pyzmq round trip "
                f"p50 {raw_p50:.0f} µs p99 {raw_p99:.0f} µs"
            )
            baseline = "raw pyzmq DEALER/ROUTER round trip, ipc, same run"
            rows += [
                {"name": f"desk.{transport}.ack_p50_at_1k", "value": light_p50, "unit": "µs", "baseline": baseline,
                 "baseline_value": raw_p50},
                {"name": f"desk.{transport}.ack_p99_at_1k", "value": light_p99, "unit": "µs", "baseline": baseline,
                 "baseline_value": raw_p99},
                {"name": f"desk.{transport}.ack_p50_at_10k", "value": p50, "unit": "µs", "baseline": baseline,
                 "baseline_value": raw_p50},
                {"name": f"desk.{transport}.ack_p99_at_10k", "value": p99, "unit": "µs", "baseline": baseline,
                 "baseline_value": raw_p99},
                {"name": f"desk.{transport}.orders_per_s", "value": blast_rate, "unit": "orders/s",
                 "baseline": "raw pyzmq round trips/s (1 / p50)", "baseline_value": 1e6 / raw_p50},
            ]  # fmt: skip
    return rows


if __name__ == "__main__":  # pragma: no cover
    run(load_settings(), Console())
