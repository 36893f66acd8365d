"""OMS hot-path throughput, orders/s, beside baselines measured in the same run.

Each order goes in-process through ``OmsEngine.on_command`` (validation, every
risk rule switched on: order size and notional, position, gross exposure, price
band, self-trade, duplicate window, order rate), the journal append, and a
simulated immediate ``VenueAck`` (also journaled); the journal is flushed every
100 orders (group commit). Orders alternate sides away from the mid so that
none is refused; open orders accumulate (nothing fills), as on a busy day.

Rows and their baselines:

- ``oms.orders.fsync_batch100`` — fsync once per 100-order flush. Baseline: the
  bare journal (append the same two records per order, flush and fsync every
  100 orders, no OMS logic): the ceiling the disk and encoder allow.
- ``oms.orders.fsync_none`` — no fsync (process-crash safe only). Baseline: the
  same OMS and journal with a no-op risk engine: what the risk checks cost.
- ``oms.recovery`` — records/s rebuilding the OMS from the journal written by the
  first row. Baseline: decoding the same journal without applying it.
- ``oms.checkpoint`` — seconds to write a checkpoint of that OMS (100,000 open
  orders) and start the next segment. Baseline: replaying the journal it makes
  redundant, which recovery no longer has to do.
- ``oms.recovery_from_checkpoint`` — seconds to recover that OMS from its
  checkpoint. Baseline: seconds to recover it by replaying the whole journal.

Each figure is the best of three runs (the machine is shared; the best run is
the least disturbed one). The timed loop runs with the garbage collector as a
process has it; the per-order objects the OMS keeps are untracked (``gc=False``).
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console

from jtrader.bus.messages import SubmitOrder, VenueAck
from jtrader.config import Settings
from jtrader.domain import (
    Instrument,
    InstrumentId,
    InstrumentKind,
    InstrumentRegistry,
    OrderType,
    Price,
    Quantity,
    Quote,
    Side,
    Venue,
)
from jtrader.oms import Journal, OmsEngine, OrderAccepted, VenueEventApplied, replay
from jtrader.risk import LimitSet, RiskEngine, RiskLimits

ORDERS = 100_000
BATCH = 100
REPEATS = 3
_BTC = Instrument(
    InstrumentId("BTCUSDT", Venue.BINANCE_USDM),
    InstrumentKind.LINEAR_PERPETUAL,
    "BTC",
    "USDT",
    "USDT",
    Price("0.1"),
    Quantity("0.001"),
)
_KEY = str(_BTC.id)
_LIMITS = RiskLimits(
    portfolio=LimitSet(
        max_order_quantity={_KEY: Decimal(10)},
        max_position={_KEY: Decimal(10**6)},
        max_order_notional=Decimal(10**6),
        max_gross_exposure=Decimal(10**12),
        max_orders_per_window=10**9,
    ),
    default_strategy=LimitSet(max_orders_per_window=10**9, max_gross_exposure=Decimal(10**12)),
    price_band_bps=500,
    duplicate_window_ns=1_000_000,
    daily_loss_limit=Decimal(10**6),
)


class _Clock:
    """10 µs per reading: a steady 100,000 events/s, so rate and duplicate windows behave as they would live."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        self.now += 10_000
        return self.now


class _NoRisk(RiskEngine):
    """A risk engine that checks nothing (the baseline for the cost of the checks)."""

    def check_order(self, *args: Any, **kwargs: Any) -> None:
        return None

    def open_delta(self, *args: Any, **kwargs: Any) -> None:
        return None

    def book_add(self, *args: Any, **kwargs: Any) -> None:
        return None

    def book_remove(self, *args: Any, **kwargs: Any) -> None:
        return None


def _workload() -> tuple[list[SubmitOrder], list[VenueAck]]:
    submits, acks = [], []
    for i in range(ORDERS):
        buy = i % 2 == 0
        price = 599_000 - i % 100 if buy else 601_000 + i % 100
        submits.append(
            SubmitOrder(
                client_order_id=f"o{i}",
                instrument_id=_BTC.id,
                side=Side.BUY if buy else Side.SELL,
                order_type=OrderType.LIMIT,
                quantity_lots=1 + i % 7,
                price_ticks=price,
                strategy_id="s1",
            )
        )
        acks.append(VenueAck(client_order_id=f"o{i}", venue_order_id=f"v{i}"))
    return submits, acks


def _run_oms(path: Path, fsync: str, risk_cls: type[RiskEngine], work: tuple[list, list]) -> float:
    registry = InstrumentRegistry([_BTC])
    journal = Journal(path, fsync=fsync)  # type: ignore[arg-type]
    oms = OmsEngine(
        registry, risk_cls(_LIMITS, registry), _Clock(), "bench", routes={Venue.BINANCE_USDM: "gw"}, journal=journal
    )
    oms.on_market_data(Quote(_BTC.id, 599_990, 1, 600_010, 1, 1, 1))
    submits, acks = work
    on_command, on_venue_event, flush = oms.on_command, oms.on_venue_event, journal.flush
    started = time.perf_counter()
    for i in range(ORDERS):
        outputs = on_command(submits[i], b"strategy-host")
        on_venue_event(acks[i])
        if i % BATCH == BATCH - 1:
            flush()
    flush()
    elapsed = time.perf_counter() - started
    journal.close()
    if len(oms.open_orders()) != ORDERS or not outputs:
        raise SystemExit(f"bench workload was refused: {oms.counters}")
    return ORDERS / elapsed


def _run_bare_journal(path: Path, fsync: str, work: tuple[list, list]) -> float:
    journal = Journal(path, fsync=fsync)  # type: ignore[arg-type]
    submits, acks = work
    append, flush = journal.append, journal.flush
    clock = _Clock()
    started = time.perf_counter()
    for i in range(ORDERS):
        append(OrderAccepted(clock(), b"strategy-host", submits[i]))
        append(VenueEventApplied(clock(), acks[i]))
        if i % BATCH == BATCH - 1:
            flush()
    flush()
    elapsed = time.perf_counter() - started
    journal.close()
    return ORDERS / elapsed


def _run_recovery(path: Path) -> tuple[float, float]:
    registry = InstrumentRegistry([_BTC])
    started = time.perf_counter()
    engine = OmsEngine(registry, RiskEngine(_LIMITS, registry), _Clock(), "bench")
    records = engine.recover(replay(path))
    rebuild = records / (time.perf_counter() - started)
    started = time.perf_counter()
    decoded = sum(1 for _ in replay(path))
    decode = decoded / (time.perf_counter() - started)
    if len(engine.open_orders()) != ORDERS:
        raise SystemExit("bench recovery lost orders")
    return rebuild, decode


def _checkpoint(path: Path) -> tuple[float, float, float]:
    """Recover the journal at ``path``, checkpoint it; then time recovery from the checkpoint and from scratch."""
    registry = InstrumentRegistry([_BTC])

    def recover(at: Path) -> tuple[OmsEngine, float]:
        started = time.perf_counter()
        engine = OmsEngine.from_journal(at, registry, RiskEngine(_LIMITS, registry), _Clock(), "bench", fsync="none")
        return engine, time.perf_counter() - started

    engine, replay_s = recover(path)
    started = time.perf_counter()
    engine.checkpoint()
    checkpoint_s = time.perf_counter() - started
    engine.journal.close()  # type: ignore[union-attr]
    recovered, from_checkpoint_s = recover(path)
    recovered.journal.close()  # type: ignore[union-attr]
    if recovered.recovery is None or not recovered.recovery.checkpoint or len(recovered.open_orders()) != ORDERS:
        raise SystemExit("bench recovery from the checkpoint lost orders")
    if recovered.snapshot() != engine.snapshot():
        raise SystemExit("bench recovery from the checkpoint differs from the journal's")
    return checkpoint_s, from_checkpoint_s, replay_s


def _best(runs: int, measure: Any) -> float:
    return max(measure() for _ in range(runs))


def run(settings: Settings, console: Console) -> list[dict]:
    # The journal lives on the disk the platform writes to, so fsync costs what it would in production.
    settings.var_path.mkdir(parents=True, exist_ok=True)
    work = _workload()
    with tempfile.TemporaryDirectory(dir=settings.var_path, prefix="bench-oms-") as tmp:
        paths = iter(Path(tmp) / f"j{n}" for n in range(1000))
        batch = _best(REPEATS, lambda: _run_oms(next(paths), "batch", RiskEngine, work))
        journal_path = Path(tmp) / "kept"
        _run_oms(journal_path, "none", RiskEngine, work)
        bare = _best(REPEATS, lambda: _run_bare_journal(next(paths), "batch", work))
        none = _best(REPEATS, lambda: _run_oms(next(paths), "none", RiskEngine, work))
        no_risk = _best(REPEATS, lambda: _run_oms(next(paths), "none", _NoRisk, work))
        recoveries = [_run_recovery(journal_path) for _ in range(REPEATS)]
        rebuild = max(r[0] for r in recoveries)
        decode = max(r[1] for r in recoveries)
        checkpoints = []
        for n in range(REPEATS):
            copy = Path(tmp) / f"ck{n}" / "oms.journal"
            copy.parent.mkdir()
            copy.write_bytes(journal_path.read_bytes())
            checkpoints.append(_checkpoint(copy))
        checkpoint_s = min(c[0] for c in checkpoints)
        from_checkpoint_s = min(c[1] for c in checkpoints)
        replay_s = min(c[2] for c in checkpoints)
    console.print(
        f"  {ORDERS:,} orders, flush every {BATCH}: fsync batch {batch:,.0f}/s (bare journal {bare:,.0f}/s); "
        f"fsync none {none:,.0f}/s (no-risk OMS {no_risk:,.0f}/s); recovery {rebuild:,.0f} records/s; "
        f"checkpoint of {ORDERS:,} orders {checkpoint_s:.2f}s, recovery from it {from_checkpoint_s:.2f}s "
        f"(replaying the journal {replay_s:.2f}s)"
    )
    return [
        {
            "name": "oms.orders.fsync_batch100",
            "value": batch,
            "unit": "orders/s",
            "baseline": "bare journal: same records appended, flush + fsync per 100 orders, no OMS",
            "baseline_value": bare,
        },
        {
            "name": "oms.orders.fsync_none",
            "value": none,
            "unit": "orders/s",
            "baseline": "same OMS and journal, risk engine that checks nothing",
            "baseline_value": no_risk,
        },
        {
            "name": "oms.recovery",
            "value": rebuild,
            "unit": "records/s",
            "baseline": "decode the same journal without applying it",
            "baseline_value": decode,
        },
        {
            "name": "oms.checkpoint",
            "value": checkpoint_s,
            "unit": "s",
            "baseline": f"replaying the journal of the {ORDERS:,} orders it makes redundant",
            "baseline_value": replay_s,
        },
        {
            "name": "oms.recovery_from_checkpoint",
            "value": from_checkpoint_s,
            "unit": "s",
            "baseline": "recovery by replaying the whole journal",
            "baseline_value": replay_s,
        },
    ]
