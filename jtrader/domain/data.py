"""Market-data events, as they travel the hot path and the bus.

Prices are in instrument ticks and sizes in instrument lots (``int``); the
instrument converts them to :class:`~jtrader.domain.objects.Price` /
:class:`~jtrader.domain.objects.Quantity` at the edges. Every event carries
``ts_event`` (venue time, ns since the epoch) and ``ts_recv`` (local receive
time, ns). Where a venue gives no event time (Binance spot ``bookTicker``)
``ts_event`` equals ``ts_recv``.

Construction validates what a consumer relies on: positive prices, non-negative
sizes, a non-crossed top of book, sorted book sides.
"""

from __future__ import annotations

import msgspec

from jtrader.domain.enums import Side
from jtrader.domain.errors import InvalidValue
from jtrader.domain.identifiers import InstrumentId

__all__ = ["Trade", "Quote", "BookDelta", "BookSnapshot", "Bar", "BookStatus", "MarketEvent", "Level"]

Level = tuple[int, int]  # (price in ticks, size in lots); size 0 deletes the level in a delta


def _check_ts(name: str, ts_event: int, ts_recv: int) -> None:
    if ts_event < 0 or ts_recv < 0:
        raise InvalidValue(f"{name}: timestamps must be ns since the epoch, got ts_event={ts_event} ts_recv={ts_recv}")


class Trade(msgspec.Struct, frozen=True, gc=False, tag="trade"):
    """A public trade; ``aggressor`` is the side that took liquidity."""

    instrument_id: InstrumentId
    price_ticks: int
    size_lots: int
    aggressor: Side
    trade_id: str
    ts_event: int
    ts_recv: int

    def __post_init__(self) -> None:
        if self.price_ticks <= 0:
            raise InvalidValue(f"trade {self.instrument_id}: price must be positive, got {self.price_ticks} ticks")
        if self.size_lots <= 0:
            raise InvalidValue(f"trade {self.instrument_id}: size must be positive, got {self.size_lots} lots")
        _check_ts("trade", self.ts_event, self.ts_recv)


class Quote(msgspec.Struct, frozen=True, gc=False, tag="quote"):
    """Best bid and offer. A crossed quote is rejected at construction."""

    instrument_id: InstrumentId
    bid_ticks: int
    bid_lots: int
    ask_ticks: int
    ask_lots: int
    ts_event: int
    ts_recv: int
    update_id: int = 0

    def __post_init__(self) -> None:
        if self.bid_ticks <= 0 or self.ask_ticks <= 0:
            raise InvalidValue(
                f"quote {self.instrument_id}: prices must be positive, got {self.bid_ticks}/{self.ask_ticks}"
            )
        if self.bid_lots < 0 or self.ask_lots < 0:
            raise InvalidValue(f"quote {self.instrument_id}: sizes must not be negative")
        if self.bid_ticks >= self.ask_ticks:
            raise InvalidValue(
                f"quote {self.instrument_id}: crossed or locked, bid {self.bid_ticks} >= ask {self.ask_ticks} ticks"
            )
        _check_ts("quote", self.ts_event, self.ts_recv)


def _check_levels(what: str, levels: list[Level], allow_zero: bool) -> None:
    for price, size in levels:
        if price <= 0 or size < 0 or (size == 0 and not allow_zero):
            raise InvalidValue(f"{what}: bad level price={price} size={size} (ticks, lots)")


class BookDelta(msgspec.Struct, frozen=True, gc=False, tag="book_delta"):
    """One venue depth-diff message: levels to set (size 0 deletes) on each side.

    ``first_update_id``/``last_update_id``/``prev_update_id`` are the venue's
    sequence numbers (Binance ``U``/``u``/``pu``; ``prev_update_id`` is -1 where
    the venue does not send it).
    """

    instrument_id: InstrumentId
    bids: list[Level]
    asks: list[Level]
    first_update_id: int
    last_update_id: int
    prev_update_id: int
    ts_event: int
    ts_recv: int

    def __post_init__(self) -> None:
        _check_levels(f"book delta {self.instrument_id}", self.bids, True)
        _check_levels(f"book delta {self.instrument_id}", self.asks, True)
        if self.last_update_id < self.first_update_id:
            raise InvalidValue(
                f"book delta {self.instrument_id}: last_update_id {self.last_update_id} < first {self.first_update_id}"
            )
        _check_ts("book delta", self.ts_event, self.ts_recv)


class BookSnapshot(msgspec.Struct, frozen=True, gc=False, tag="book_snapshot"):
    """A full depth snapshot: bids best (highest) first, asks best (lowest) first."""

    instrument_id: InstrumentId
    bids: list[Level]
    asks: list[Level]
    last_update_id: int
    ts_event: int
    ts_recv: int

    def __post_init__(self) -> None:
        what = f"book snapshot {self.instrument_id}"
        _check_levels(what, self.bids, False)
        _check_levels(what, self.asks, False)
        if any(lower[0] >= higher[0] for higher, lower in zip(self.bids, self.bids[1:], strict=False)):
            raise InvalidValue(f"{what}: bids must be strictly descending by price")
        if any(lower[0] >= higher[0] for lower, higher in zip(self.asks, self.asks[1:], strict=False)):
            raise InvalidValue(f"{what}: asks must be strictly ascending by price")
        if self.bids and self.asks and self.bids[0][0] >= self.asks[0][0]:
            raise InvalidValue(f"{what}: crossed, best bid {self.bids[0][0]} >= best ask {self.asks[0][0]} ticks")
        _check_ts("book snapshot", self.ts_event, self.ts_recv)


class Bar(msgspec.Struct, frozen=True, gc=False, tag="bar"):
    """An OHLCV bar. ``ts_event`` is the bar's close time (when it becomes known).

    Volumes are aggregate statistics (floats, in base and quote units), not
    order sizes: venues publish them finer than any lot.
    """

    instrument_id: InstrumentId
    open_ticks: int
    high_ticks: int
    low_ticks: int
    close_ticks: int
    volume: float
    quote_volume: float
    trade_count: int
    interval_ns: int
    ts_event: int
    ts_recv: int

    def __post_init__(self) -> None:
        what = f"bar {self.instrument_id}"
        if min(self.open_ticks, self.high_ticks, self.low_ticks, self.close_ticks) <= 0:
            raise InvalidValue(f"{what}: prices must be positive")
        if (
            not self.low_ticks
            <= min(self.open_ticks, self.close_ticks)
            <= max(self.open_ticks, self.close_ticks)
            <= self.high_ticks
        ):
            raise InvalidValue(
                f"{what}: inconsistent OHLC o={self.open_ticks} h={self.high_ticks} "
                f"l={self.low_ticks} c={self.close_ticks}"
            )
        if not (self.volume >= 0 and self.quote_volume >= 0):  # also rejects NaN
            raise InvalidValue(f"{what}: volumes must be non-negative numbers, got {self.volume}/{self.quote_volume}")
        if self.interval_ns <= 0:
            raise InvalidValue(f"{what}: interval must be positive")
        _check_ts("bar", self.ts_event, self.ts_recv)

    @property
    def ts_open(self) -> int:
        return self.ts_event - self.interval_ns


class BookStatus(msgspec.Struct, frozen=True, gc=False, tag="book_status"):
    """Tells strategies whether the local book of an instrument can be trusted.

    ``valid`` False means: stop trusting the book (a sequence gap, a checksum
    failure, a crossed book, a reconnect); a later BookStatus with ``valid``
    True follows a :class:`BookSnapshot` of the rebuilt book. Published by live
    feeds, never stored in the lake.
    """

    instrument_id: InstrumentId
    valid: bool
    reason: str
    ts_event: int
    ts_recv: int


MarketEvent = Trade | Quote | BookDelta | BookSnapshot | Bar
