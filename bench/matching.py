"""Matching throughput, orders/s, of the compiled engine beside the pure-Python reference book.

The mix (seeded): 60% passive limit adds one to a few ticks behind the touch
of a slowly drifting mid, 30% cancels of one of the 1,000 most recent adds
(some already filled: those are rejected, as cancel races are at a venue),
10% aggressive orders (half market, half IOC limits two ticks through the
mid) that sweep one or more levels.

Rows:

- ``matching.orders_per_s``: :meth:`MatchingEngine.process_batch` over
  1,000,000 commands in chunks of 100,000 (median of three fresh runs; JIT
  compile excluded by :func:`warm_up`). Baseline: :class:`ReferenceBook` on
  the first 50,000 of the same commands.
- ``matching.per_call_orders_per_s``: the venue path, one command per
  ``submit``/``cancel`` call with event structs and exact fees, on the first
  50,000 commands. Same baseline.

Both engines must produce identical events on the shared prefix, or the
benchmark fails.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from rich.console import Console

from jtrader.config import Settings
from jtrader.domain import (
    Instrument,
    InstrumentId,
    InstrumentKind,
    OrderType,
    Price,
    Quantity,
    Side,
    TimeInForce,
    Venue,
)
from jtrader.matching import (
    COMMAND_DTYPE,
    CommandKind,
    EventKind,
    MatchingEngine,
    OrderTypeCode,
    Reason,
    ReferenceBook,
    SideCode,
    TimeInForceCode,
    warm_up,
)

__all__ = ["make_mix", "run"]

N_ORDERS = 1_000_000
CHUNK = 100_000
BASELINE_ORDERS = 50_000
REPEATS = 3

_INSTRUMENT = Instrument(
    InstrumentId("BTCUSDT", Venue.SIM), InstrumentKind.SPOT, "BTC", "USDT", "USDT", Price("0.1"), Quantity("0.001")
)


def make_mix(n: int, seed: int = 7, mid_ticks: int = 600_000) -> np.ndarray:
    """Return ``n`` seeded commands: 60% passive adds, 30% cancels, 10% aggressive orders."""
    rng = np.random.default_rng(seed)
    roll = rng.random(n)
    is_add = roll < 0.6
    is_cancel = (roll >= 0.6) & (roll < 0.9)
    is_aggressive = roll >= 0.9
    mid = mid_ticks + np.cumsum(rng.choice([-1, 0, 1], size=n, p=[0.02, 0.96, 0.02]))
    buy = rng.random(n) < 0.5
    owners = rng.integers(1, 101, n)
    cmds = np.zeros(n, COMMAND_DTYPE)
    cmds["ts"] = np.arange(n) * 1_000
    cmds["order_id"] = np.arange(1, n + 1)
    cmds["owner"] = owners
    cmds["side"] = np.where(buy, SideCode.BUY, SideCode.SELL)
    cmds["time_in_force"] = TimeInForceCode.GTC
    cmds["order_type"] = OrderTypeCode.LIMIT
    cmds["kind"] = CommandKind.SUBMIT
    behind = rng.geometric(0.35, n)  # 1, 2, 3... ticks behind the mid
    cmds["price_ticks"] = np.where(buy, mid - behind, mid + behind)
    cmds["lots"] = rng.geometric(0.2, n)
    # Aggressive: half market orders, half IOC limits two ticks through the mid, larger.
    market = is_aggressive & (rng.random(n) < 0.5)
    ioc = is_aggressive & ~market
    cmds["order_type"][market] = OrderTypeCode.MARKET
    cmds["price_ticks"][market] = 0
    cmds["time_in_force"][ioc] = TimeInForceCode.IOC
    cmds["price_ticks"][ioc] = np.where(buy[ioc], mid[ioc] + 2, mid[ioc] - 2)
    cmds["lots"][is_aggressive] = rng.geometric(0.15, int(is_aggressive.sum()))
    # Cancels: one of the 1,000 most recent adds, by its owner.
    add_ids = cmds["order_id"][is_add]
    adds_before = np.cumsum(is_add) - is_add  # adds strictly before each command
    cancel_at = np.nonzero(is_cancel & (adds_before > 0))[0]
    back = np.minimum(rng.integers(0, 1_000, len(cancel_at)), adds_before[cancel_at] - 1)
    target = add_ids[adds_before[cancel_at] - 1 - back]
    cmds["kind"][is_cancel] = CommandKind.CANCEL
    cmds["order_id"][cancel_at] = target
    cmds["owner"][cancel_at] = owners[target - 1]
    return cmds


def _compiled_run(cmds: np.ndarray) -> tuple[float, dict[str, int]]:
    engine = MatchingEngine(_INSTRUMENT, initial_levels=4096, initial_orders=1 << 16)
    chunks = []
    started = time.perf_counter()
    for start in range(0, len(cmds), CHUNK):
        chunks.append(engine.process_batch(cmds[start : start + CHUNK]))
    seconds = time.perf_counter() - started
    events = np.concatenate(chunks)
    kind, reason = events["kind"], events["reason"]
    counts = {
        "events": len(events),
        "trades": int((kind == EventKind.FILL).sum()) // 2,
        "cancelled": int(((kind == EventKind.CANCELLED) & (reason == Reason.REQUESTED)).sum()),
        "rejected": int((kind == EventKind.REJECTED).sum()),
        "resting at end": engine.open_order_count,
    }
    return seconds, counts


def _per_call_run(cmds: np.ndarray) -> float:
    engine = MatchingEngine(_INSTRUMENT)
    sides = {int(SideCode.BUY): Side.BUY, int(SideCode.SELL): Side.SELL}
    types = {int(OrderTypeCode.LIMIT): OrderType.LIMIT, int(OrderTypeCode.MARKET): OrderType.MARKET}
    tifs = {int(TimeInForceCode.GTC): TimeInForce.GTC, int(TimeInForceCode.IOC): TimeInForce.IOC}
    rows = cmds.tolist()
    started = time.perf_counter()
    for kind, ts, oid, owner, side, otype, tif, price, _trigger, lots in rows:
        if kind == CommandKind.CANCEL:
            engine.cancel(oid, owner, ts)
        else:
            engine.submit(oid, owner, sides[side], lots, price, order_type=types[otype], time_in_force=tifs[tif], ts=ts)
    return time.perf_counter() - started


def run(settings: Settings, console: Console) -> list[dict]:
    warm_up()
    cmds = make_mix(N_ORDERS)
    prefix = cmds[:BASELINE_ORDERS]

    reference = ReferenceBook()
    started = time.perf_counter()
    reference_events = reference.process_batch(prefix)
    reference_rate = len(prefix) / (time.perf_counter() - started)
    compiled_events = MatchingEngine(_INSTRUMENT).process_batch(prefix)
    if [tuple(r) for r in compiled_events.tolist()] != reference_events:
        raise SystemExit("matching bench: compiled engine and reference book disagree on the benchmark mix")

    _compiled_run(cmds[:CHUNK])  # touch the allocator and caches once
    timings = [_compiled_run(cmds) for _ in range(REPEATS)]
    seconds = statistics.median(t for t, _ in timings)
    counts = timings[0][1]
    per_call_seconds = _per_call_run(prefix)

    rate = len(cmds) / seconds
    console.print(
        f"  compiled: {len(cmds):,} orders in {seconds:.3f}s ({rate:,.0f}/s; "
        + ", ".join(f"{v:,} {name}" for name, v in counts.items())
        + f"); per call: {len(prefix) / per_call_seconds:,.0f}/s; reference: {reference_rate:,.0f}/s"
    )
    baseline = f"pure-Python ReferenceBook, first {BASELINE_ORDERS:,} orders of the same mix"
    return [
        {
            "name": "matching.orders_per_s",
            "value": rate,
            "unit": "orders/s",
            "baseline": baseline,
            "baseline_value": reference_rate,
        },
        {
            "name": "matching.per_call_orders_per_s",
            "value": len(prefix) / per_call_seconds,
            "unit": "orders/s",
            "baseline": baseline,
            "baseline_value": reference_rate,
        },
    ]


if __name__ == "__main__":
    from jtrader.config import load_settings

    for row in run(load_settings(), Console()):
        print(row)
