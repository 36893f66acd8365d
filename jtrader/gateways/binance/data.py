"""Binance live market data (spot, USD-M, COIN-M): native combined streams plus REST snapshots.

Native WebSocket, not ccxt.pro: ccxt's ``watch_order_book`` applies Binance's
``U``/``u``/``pu`` rules internally and hides them, so a gap cannot be told to
strategies or counted; its trades and tickers go through floats. Here every
frame goes through :class:`~jtrader.gateways.binance.parsing.BinanceCaptureParser`
(the same parser as the captures: exact ticks and lots), and books through
:class:`~jtrader.gateways.binance.book_sync.BinanceBookSync`. The REST depth
snapshot is fetched through ccxt's raw endpoints (``publicGetDepth``,
``fapiPublicGetDepth``, ``dapiPublicGetDepth``), which keep Binance's strings
and ``lastUpdateId`` and get ccxt's rate limiting.

Guarantees of :class:`BinanceFeed`:

- a :class:`BookDelta` is published only while the book is synced and not
  crossed; after a gap, a crossed book or a reconnect a
  :class:`~jtrader.gateways.stream.BookStatus` ``valid=False`` is published,
  a snapshot is requested, and when the book is synced again a
  :class:`BookSnapshot` of the whole local book is published before
  ``BookStatus(valid=True)``;
- duplicates (diffs at or before the last applied one) are dropped and counted;
- malformed frames are counted and skipped.

Exceptions::

    DomainError(ValueError)
     +-- MalformedMessage   a frame that cannot become events: counted in ``stats``, never raised
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from jtrader.domain.data import Bar, BookDelta, BookSnapshot
from jtrader.domain.enums import Venue
from jtrader.domain.errors import DomainError, InvalidValue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import InstrumentRegistry
from jtrader.gateways.binance.book_sync import BinanceBookSync, SyncState
from jtrader.gateways.binance.parsing import BinanceCaptureParser
from jtrader.gateways.stream import BookStatus, FeedOutput, FeedStats, SnapshotFetcher, book_snapshot_event
from jtrader.marketdata.units import price_parser

__all__ = ["BinanceFeed", "STREAM_URLS", "binance_rest_snapshot_fetcher", "parse_kline"]

STREAM_URLS = {
    Venue.BINANCE: "wss://stream.binance.com:9443/stream",
    Venue.BINANCE_USDM: "wss://fstream.binance.com/stream",
    Venue.BINANCE_COINM: "wss://dstream.binance.com/stream",
}
_MS = 1_000_000
_DEFAULT_CHANNELS = ("depth", "trade", "bookTicker", "markPrice", "kline_1m")


class _Kline(msgspec.Struct):
    t: int
    T: int
    i: str
    o: str
    h: str
    l: str  # noqa: E741
    c: str
    v: str
    n: int
    x: bool
    q: str = "0"


class _KlineMsg(msgspec.Struct):
    e: str
    s: str
    k: _Kline


class _KlineEnv(msgspec.Struct):
    stream: str
    data: _KlineMsg


_decode_kline = msgspec.json.Decoder(_KlineEnv).decode
_INTERVALS_S = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14_400, "1d": 86_400}


def parse_kline(frame: bytes, registry: InstrumentRegistry, venue: Venue, ts_recv: int) -> Bar | None:
    """Return the closed bar of a ``<symbol>@kline_<i>`` frame, or None while the bar is still open.

    ``ts_event`` is the bar's close (open + interval), as for every :class:`Bar`.
    Raises DomainError/msgspec errors for a malformed frame.
    """
    msg = _decode_kline(frame).data
    if msg.e != "kline":
        raise InvalidValue(f"kline stream carries event {msg.e!r}")
    if not msg.k.x:
        return None
    instrument = registry.find(msg.s, venue.value)
    parse = price_parser(instrument).parse
    interval_ns = _INTERVALS_S[msg.k.i] * 1_000_000_000
    close_ns = msg.k.t * _MS + interval_ns
    return Bar(
        instrument.id,
        parse(msg.k.o),
        parse(msg.k.h),
        parse(msg.k.l),
        parse(msg.k.c),
        float(msg.k.v),
        float(msg.k.q),
        msg.k.n,
        interval_ns,
        close_ns,
        ts_recv,
    )


class _Book:
    __slots__ = ("announced", "sync")

    def __init__(self, sync: BinanceBookSync) -> None:
        self.sync = sync
        self.announced = False


class BinanceFeed:
    """Sans-I/O Binance market data for ``symbols`` of one market (``venue``).

    Feed it frames (:meth:`on_frame`) and REST snapshots (:meth:`on_snapshot`);
    read the books in :attr:`books` (instrument id -> :class:`BinanceBookSync`).
    """

    def __init__(
        self,
        registry: InstrumentRegistry,
        venue: Venue,
        symbols: Sequence[str],
        channels: Sequence[str] = _DEFAULT_CHANNELS,
        url: str | None = None,
    ) -> None:
        self.venue = Venue(venue)
        self.registry = registry
        self.url = url or STREAM_URLS[self.venue]
        self.stats = FeedStats()
        self.futures = self.venue is not Venue.BINANCE
        self.instruments = [registry.find(s.upper(), self.venue.value) for s in symbols]
        self.channels = [c for c in channels if self.futures or c != "markPrice"]
        self._parser = BinanceCaptureParser(registry, self.venue, source=f"{self.venue.value}-ws")
        self._snapshot_parsers = {
            i.id: BinanceCaptureParser(registry, self.venue, symbol=i.id.symbol, source=f"{self.venue.value}-rest")
            for i in self.instruments
        }
        self.books: dict[InstrumentId, _Book] = {}
        if "depth" in self.channels:
            self.books = {i.id: _Book(BinanceBookSync(i, self.futures)) for i in self.instruments}

    # -- Feed -------------------------------------------------------------------

    def stream_names(self) -> list[str]:
        names = []
        for instrument in self.instruments:
            low = instrument.id.symbol.lower()
            for channel in self.channels:
                suffix = {"depth": "depth@100ms", "markPrice": "markPrice@1s"}.get(channel, channel)
                names.append(f"{low}@{suffix}")
        return names

    def subscribe_frames(self) -> list[str]:
        return [msgspec.json.encode({"method": "SUBSCRIBE", "params": self.stream_names(), "id": 1}).decode()]

    def on_connect(self, ts_recv: int) -> FeedOutput:
        out = FeedOutput()
        for instrument_id, book in self.books.items():
            self._invalidate(instrument_id, book, "reconnected: book rebuilt from a fresh snapshot", ts_recv, out)
        return out

    def on_frame(self, frame: str | bytes, ts_recv: int) -> FeedOutput:
        out = FeedOutput()
        data = frame.encode() if isinstance(frame, str) else frame
        if data.startswith(b'{"result"') or data.startswith(b'{"id"'):
            return out  # a SUBSCRIBE reply
        try:
            if b"@kline_" in data[:64]:
                bar = parse_kline(data, self.registry, self.venue, ts_recv)
                if bar is not None:
                    out.events.append(bar)
                return out
            events = self._parser.parse_line(b"%d %s" % (ts_recv, data))
        except (DomainError, msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
            self.stats.malformed_frame(str(exc))
            return out
        for event in events:
            if type(event) is BookDelta:
                self._delta(event, ts_recv, out)
            else:
                out.events.append(event)
        return out

    def on_snapshot(self, instrument_id: InstrumentId, raw: Any, ts_recv: int) -> FeedOutput:
        """Apply a REST depth snapshot (bytes/str JSON or the decoded dict)."""
        out = FeedOutput()
        book = self.books.get(instrument_id)
        if book is None:
            return out
        body = raw if isinstance(raw, bytes) else raw.encode() if isinstance(raw, str) else msgspec.json.encode(raw)
        try:
            (snapshot,) = self._snapshot_parsers[instrument_id].parse_line(b"%d %s" % (ts_recv, body))
        except (DomainError, ValueError) as exc:
            self.stats.malformed_frame(f"snapshot {instrument_id}: {exc}")
            out.snapshots.append(instrument_id)
            return out
        assert isinstance(snapshot, BookSnapshot)
        book.sync.on_snapshot(snapshot)
        self._after_change(instrument_id, book, ts_recv, out)
        if book.sync.state is SyncState.AWAITING_SNAPSHOT:
            out.snapshots.append(instrument_id)  # the snapshot was older than the buffered diffs
        return out

    # -- books --------------------------------------------------------------------

    def _delta(self, delta: BookDelta, ts_recv: int, out: FeedOutput) -> None:
        book = self.books.get(delta.instrument_id)
        if book is None:
            return
        sync = book.sync
        gaps, stale = sync.gaps, sync.stale_dropped
        applied = sync.on_delta(delta)
        if sync.stale_dropped > stale and book.announced:
            self.stats.duplicates += 1
        if sync.gaps > gaps:
            self.stats.gaps += 1
            self._stale(delta.instrument_id, book, f"sequence gap at U={delta.first_update_id}", ts_recv, out)
            out.snapshots.append(delta.instrument_id)
            return
        if applied and book.announced and sync.is_valid:
            out.events.append(delta)
            return
        self._after_change(delta.instrument_id, book, ts_recv, out)

    def _after_change(self, instrument_id: InstrumentId, book: _Book, ts_recv: int, out: FeedOutput) -> None:
        sync = book.sync
        if sync.state is SyncState.SYNCED and not sync.is_valid:  # crossed: never publish it
            self.stats.crossed += 1
            self._invalidate(instrument_id, book, "crossed book", ts_recv, out)
            return
        if sync.is_valid and not book.announced:
            book.announced = True
            out.events.append(book_snapshot_event(instrument_id, sync.book, ts_recv, ts_recv))
            out.events.append(BookStatus(instrument_id, True, "synced", ts_recv, ts_recv))

    def _stale(self, instrument_id: InstrumentId, book: _Book, reason: str, ts_recv: int, out: FeedOutput) -> None:
        if book.announced:
            out.events.append(BookStatus(instrument_id, False, reason, ts_recv, ts_recv))
        book.announced = False

    def _invalidate(self, instrument_id: InstrumentId, book: _Book, reason: str, ts_recv: int, out: FeedOutput) -> None:
        self._stale(instrument_id, book, reason, ts_recv, out)
        book.sync = BinanceBookSync(book.sync.instrument, self.futures)
        out.snapshots.append(instrument_id)


_REST = {
    Venue.BINANCE: ("binance", "publicGetDepth", 1000),
    Venue.BINANCE_USDM: ("binanceusdm", "fapiPublicGetDepth", 1000),
    Venue.BINANCE_COINM: ("binancecoinm", "dapiPublicGetDepth", 1000),
}


def binance_rest_snapshot_fetcher(venue: Venue, exchange: Any = None) -> SnapshotFetcher:
    """A fetcher of REST depth snapshots through ccxt's raw endpoint (strings and lastUpdateId kept).

    ``exchange`` is a ``ccxt.async_support`` exchange (created with rate limiting if None).
    """
    name, method, limit = _REST[Venue(venue)]
    if exchange is None:
        import ccxt.async_support as ccxt_async

        exchange = getattr(ccxt_async, name)({"enableRateLimit": True})

    async def fetch(instrument_id: InstrumentId) -> Any:
        return await getattr(exchange, method)({"symbol": instrument_id.symbol, "limit": limit})

    return fetch
