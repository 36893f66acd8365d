"""Keep a local Binance order book in sync: snapshot plus depth diffs, gaps detected.

Binance's documented procedure ("How to manage a local order book correctly"):

1. Buffer the depth diffs of the stream until a REST snapshot arrives.
2. On the snapshot (``lastUpdateId`` = L), drop every diff with ``u`` < L
   (spot: ``u`` <= L).
3. The first diff applied must straddle the snapshot: futures
   ``U`` <= L <= ``u``; spot ``U`` <= L + 1 <= ``u``.
4. After it, each diff must continue the last one: futures ``pu`` equals the
   previous ``u``; spot ``U`` equals the previous ``u`` + 1.

A diff that breaks 3 or 4 is a gap: updates were lost, so the book is invalid
until the next snapshot (diffs are buffered again meanwhile). A diff entirely
at or before the last applied one (a duplicate) is dropped as stale. After
every applied diff the book is checked for a crossed (or locked) top; a crossed
book is counted and never reported valid.

The object keeps its state between calls, so captures split across files
(``*_20240809`` continuing ``*_20240808`` without a new snapshot) sync if fed
in order. It raises nothing for bad sequences: it counts them.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from jtrader.domain.data import BookDelta, BookSnapshot
from jtrader.domain.errors import InvalidValue
from jtrader.domain.instruments import Instrument
from jtrader.marketdata.book import OrderBook

__all__ = ["BinanceBookSync", "SyncState"]


class SyncState(Enum):
    AWAITING_SNAPSHOT = "awaiting_snapshot"  # no snapshot yet, or a gap since the last one
    AWAITING_FIRST_DIFF = "awaiting_first_diff"  # snapshot applied, no diff straddling it yet
    SYNCED = "synced"


class BinanceBookSync:
    """A local order book for one Binance instrument, maintained by Binance's sequencing rules.

    Feed it :class:`BookSnapshot` and :class:`BookDelta` events in arrival order
    (:meth:`on_snapshot`, :meth:`on_delta`, or :meth:`on_event` for either).
    Counters: ``applied`` diffs, ``stale_dropped`` diffs, ``gaps`` detected,
    ``crossed`` diffs after which the book was crossed, ``buffer_dropped``
    diffs lost from a full buffer.

    Example::

        >>> from jtrader.gateways.binance.instruments import binance_instruments
        >>> from jtrader.domain import BookDelta, BookSnapshot
        >>> usdm_btc = binance_instruments()[2]
        >>> sync = BinanceBookSync(usdm_btc, futures=True)
        >>> sync.on_snapshot(BookSnapshot(usdm_btc.id, [(100, 1)], [(102, 1)], 10, 0, 0))
        >>> sync.on_delta(BookDelta(usdm_btc.id, [(101, 2)], [], 9, 12, 8, 0, 0))
        True
        >>> sync.is_valid, sync.book.best_bid()
        (True, (101, 2))
    """

    def __init__(self, instrument: Instrument, futures: bool, max_buffer: int = 10_000) -> None:
        self.instrument = instrument
        self.futures = futures
        self.book = OrderBook()
        self.state = SyncState.AWAITING_SNAPSHOT
        self.last_update_id = 0  # ``u`` of the last applied diff, or the snapshot's lastUpdateId
        self.snapshot_id = 0
        self.applied = 0
        self.stale_dropped = 0
        self.gaps = 0
        self.crossed = 0
        self.buffer_dropped = 0
        self._buffer: deque[BookDelta] = deque()
        self._max_buffer = max_buffer
        self._is_crossed = False

    @property
    def is_valid(self) -> bool:
        """True when the book is synced past a snapshot, has had no gap since, and is not crossed."""
        return self.state is SyncState.SYNCED and not self._is_crossed

    @property
    def buffered(self) -> int:
        """Diffs waiting for a snapshot."""
        return len(self._buffer)

    def on_event(self, event: BookSnapshot | BookDelta) -> bool:
        """Apply a snapshot or a diff; return True if it changed the book."""
        if isinstance(event, BookDelta):
            return self.on_delta(event)
        self.on_snapshot(event)
        return True

    def on_snapshot(self, snapshot: BookSnapshot) -> None:
        """Rebuild the book from ``snapshot``, then replay the buffered diffs that follow it."""
        if snapshot.instrument_id != self.instrument.id:
            raise InvalidValue(f"snapshot for {snapshot.instrument_id} fed to the book of {self.instrument.id}")
        self.book.apply_snapshot(snapshot.bids, snapshot.asks, snapshot.last_update_id)
        self.snapshot_id = self.last_update_id = snapshot.last_update_id
        self.state = SyncState.AWAITING_FIRST_DIFF
        self._is_crossed = False
        buffered, self._buffer = self._buffer, deque()
        for delta in buffered:
            self.on_delta(delta)

    def on_delta(self, delta: BookDelta) -> bool:
        """Apply ``delta`` if it continues the book; return True if applied.

        Before a snapshot (or after a gap) the diff is buffered; a stale diff
        is dropped; a diff that skips updates is a gap and invalidates the book.
        """
        if delta.instrument_id != self.instrument.id:
            raise InvalidValue(f"depth diff for {delta.instrument_id} fed to the book of {self.instrument.id}")
        state = self.state
        if state is SyncState.SYNCED:
            if delta.last_update_id <= self.last_update_id:
                self.stale_dropped += 1
                return False
            if self.futures:
                continues = delta.prev_update_id == self.last_update_id
            else:
                continues = delta.first_update_id == self.last_update_id + 1
            if not continues:
                return self._gap(delta)
        elif state is SyncState.AWAITING_FIRST_DIFF:
            snapshot_id = self.snapshot_id
            if self.futures:
                if delta.last_update_id < snapshot_id:
                    self.stale_dropped += 1
                    return False
                straddles = delta.first_update_id <= snapshot_id  # and u >= L, checked above
            else:
                if delta.last_update_id <= snapshot_id:
                    self.stale_dropped += 1
                    return False
                straddles = delta.first_update_id <= snapshot_id + 1
            if not straddles:
                return self._gap(delta)
            self.state = SyncState.SYNCED
        else:
            self._buffer_delta(delta)
            return False
        book = self.book
        book.apply_levels(delta.bids, delta.asks)
        book.last_update_id = self.last_update_id = delta.last_update_id
        self.applied += 1
        crossed = self._is_crossed = book.is_crossed()
        if crossed:
            self.crossed += 1
        return True

    def _gap(self, delta: BookDelta) -> bool:
        self.gaps += 1
        self.state = SyncState.AWAITING_SNAPSHOT
        self._buffer_delta(delta)
        return False

    def _buffer_delta(self, delta: BookDelta) -> None:
        if len(self._buffer) >= self._max_buffer:
            self._buffer.popleft()
            self.buffer_dropped += 1
        self._buffer.append(delta)

    def __repr__(self) -> str:
        return (
            f"BinanceBookSync({self.instrument.id}, state={self.state.value}, valid={self.is_valid}, "
            f"applied={self.applied}, stale_dropped={self.stale_dropped}, gaps={self.gaps}, crossed={self.crossed}, "
            f"book={self.book!r})"
        )
