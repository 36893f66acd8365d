"""Hand-built instruments, events and a scripted strategy for matching tests."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from jtrader.domain import (
    Bar,
    BookDelta,
    BookSnapshot,
    Instrument,
    InstrumentId,
    InstrumentKind,
    Price,
    Quantity,
    Side,
    Trade,
    Venue,
)
from jtrader.strategies.base import Strategy, StrategyContext

SEC = 1_000_000_000
MIN = 60 * SEC

INSTRUMENT = Instrument(
    InstrumentId("TEST", Venue.SIM),
    InstrumentKind.LINEAR_PERPETUAL,
    "BTC",
    "USDT",
    "USDT",
    Price("1"),
    Quantity("1"),
    maker_fee=Decimal("-0.0001"),
    taker_fee=Decimal("0.0005"),
)
IID = INSTRUMENT.id


def bar(i: int, o: int, h: int, lo: int, c: int) -> Bar:
    """The i-th one-minute bar (closing at (i + 1) minutes)."""
    return Bar(IID, o, h, lo, c, 1.0, 1.0, 1, MIN, (i + 1) * MIN, (i + 1) * MIN)


def snapshot(ts: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> BookSnapshot:
    return BookSnapshot(IID, bids, asks, 1, ts, ts)


def delta(ts: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]], uid: int = 2) -> BookDelta:
    return BookDelta(IID, bids, asks, uid, uid, uid - 1, ts, ts)


def trade(ts: int, price: int, lots: int, aggressor: Side, n: int = 1) -> Trade:
    return Trade(IID, price, lots, aggressor, f"t{n}-{ts}", ts, ts)


class Scripted(Strategy):
    """Runs ``script(ctx, n)`` on the n-th market event it sees (from 0), and records reports."""

    def __init__(self, script: Callable[[StrategyContext, int], None]) -> None:
        super().__init__("s", [IID])
        self.script = script
        self.n = 0
        self.updates: list[Any] = []
        self.rejects: list[Any] = []

    def _event(self, ctx: StrategyContext) -> None:
        self.script(ctx, self.n)
        self.n += 1

    def on_bar(self, ctx, bar):  # type: ignore[no-untyped-def]
        self._event(ctx)

    def on_trade(self, ctx, trade):  # type: ignore[no-untyped-def]
        self._event(ctx)

    def on_book(self, ctx, instrument_id, book):  # type: ignore[no-untyped-def]
        self._event(ctx)

    def on_order_update(self, ctx, report):  # type: ignore[no-untyped-def]
        self.updates.append(report)

    def on_reject(self, ctx, reject):  # type: ignore[no-untyped-def]
        self.rejects.append(reject)
