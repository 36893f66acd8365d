"""BitMEX live market data: native WebSocket ``orderBookL2``, trade, quote, instrument, tradeBin1m.

Native, not ccxt.pro: the book must be kept by row id (``partial`` then
``insert``/``update``/``delete`` by ``id``), and a broken sequence must be
told to strategies and repaired by resubscribing; ccxt.pro's
``watch_order_book`` hides both. BitMEX sends no sequence numbers: the
integrity rules are the ids themselves.

Integrity rules of :class:`BitmexFeed` (BitMEX wsAPI, "orderBookL2"):

- rows before the ``partial`` of a symbol are ignored (BitMEX: "ignore any
  deltas before the partial");
- an ``update``/``delete`` of an unknown id, or an ``insert`` of a known id,
  breaks the book: :class:`BookStatus` ``valid=False`` is published and the
  feed asks to reconnect, which resubscribes and brings a fresh ``partial``;
- a book that would be crossed after an action is never published: same repair.

Published book events carry a local sequence (``first_update_id`` =
``last_update_id`` = n, ``prev_update_id`` = n - 1) counted per symbol.
Heartbeat: BitMEX answers a text ``ping`` with ``pong``; the client sends
WebSocket pings, and the feed answers nothing itself.

Exceptions::

    (none raised; MalformedMessage from parsing.py is counted in ``stats``)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from jtrader.domain.data import BookDelta, Level
from jtrader.domain.enums import Side, Venue
from jtrader.domain.errors import DomainError
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import InstrumentRegistry
from jtrader.gateways.bitmex.parsing import BitmexParser, L2Row
from jtrader.gateways.stream import BookStatus, FeedOutput, FeedStats, book_snapshot_event
from jtrader.marketdata.book import OrderBook

__all__ = ["BitmexFeed", "BitmexBook", "STREAM_URL"]

STREAM_URL = "wss://ws.bitmex.com/realtime"
_DEFAULT_CHANNELS = ("orderBookL2", "trade", "quote", "instrument", "tradeBin1m")


class BookBroken(Exception):
    """Internal: an orderBookL2 action that does not fit the book."""


class BitmexBook:
    """One symbol's L2 book kept by BitMEX row id; prices and sizes in ticks and lots."""

    def __init__(self) -> None:
        self.book = OrderBook()
        self.rows: dict[int, tuple[Side, int, int]] = {}  # id -> (side, price ticks, size lots)
        self.ready = False
        self.seq = 0

    def partial(self, rows: list[L2Row]) -> None:
        self.rows = {r.level_id: (r.side, r.price_ticks or 0, r.size_lots or 0) for r in rows}
        bids = sorted(((p, s) for side, p, s in self.rows.values() if side is Side.BUY), reverse=True)
        asks = sorted((p, s) for side, p, s in self.rows.values() if side is Side.SELL)
        self.book.apply_snapshot(bids, asks)
        self.ready = True

    def apply(self, action: str, rows: list[L2Row]) -> tuple[list[Level], list[Level]]:
        """Apply one action; return the changed levels. Raises BookBroken on an integrity failure."""
        bids: list[Level] = []
        asks: list[Level] = []
        for r in rows:
            known = self.rows.get(r.level_id)
            if action == "insert":
                if known is not None:
                    raise BookBroken(f"insert of existing id {r.level_id}")
                side, price, size = r.side, r.price_ticks or 0, r.size_lots or 0
                self.rows[r.level_id] = (side, price, size)
            elif known is None:
                raise BookBroken(f"{action} of unknown id {r.level_id}")
            elif action == "update":
                side, price, _ = known
                size = r.size_lots if r.size_lots is not None else known[2]
                self.rows[r.level_id] = (side, price, size)
            elif action == "delete":
                side, price, _ = known
                size = 0
                del self.rows[r.level_id]
            else:
                raise BookBroken(f"unknown action {action!r}")
            (bids if side is Side.BUY else asks).append((price, size))
        self.book.apply_levels(bids, asks)
        return bids, asks


class BitmexFeed:
    """Sans-I/O BitMEX market data for ``symbols``; read books in :attr:`books` (instrument id -> BitmexBook)."""

    venue = Venue.BITMEX

    def __init__(
        self,
        registry: InstrumentRegistry,
        symbols: Sequence[str],
        channels: Sequence[str] = _DEFAULT_CHANNELS,
        url: str = STREAM_URL,
    ) -> None:
        self.registry = registry
        self.url = url
        self.channels = list(channels)
        self.stats = FeedStats()
        self.instruments = [registry.find(s, Venue.BITMEX.value) for s in symbols]
        self.parser = BitmexParser(registry)
        self.books: dict[InstrumentId, BitmexBook] = {}

    def subscribe_frames(self) -> list[str]:
        args = [f"{c}:{i.id.symbol}" for i in self.instruments for c in self.channels]
        return [msgspec.json.encode({"op": "subscribe", "args": args}).decode()]

    def on_connect(self, ts_recv: int) -> FeedOutput:
        out = FeedOutput()
        for instrument_id, book in self.books.items():
            if book.ready:
                out.events.append(BookStatus(instrument_id, False, "reconnected: awaiting partial", ts_recv, ts_recv))
        self.books = {}
        return out

    def on_snapshot(self, instrument_id: InstrumentId, raw: Any, ts_recv: int) -> FeedOutput:
        return FeedOutput()  # BitMEX snapshots come as 'partial' frames

    def on_frame(self, frame: str | bytes, ts_recv: int) -> FeedOutput:
        out = FeedOutput()
        if frame == "pong" or frame == b"pong":
            self.stats.pings += 1
            return out
        try:
            table, action, items = self.parser.parse(frame, ts_recv)
        except DomainError as exc:
            self.stats.malformed_frame(str(exc))
            return out
        if not table:
            if action == "error":
                self.stats.malformed_frame(f"venue error: {items[0]}")
            return out
        if table.startswith("orderBookL2"):
            self._book(action, items, ts_recv, out)
        else:
            out.events.extend(items)
        return out

    def _book(self, action: str, rows: list[L2Row], ts_recv: int, out: FeedOutput) -> None:
        by_symbol: dict[InstrumentId, list[L2Row]] = {}
        for row in rows:
            by_symbol.setdefault(row.instrument_id, []).append(row)
        if action == "partial" and not rows:
            return
        for instrument_id, group in by_symbol.items():
            book = self.books.setdefault(instrument_id, BitmexBook())
            ts_event = max((r.ts_event or 0 for r in group), default=0) or ts_recv
            if action == "partial":
                book.partial(group)
                if book.book.is_crossed():
                    self._broken(instrument_id, book, "crossed partial", ts_recv, out)
                    continue
                book.seq += 1
                book.book.last_update_id = book.seq
                out.events.append(book_snapshot_event(instrument_id, book.book, ts_event, ts_recv))
                out.events.append(BookStatus(instrument_id, True, "partial", ts_event, ts_recv))
                continue
            if not book.ready:
                continue  # deltas before the partial are ignored, as BitMEX documents
            try:
                bids, asks = book.apply(action, group)
            except BookBroken as exc:
                self.stats.gaps += 1
                self._broken(instrument_id, book, str(exc), ts_recv, out)
                continue
            if book.book.is_crossed():
                self.stats.crossed += 1
                self._broken(instrument_id, book, "crossed book", ts_recv, out)
                continue
            book.seq += 1
            book.book.last_update_id = book.seq
            out.events.append(BookDelta(instrument_id, bids, asks, book.seq, book.seq, book.seq - 1, ts_event, ts_recv))

    def _broken(self, instrument_id: InstrumentId, book: BitmexBook, reason: str, ts: int, out: FeedOutput) -> None:
        book.ready = False
        self.stats.resyncs += 1
        out.events.append(BookStatus(instrument_id, False, reason, ts, ts))
        out.reconnect = f"{instrument_id}: {reason}; resubscribing for a fresh partial"
