"""Tick to order through the bus: market data in, strategy, OMS, venue gateway out.

The real desk processes (``python -m jtrader.live.process oms`` and
``strategies``, a :class:`~jtrader.strategies.quoting.QuotingStrategy` that
requotes whenever the touch moves) run against this process, which stands in
for the venue on both of its sockets: it publishes ``Quote`` ticks on the
venue's market-data PUB and answers the OMS's venue commands on its
CURVE-authenticated ROUTER (ack, cancelled, an empty reconciliation snapshot).

Ticks are offered at 10,000 and 100,000 per second. Most repeat the touch; a
"mover" tick (``MOVERS_PER_S`` of them per second whatever the tick rate)
raises the bid and ask by one tick, and the strategy answers with a new bid at
exactly that bid. Latency is from publishing the mover to receiving the
``VenueSubmit`` carrying its price, both stamped with this process's
monotonic clock, so it covers: PUB/SUB to the strategy host, book and
strategy, DEALER/ROUTER to the OMS, risk check, journal write and flush, and
DEALER/ROUTER to the venue. Every tick also reaches the OMS (its marks), so
both processes carry the full tick rate.

Baseline: the raw pyzmq DEALER/ROUTER round trip measured in the same run
(two hops; the tick-to-order path is three). "answered" is the share of
movers that produced an order within the phase: below 100 % the desk could
not keep up (SUB queues overflowed and ticks were dropped, or the backlog
outlived the phase).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import zmq
from rich.console import Console

from bench.bus import _percentiles, raw_round_trip
from jtrader.bus.auth import ServerCurve
from jtrader.bus.messages import (
    Heartbeat,
    VenueAck,
    VenueAmend,
    VenueAmended,
    VenueCancel,
    VenueCancelled,
    VenueCommand,
    VenueQuery,
    VenueSnapshot,
    VenueSubmit,
    md_topic,
)
from jtrader.bus.transport import CommandServer, Publisher
from jtrader.config import Settings, load_settings
from jtrader.domain import InstrumentId, Quote, Side
from jtrader.live.config import parse_run_config
from jtrader.live.keys import ensure_keys

TICK_RATES = tuple(int(r) for r in os.environ.get("BENCH_TICK_RATES", "10000,100000").split(","))
# (transport, journal fsync policy): "batch" fsyncs before a batch's orders leave (survives power
# loss); "interval" writes before they leave and fsyncs on a timer (survives kill -9, the crash test).
DESKS = (("ipc", "batch"), ("tcp", "batch"), ("ipc", "interval"))
MOVERS_PER_S = 200
PHASE_S = 3.0
WARMUP_S = 2.0
DRAIN_S = 1.0
BTC = InstrumentId.parse("BTCUSDT.sim")
BID_TICKS = 600_000  # 60,000.0 on BTCUSDT.sim (tick 0.1)
SPREAD_TICKS = 10


def _desk(run_dir: Path, transport: str, fsync: str) -> dict[str, Any]:
    return {
        "run": {"name": f"t2o-{transport}", "run_dir": str(run_dir), "transport": transport, "base_port": 47500},
        "oms": {"metrics_port": 0, "snapshot_interval_s": 0, "on_shutdown": "keep", "journal_fsync": fsync},
        "risk": {"no_reference": "allow", "self_trade_prevention": False},
        "strategies": [
            {
                "id": "q",
                "kind": "quoting",
                "instruments": [str(BTC)],
                "params": {"quote_lots": 1, "min_requote_ns": 0, "post_only": False},
            }
        ],
    }


class _Venue:
    """This process's side: the venue's PUB and ROUTER, the tick pacer and the latency book-keeping."""

    def __init__(self, ctx: zmq.Context[Any], config: Any, root: Path, keys: Any) -> None:
        endpoints = config.endpoints(root)
        self.commands = CommandServer(
            ctx,
            endpoints.venue_commands,
            VenueCommand,
            name="t2o-venue",
            curve=ServerCurve(keys.server_secret, keys.allowed_clients),
            deliver_heartbeats=True,
        )
        self.publisher = Publisher(ctx, endpoints.venue_market_data, name="t2o-md", hwm=0)
        self.topic = md_topic(BTC, "quote")
        self.bid = BID_TICKS
        self.sequence = 0
        self.published_at: dict[int, tuple[int, int]] = {}  # mover bid -> (monotonic ns, wall ns) published
        self.latencies: list[int] = []
        self.to_oms: list[int] = []  # wall ns from publishing to the OMS accepting the order (VenueSubmit.ts)
        self.reconciled = False

    def tick(self, move: bool) -> None:
        if move:
            self.bid += 1
            self.published_at[self.bid] = (time.monotonic_ns(), time.time_ns())
        self.sequence += 1
        now = time.time_ns()
        quote = Quote(BTC, self.bid, 5, self.bid + SPREAD_TICKS, 5, now, now, self.sequence)
        self.publisher.publish(self.topic, quote)

    def serve(self) -> None:
        """Answer every command waiting: ack submits, confirm cancels and amends, record order latencies."""
        while (item := self.commands.recv(0)) is not None:
            client, command = item
            now = time.time_ns()
            kind = type(command)
            if kind is VenueSubmit:
                if command.side is Side.BUY and command.price_ticks is not None:
                    sent = self.published_at.pop(command.price_ticks, None)
                    if sent is not None:
                        self.latencies.append(time.monotonic_ns() - sent[0])
                        self.to_oms.append(command.ts - sent[1])
                reply: Any = VenueAck(client_order_id=command.client_order_id, venue_order_id=command.client_order_id)
            elif kind is VenueCancel:
                reply = VenueCancelled(client_order_id=command.client_order_id, ts=now)
            elif kind is VenueAmend:
                reply = VenueAmended(
                    client_order_id=command.client_order_id,
                    quantity_lots=command.quantity_lots,
                    price_ticks=command.price_ticks,
                )
            elif kind is VenueQuery:
                reply = VenueSnapshot(open_orders=[], fills=[], balances={})
                self.reconciled = True
            elif kind is Heartbeat:
                reply = Heartbeat(sender="t2o-venue", ts=now)
            else:
                continue
            self.commands.send(client, reply)

    def run_phase(self, ticks_per_s: int, seconds: float) -> tuple[int, float]:
        """Offer ``ticks_per_s`` for ``seconds``; return (ticks published, achieved ticks/s)."""
        every = max(1, ticks_per_s // MOVERS_PER_S)
        started = time.monotonic_ns()
        end = started + int(seconds * 1e9)
        published = 0
        while (now := time.monotonic_ns()) < end:
            due = (now - started) * ticks_per_s // 1_000_000_000
            while published < due:
                published += 1
                self.tick(published % every == 0)
            self.serve()
            # Wait up to 1 ms (less if a command arrives) instead of spinning, so this process does not
            # take a core from the desk: ticks then go out in 1 ms bursts, as a venue's do.
            self.commands.socket.poll(1)
        elapsed = (time.monotonic_ns() - started) / 1e9
        drain_end = time.monotonic() + DRAIN_S
        while time.monotonic() < drain_end:
            self.serve()
            time.sleep(0.0005)
        return published, published / elapsed

    def close(self) -> None:
        self.commands.close()
        self.publisher.close()


def _spawn(component: str, config_path: Path, root: Path, run_dir: Path, env: dict[str, str]) -> Any:
    profile = os.environ.get("BENCH_PROFILE")  # a directory: cProfile each desk process into it
    wrapper = ["-m", "cProfile", "-o", f"{profile}/{component}.prof"] if profile else []
    process = subprocess.Popen(
        [sys.executable, *wrapper, "-m", "jtrader.live.process", component, "--config", str(config_path)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (run_dir / f"{component}.pid").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{component} did not start; see {run_dir / (component + '.log')}")
        time.sleep(0.05)
    return process


def _stop(processes: list[Any]) -> None:
    for process in reversed(processes):
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _measure_desk(
    transport: str, fsync: str, tmp: Path, settings: Settings
) -> list[tuple[int, float, float, float, float, float]]:
    root = tmp / f"{transport}-{fsync}"
    root.mkdir()
    data = _desk(root / "run", transport, fsync)
    config_path = root / "desk.json"
    config_path.write_text(json.dumps(data))
    config = parse_run_config(data)
    run_dir = root / "run"
    run_dir.mkdir()
    keys = ensure_keys(root / config.run.keys_dir)
    env = {
        **os.environ,
        "JTRADER_ROOT": str(root),
        "JTRADER_DATA_PATH": str(settings.data_dir),
        "JTRADER_LOG_LEVEL": "WARNING",
    }
    ctx: zmq.Context[Any] = zmq.Context()
    venue = _Venue(ctx, config, root, keys)
    processes: list[Any] = []
    rows = []
    try:
        processes.append(_spawn("oms", config_path, root, run_dir, env))
        processes.append(_spawn("strategies", config_path, root, run_dir, env))
        deadline = time.monotonic() + 30
        while not venue.reconciled and time.monotonic() < deadline:
            venue.serve()
            time.sleep(0.001)
        venue.run_phase(1_000, WARMUP_S)  # every path once, the strategy's first quotes
        if not venue.latencies:
            raise RuntimeError(f"no order reached the venue during warm-up; see the logs in {run_dir}")
        for rate in TICK_RATES:
            venue.latencies.clear()
            venue.to_oms.clear()
            venue.published_at.clear()
            published, achieved = venue.run_phase(rate, PHASE_S)
            movers = published // max(1, rate // MOVERS_PER_S)
            answered = len(venue.latencies) / max(1, movers)
            nan = float("nan")
            p50, p99 = _percentiles(venue.latencies) if venue.latencies else (nan, nan)
            to_oms_p50 = _percentiles(venue.to_oms)[0] if venue.to_oms else nan
            rows.append((rate, achieved, answered, p50, p99, to_oms_p50))
    finally:
        _stop(processes)
        venue.close()
        ctx.term()
    return rows


def run(settings: Settings, console: Console) -> list[dict]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        raw_p50, raw_p99 = raw_round_trip(tmp)
        baseline = "raw pyzmq DEALER/ROUTER round trip, ipc, same run"
        for transport, fsync in DESKS:
            for rate, achieved, answered, p50, p99, to_oms in _measure_desk(transport, fsync, tmp, settings):
                console.print(
                    f"  {transport}, journal fsync={fsync}, {rate:,} ticks/s offered ({achieved:,.0f} published/s): "
                    f"tick-to-order p50 {p50:.0f} µs (of which to the OMS {to_oms:.0f} µs), p99 {p99:.0f} µs, "
                    f"{answered:.0%} of movers answered; raw round trip p50 {raw_p50:.0f} µs, p99 {raw_p99:.0f} µs"
                )
                name = f"tick_to_order.{transport}.fsync_{fsync}.{rate // 1000}k"
                rows += [
                    {"name": f"{name}.p50", "value": p50, "unit": "µs", "baseline": baseline,
                     "baseline_value": raw_p50},
                    {"name": f"{name}.p99", "value": p99, "unit": "µs", "baseline": baseline,
                     "baseline_value": raw_p99},
                    {"name": f"{name}.p50_to_oms", "value": to_oms, "unit": "µs", "baseline": baseline,
                     "baseline_value": raw_p50},
                    {"name": f"{name}.ticks_per_s", "value": achieved, "unit": "ticks/s",
                     "baseline": "offered", "baseline_value": float(rate)},
                    {"name": f"{name}.answered", "value": answered * 100, "unit": "% of movers",
                     "baseline": "", "baseline_value": 100.0},
                ]  # fmt: skip
    return rows


if __name__ == "__main__":  # pragma: no cover
    run(load_settings(), Console())
