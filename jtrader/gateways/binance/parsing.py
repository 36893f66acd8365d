"""Parse raw Binance WebSocket captures into domain market events.

A capture holds one message a line: ``<local receive time, ns> <JSON>``, the
JSON being the combined-stream envelope ``{"stream": ..., "data": ...}`` or a
REST depth snapshot ``{"lastUpdateId": ..., "bids": ..., "asks": ...}``.
Messages are decoded by msgspec into typed structs (no ``json.loads``, no
dicts) and prices and sizes go straight from their strings to exact ticks and
lots of the instrument.

What each message becomes:

========================  ============================  ==========================================
message                   event                         ``ts_event``
========================  ============================  ==========================================
``depthUpdate``           :class:`BookDelta`            ``T`` (matching time) on futures, ``E`` on spot
``trade``                 :class:`Trade`                ``T`` (trade time)
``bookTicker``            :class:`Quote`                ``T`` on futures; spot sends no venue time,
                                                        so ``ts_recv``
REST depth snapshot       :class:`BookSnapshot`         ``T`` on futures; spot: ``ts_recv``
``markPriceUpdate``       :class:`MarkPrice`            ``E`` (event time; its ``T`` is the next
                                                        funding time)
========================  ============================  ==========================================

Where Binance gives both an event time ``E`` (when the message was pushed)
and a transaction time ``T`` (when the matching engine did it), ``ts_event``
is ``T``: it is when the market changed and it orders trades and book changes
consistently. Venue milliseconds become nanoseconds (``ms * 1_000_000``).

Exceptions::

    DomainError(ValueError)                      (jtrader.domain.errors)
     +-- MalformedMessage                        (jtrader.marketdata.errors)
           a line that cannot become events: no receive time, bad or truncated
           JSON, a field of the wrong type or missing, a NaN/negative/non-numeric
           or off-tick price or size, an unknown stream or event, an unknown
           symbol, a crossed quote. The message names the line and the problem;
           callers count it and carry on with the next line.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec

from jtrader.domain.data import BookDelta, BookSnapshot, Level, MarketEvent, Quote, Trade
from jtrader.domain.enums import Side, Venue
from jtrader.domain.errors import DomainError, InvalidValue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import Instrument, InstrumentRegistry
from jtrader.domain.objects import Price, parse_decimal
from jtrader.marketdata.errors import MalformedMessage
from jtrader.marketdata.units import UnitParser, price_parser, size_parser

__all__ = [
    "BinanceCaptureParser",
    "BinanceEvent",
    "MalformedMessage",
    "MarkPrice",
    "detect_binance_venue",
    "iter_capture",
]

log = logging.getLogger(__name__)

_MS_TO_NS = 1_000_000


class MarkPrice(msgspec.Struct, frozen=True, gc=False, tag="mark_price"):
    """Mark price, index price and funding of a perpetual (Binance ``markPriceUpdate``).

    Values are exact Decimals as the venue sent them: mark and index prices are
    computed averages and need not lie on the price tick (use :meth:`mark_ticks`
    to mark positions). ``next_funding_ns`` is 0 where the venue sends none.
    """

    instrument_id: InstrumentId
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_ns: int
    ts_event: int
    ts_recv: int
    estimated_settle_price: Decimal | None = None

    def mark_ticks(self, instrument: Instrument) -> int:
        """The mark price rounded to the nearest tick of ``instrument``."""
        return instrument.price_to_ticks(instrument.round_price(Price(self.mark_price)))


BinanceEvent = MarketEvent | MarkPrice
_Handler = Callable[[msgspec.Raw, int], list[BinanceEvent]]

# -- wire structs (field names are Binance's; ``name=`` maps them) ----------------

_Levels = list[tuple[str, str]]


class _Envelope(msgspec.Struct):
    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw()
    # REST depth snapshot lines have no envelope:
    last_update_id: int | None = msgspec.field(default=None, name="lastUpdateId")
    bids: _Levels | None = None
    asks: _Levels | None = None
    event_ms: int | None = msgspec.field(default=None, name="E")
    transact_ms: int | None = msgspec.field(default=None, name="T")
    symbol: str | None = None


class _Depth(msgspec.Struct, kw_only=True):
    event: str = msgspec.field(name="e")
    event_ms: int = msgspec.field(name="E")
    transact_ms: int | None = msgspec.field(default=None, name="T")
    symbol: str = msgspec.field(name="s")
    first_id: int = msgspec.field(name="U")
    last_id: int = msgspec.field(name="u")
    prev_id: int = msgspec.field(default=-1, name="pu")
    bids: _Levels = msgspec.field(name="b")
    asks: _Levels = msgspec.field(name="a")


class _Trade(msgspec.Struct, kw_only=True):
    event: str = msgspec.field(name="e")
    transact_ms: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: str = msgspec.field(name="p")
    size: str = msgspec.field(name="q")
    buyer_is_maker: bool = msgspec.field(name="m")


class _BookTicker(msgspec.Struct, kw_only=True):
    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid: str = msgspec.field(name="b")
    bid_size: str = msgspec.field(name="B")
    ask: str = msgspec.field(name="a")
    ask_size: str = msgspec.field(name="A")
    event: str | None = msgspec.field(default=None, name="e")  # absent on spot
    transact_ms: int | None = msgspec.field(default=None, name="T")  # absent on spot


class _MarkPrice(msgspec.Struct, kw_only=True):
    event: str = msgspec.field(name="e")
    event_ms: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    mark: str = msgspec.field(name="p")
    index: str = msgspec.field(name="i")
    settle: str | None = msgspec.field(default=None, name="P")
    funding_rate: str = msgspec.field(default="0", name="r")
    next_funding_ms: int = msgspec.field(default=0, name="T")


class _Reject(Exception):
    """Internal: a message problem, turned into MalformedMessage with the line number."""


class _Symbol:
    __slots__ = ("instrument", "instrument_id", "price", "size")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.instrument_id = instrument.id
        self.price: UnitParser = price_parser(instrument)
        self.size: UnitParser = size_parser(instrument)

    def levels(self, levels: list[tuple[str, str]]) -> list[Level]:
        """Convert ``[price, size]`` string pairs; cache hits skip the call (most levels repeat)."""
        prices, price = self.price.cache, self.price.parse
        sizes, size = self.size.cache, self.size.parse
        # Prices are never 0, so ``get(p) or`` is a safe miss test for them.
        get = prices.get
        return [(get(p) or price(p), sizes[q] if q in sizes else size(q)) for p, q in levels]


def _exact_decimal(text: str, what: str) -> Decimal:
    raw, precision = parse_decimal(text, what)
    return Decimal(raw).scaleb(-precision)


_KNOWN_STREAMS = "depth, trade, bookTicker, markPrice"


class BinanceCaptureParser:
    """Turn capture lines of one Binance market (``venue``) into domain events.

    ``symbol`` names the instrument of REST snapshot lines that carry none
    (spot and USD-M snapshots); without it the parser uses the one symbol it
    has seen on this capture's streams. Instruments are looked up in
    ``registry`` once per symbol. ``source`` (e.g. the file name) prefixes
    error messages.

    :meth:`parse_line` returns the events of one line (usually one) or raises
    :class:`MalformedMessage`; the parser's state (the symbols seen) survives
    errors, so a caller can count the error and go on.

    Example::

        >>> from jtrader.gateways.binance.instruments import binance_instruments
        >>> parser = BinanceCaptureParser(InstrumentRegistry(binance_instruments()), Venue.BINANCE_USDM)
        >>> line = (b'1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,'
        ...         b'"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","m":false}}')
        >>> trade = parser.parse_line(line, 1)[0]
        >>> trade.price_ticks, trade.size_lots, trade.aggressor.value
        (618003, 6, 'buy')
    """

    def __init__(self, registry: InstrumentRegistry, venue: Venue, symbol: str | None = None, source: str = "") -> None:
        self.registry = registry
        self.venue = Venue(venue)
        self.symbol = symbol
        self.source = source
        self._symbols: dict[str, _Symbol] = {}
        self._handlers: dict[str, _Handler] = {}
        self._decode_envelope = msgspec.json.Decoder(_Envelope).decode
        self._decode_depth = msgspec.json.Decoder(_Depth).decode
        self._decode_trade = msgspec.json.Decoder(_Trade).decode
        self._decode_ticker = msgspec.json.Decoder(_BookTicker).decode
        self._decode_mark = msgspec.json.Decoder(_MarkPrice).decode
        self._by_kind: dict[str, _Handler] = {
            "depth": self._depth,
            "trade": self._trade,
            "bookTicker": self._book_ticker,
            "markPrice": self._mark_price,
        }

    # -- entry point -------------------------------------------------------------

    def parse_line(self, line: bytes, line_no: int = 0) -> list[BinanceEvent]:
        """Return the events of one capture line (``<recv ns> <JSON>``), or raise MalformedMessage.

        The error names ``line_no``, the stream and what was wrong, e.g.
        ``btcusdt.gz:7: btcusdt@trade: BTCUSDT.binance_usdm price: expected a
        decimal string like '61800.30', got 'NaN'``; nothing is returned for a
        rejected line.
        """
        space = line.find(b" ")
        head = line[:space] if space > 0 else b""
        if not head.isdigit():
            raise MalformedMessage(
                f"expected '<receive time ns> <JSON>', got {bytes(line[:80])!r}; "
                "the line is not a Binance capture line or is truncated",
                line_no,
                self.source,
            )
        ts_recv = int(head)
        stream = "message"
        try:
            envelope = self._decode_envelope(line[space + 1 :])
            if envelope.stream is not None:
                stream = envelope.stream
                handler = self._handlers.get(stream) or self._handler_for(stream)
                return handler(envelope.data, ts_recv)
            if envelope.last_update_id is not None:
                stream = "depth snapshot"
                return [self._snapshot(envelope, envelope.last_update_id, ts_recv)]
            raise _Reject(
                'neither a stream message {"stream": ..., "data": ...} nor a depth snapshot {"lastUpdateId": ...}'
            )
        except msgspec.ValidationError as exc:
            reason = f"{stream}: unexpected message structure ({exc})"
        except msgspec.DecodeError as exc:
            reason = f"{stream}: not valid JSON ({exc}); the line may be truncated"
        except (_Reject, DomainError) as exc:
            reason = f"{stream}: {exc}"
        raise MalformedMessage(reason, line_no, self.source)

    # -- helpers -----------------------------------------------------------------

    def _handler_for(self, stream: str) -> _Handler:
        # "btcusdt@depth@100ms" -> "depth"; "btcusdt@markPrice@1s" -> "markPrice"
        kind = stream.partition("@")[2].partition("@")[0]
        handler = self._by_kind.get(kind)
        if handler is None:
            raise _Reject(f"unknown stream kind {kind!r}; this parser reads {_KNOWN_STREAMS}")
        if len(self._handlers) < 10_000:
            self._handlers[stream] = handler
        return handler

    def _lookup(self, symbol: str) -> _Symbol:
        found = self._symbols.get(symbol)
        if found is None:
            # Raises UnknownInstrument (a DomainError) naming the symbol and venue.
            found = self._symbols[symbol] = _Symbol(self.registry.find(symbol, self.venue.value))
        return found

    @staticmethod
    def _check_event(event: str | None, expected: str) -> None:
        if event != expected:
            raise _Reject(f"event type {event!r} does not match the stream, expected {expected!r}")

    # -- message kinds -------------------------------------------------------------

    def _depth(self, data: msgspec.Raw, ts_recv: int) -> list[BinanceEvent]:
        msg = self._decode_depth(data)
        if msg.event != "depthUpdate":
            self._check_event(msg.event, "depthUpdate")
        sym = self._lookup(msg.symbol)
        bids = sym.levels(msg.bids)
        asks = sym.levels(msg.asks)
        ts_ms = msg.transact_ms if msg.transact_ms is not None else msg.event_ms
        return [
            BookDelta(
                sym.instrument_id,
                bids,
                asks,
                msg.first_id,
                msg.last_id,
                msg.prev_id,
                ts_ms * _MS_TO_NS,
                ts_recv,
            )
        ]

    def _trade(self, data: msgspec.Raw, ts_recv: int) -> list[BinanceEvent]:
        msg = self._decode_trade(data)
        if msg.event != "trade":
            self._check_event(msg.event, "trade")
        sym = self._lookup(msg.symbol)
        return [
            Trade(
                sym.instrument_id,
                sym.price.parse(msg.price),
                sym.size.parse(msg.size),
                Side.SELL if msg.buyer_is_maker else Side.BUY,  # the maker bought: a seller took liquidity
                str(msg.trade_id),
                msg.transact_ms * _MS_TO_NS,
                ts_recv,
            )
        ]

    def _book_ticker(self, data: msgspec.Raw, ts_recv: int) -> list[BinanceEvent]:
        msg = self._decode_ticker(data)
        if msg.event is not None and msg.event != "bookTicker":
            self._check_event(msg.event, "bookTicker")
        sym = self._lookup(msg.symbol)
        prices, sizes = sym.price.cache, sym.size.cache
        bid, bid_size, ask, ask_size = msg.bid, msg.bid_size, msg.ask, msg.ask_size
        # Cache lookups first: bookTicker is most of the traffic and its strings repeat.
        return [
            Quote(
                sym.instrument_id,
                prices[bid] if bid in prices else sym.price.parse(bid),
                sizes[bid_size] if bid_size in sizes else sym.size.parse(bid_size),
                prices[ask] if ask in prices else sym.price.parse(ask),
                sizes[ask_size] if ask_size in sizes else sym.size.parse(ask_size),
                ts_recv if msg.transact_ms is None else msg.transact_ms * _MS_TO_NS,
                ts_recv,
                msg.update_id,
            )
        ]

    def _mark_price(self, data: msgspec.Raw, ts_recv: int) -> list[BinanceEvent]:
        msg = self._decode_mark(data)
        self._check_event(msg.event, "markPriceUpdate")
        sym = self._lookup(msg.symbol)
        mark = _exact_decimal(msg.mark, f"{sym.instrument_id} mark price")
        index = _exact_decimal(msg.index, f"{sym.instrument_id} index price")
        if mark <= 0 or index <= 0:
            raise InvalidValue(
                f"{sym.instrument_id}: mark and index prices must be positive, got {msg.mark}/{msg.index}"
            )
        settle = None if msg.settle is None else _exact_decimal(msg.settle, f"{sym.instrument_id} settle price")
        funding = _exact_decimal(msg.funding_rate, f"{sym.instrument_id} funding rate")
        if msg.event_ms < 0 or msg.next_funding_ms < 0:
            raise InvalidValue(f"{sym.instrument_id}: times must not be negative, got E={msg.event_ms}")
        return [
            MarkPrice(
                sym.instrument_id,
                mark,
                index,
                funding,
                msg.next_funding_ms * _MS_TO_NS,
                msg.event_ms * _MS_TO_NS,
                ts_recv,
                settle,
            )
        ]

    def _snapshot(self, env: _Envelope, last_update_id: int, ts_recv: int) -> BookSnapshot:
        if env.bids is None or env.asks is None:
            raise _Reject("depth snapshot without 'bids' or 'asks'")
        symbol = env.symbol or self.symbol
        if symbol is None:
            if len(self._symbols) != 1:
                seen = ", ".join(sorted(self._symbols)) or "none yet"
                raise _Reject(
                    f"depth snapshot carries no symbol and the capture's symbol is ambiguous (seen: {seen}); "
                    "create the parser with symbol=..."
                )
            symbol = next(iter(self._symbols))
        sym = self._lookup(symbol)
        bids = sym.levels(env.bids)
        asks = sym.levels(env.asks)
        ts_ms = env.transact_ms if env.transact_ms is not None else env.event_ms
        return BookSnapshot(
            sym.instrument_id,
            bids,
            asks,
            last_update_id,
            ts_recv if ts_ms is None else ts_ms * _MS_TO_NS,
            ts_recv,
        )


# -- files ---------------------------------------------------------------------------

_VENUE_FOLDERS = {
    "spot": Venue.BINANCE,
    "usdm": Venue.BINANCE_USDM,
    "um": Venue.BINANCE_USDM,
    "futures_um": Venue.BINANCE_USDM,
    "cm": Venue.BINANCE_COINM,
    "coinm": Venue.BINANCE_COINM,
    "futures_cm": Venue.BINANCE_COINM,
}


def detect_binance_venue(path: Path, first_line: bytes | None = None) -> Venue:
    """Return which Binance market a capture is from.

    By the nearest folder named ``spot``, ``usdm``/``um`` or ``cm``/``coinm``;
    otherwise by content of ``first_line`` (read from the file if None): a
    ``ps`` field (pair) or an ``_``-suffixed symbol means COIN-M; a ``pu``
    field, a futures trade's ``X`` or a ``bookTicker`` with an ``e`` means USD-M;
    anything else is spot.
    """
    path = Path(path)
    for folder in path.parents:
        venue = _VENUE_FOLDERS.get(folder.name.lower())
        if venue is not None:
            return venue
    if first_line is None:
        first_line = next((line for _, line in iter_capture(path)), b"")
    if b'"ps":' in first_line or b'_PERP"' in first_line or b'"pair":' in first_line:
        return Venue.BINANCE_COINM
    if b'"pu":' in first_line or b'"X":' in first_line or b'"e":"bookTicker"' in first_line:
        return Venue.BINANCE_USDM
    return Venue.BINANCE


_CHUNK = 1 << 20


def iter_capture(path: Path, *, strict: bool = False) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_no, line)`` for each line of a capture, gzip (by magic bytes) or plain.

    Line numbers start at 1; line endings are stripped; every line is yielded,
    blank ones included, so the caller can report each bad line by number. A
    gzip stream that ends early (a recorder killed mid-write) yields its last,
    partial line, logs a warning and, with ``strict``, then raises
    MalformedMessage. A corrupt gzip stream raises MalformedMessage after the
    lines before the damage.
    """
    path = Path(path)
    line_no = 0
    pending = b""
    with path.open("rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
        handle.seek(0)
        decompress = zlib.decompressobj(wbits=47) if gzipped else None  # 47: gzip header, auto-detected
        while True:
            chunk = handle.read(_CHUNK)
            if decompress is not None:
                try:
                    text = decompress.decompress(chunk) if chunk else decompress.flush()
                    # Concatenated gzip members (e.g. appended recordings) each start a new stream.
                    while decompress.eof and decompress.unused_data:
                        rest = decompress.unused_data
                        decompress = zlib.decompressobj(wbits=47)
                        text += decompress.decompress(rest)
                except zlib.error as exc:
                    raise MalformedMessage(
                        f"gzip stream corrupt after line {line_no} ({exc}); the lines before were read",
                        line_no + 1,
                        path.name,
                    ) from None
            else:
                text = chunk
            if text:
                lines = (pending + text).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    line_no += 1
                    yield line_no, line[:-1] if line.endswith(b"\r") else line
            if not chunk:
                break
    if pending:
        line_no += 1
        yield line_no, pending[:-1] if pending.endswith(b"\r") else pending
    if decompress is not None and not decompress.eof:
        reason = f"gzip stream ends early after line {line_no}: the file is truncated (the last line may be partial)"
        log.warning("%s: %s", path, reason)
        if strict:
            raise MalformedMessage(reason, line_no, path.name)
