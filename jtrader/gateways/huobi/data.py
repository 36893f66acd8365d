"""Huobi (HTX) spot live market data: native WebSocket, gzip frames, ping/pong, incremental MBP.

Native, not ccxt.pro: ccxt's Huobi order book applies ``seqNum``/``prevSeqNum``
internally and hides a gap; and Huobi sends numbers as JSON floats, which
here are decoded from their text (``float_hook=str``) into exact ticks and
lots instead of Python floats. Huobi sometimes prints small numbers in
exponent notation (``6.4E-5``; crypto-chassis/ccapi PR #98 met it in trade
data): such a number is expanded exactly (``0.000064``) before parsing.

Protocol (Huobi spot API docs, "Websocket Market Data"):

- every server frame is gzip-compressed binary; text frames are accepted too;
- ``{"ping": n}`` must be answered with ``{"pong": n}`` or the server closes
  the connection (the feed answers through :attr:`FeedOutput.send`);
- ``market.<symbol>.mbp.<levels>`` pushes incremental updates with
  ``seqNum``/``prevSeqNum``; the snapshot is requested on the same connection
  with ``{"req": "market.<symbol>.mbp.<levels>"}`` and answered with ``rep``;
- procedure: buffer updates; on the snapshot (``seqNum`` S) drop buffered
  updates with ``seqNum`` <= S; the first applied has ``prevSeqNum`` <= S <
  ``seqNum``; each next one has ``prevSeqNum`` equal to the previous
  ``seqNum``. Anything else is a gap: :class:`BookStatus` ``valid=False``,
  a new ``req``, and the book is rebuilt from it;
- ``market.<symbol>.trade.detail``, ``.bbo`` and ``.kline.1min`` (a bar is
  published when the next minute's first update arrives: Huobi pushes the
  open bar repeatedly and never says it closed).

The MBP channel is served at ``wss://api.huobi.pro/feed``, the others at
``wss://api.huobi.pro/ws``: run one feed per URL (``channels`` picks).

Exceptions::

    (none raised; malformed frames are counted in ``stats``)
"""

from __future__ import annotations

import gzip
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from jtrader.domain.data import Bar, BookDelta, BookSnapshot, Level, Quote, Trade
from jtrader.domain.enums import Side, Venue
from jtrader.domain.errors import DomainError, InvalidValue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import Instrument, InstrumentRegistry
from jtrader.gateways.stream import BookStatus, FeedOutput, FeedStats, book_snapshot_event
from jtrader.marketdata.book import OrderBook
from jtrader.marketdata.units import price_parser, size_parser

__all__ = ["HuobiFeed", "HuobiMbpSync", "FEED_URL", "WS_URL", "decompress_frame"]

FEED_URL = "wss://api.huobi.pro/feed"
WS_URL = "wss://api.huobi.pro/ws"
_MS = 1_000_000


def decompress_frame(frame: str | bytes) -> bytes:
    """Return the JSON text of a Huobi frame: gunzip binary frames, pass text through."""
    if isinstance(frame, str):
        return frame.encode()
    if frame[:2] == b"\x1f\x8b":
        return gzip.decompress(frame)
    return frame


def _units(parse: Callable[[str], int], value: Any) -> int:
    """``parse`` the text of a JSON number; exponent notation (``6.4E-5``) is expanded exactly first."""
    text = value if isinstance(value, str) else str(value)
    try:
        return parse(text)
    except DomainError:
        if "e" not in text and "E" not in text:
            raise
        try:
            plain = format(Decimal(text), "f")
        except InvalidOperation:
            raise InvalidValue(f"expected a number, got {text!r}") from None
        return parse(plain)


class _Msg(msgspec.Struct):
    ch: str | None = None
    ts: int = 0
    tick: dict[str, Any] | None = None
    ping: int | None = None
    rep: str | None = None
    id: str | None = None
    status: str | None = None
    data: Any = None
    subbed: str | None = None
    err_msg: str | None = msgspec.field(default=None, name="err-msg")


class HuobiMbpSync:
    """One symbol's incremental MBP book by Huobi's ``seqNum``/``prevSeqNum`` rules.

    :meth:`on_update` returns ``"applied"``, ``"buffered"``, ``"stale"`` or ``"gap"``;
    :meth:`on_snapshot` returns True when the book is synced after replaying the buffer.
    """

    def __init__(self, max_buffer: int = 10_000) -> None:
        self.book = OrderBook()
        self.synced = False
        self.seq = -1
        self._buffer: deque[tuple[int, int, list[Level], list[Level]]] = deque(maxlen=max_buffer)

    def reset(self) -> None:
        self.synced = False
        self.seq = -1
        self._buffer.clear()

    def on_snapshot(self, seq: int, bids: list[Level], asks: list[Level]) -> bool:
        self.book.apply_snapshot(bids, asks, seq)
        self.seq = seq
        self.synced = True
        buffered, self._buffer = self._buffer, deque(maxlen=self._buffer.maxlen)
        first = True
        for seq_num, prev, b, a in buffered:
            if seq_num <= self.seq:
                continue
            ok = prev <= self.seq if first else prev == self.seq
            if not ok:
                self.synced = False
                return False
            first = False
            self.book.apply_levels(b, a)
            self.seq = self.book.last_update_id = seq_num
        return True

    def on_update(self, seq_num: int, prev: int, bids: list[Level], asks: list[Level]) -> str:
        if not self.synced:
            self._buffer.append((seq_num, prev, bids, asks))
            return "buffered"
        if seq_num <= self.seq:
            return "stale"
        if prev != self.seq:
            self.synced = False
            self._buffer.clear()
            self._buffer.append((seq_num, prev, bids, asks))
            return "gap"
        self.book.apply_levels(bids, asks)
        self.seq = self.book.last_update_id = seq_num
        return "applied"


class _Sym:
    __slots__ = ("announced", "instrument", "last_kline", "price", "req_no", "size", "sync")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.price = price_parser(instrument)
        self.size = size_parser(instrument)
        self.sync = HuobiMbpSync()
        self.announced = False
        self.last_kline: dict[str, Any] | None = None
        self.req_no = 0

    def level(self, pair: Any) -> Level:
        price, size = pair
        return _units(self.price.parse, price), _units(self.size.parse, size)


class HuobiFeed:
    """Sans-I/O Huobi spot market data for ``symbols`` (lower case, e.g. ``btcusdt``)."""

    venue = Venue.HUOBI

    def __init__(
        self,
        registry: InstrumentRegistry,
        symbols: Sequence[str],
        channels: Sequence[str] = ("mbp",),
        levels: int = 150,
        url: str | None = None,
    ) -> None:
        self.registry = registry
        self.channels = list(channels)
        self.levels = levels
        self.url = url or (FEED_URL if self.channels == ["mbp"] else WS_URL)
        self.stats = FeedStats()
        self.syms = {s.lower(): _Sym(registry.find(s.lower(), Venue.HUOBI.value)) for s in symbols}
        self._decode = msgspec.json.Decoder(_Msg, float_hook=str).decode

    @property
    def books(self) -> dict[InstrumentId, HuobiMbpSync]:
        return {s.instrument.id: s.sync for s in self.syms.values()}

    def _topic(self, symbol: str, channel: str) -> str:
        return {
            "mbp": f"market.{symbol}.mbp.{self.levels}",
            "trade": f"market.{symbol}.trade.detail",
            "bbo": f"market.{symbol}.bbo",
            "kline": f"market.{symbol}.kline.1min",
        }[channel]

    def subscribe_frames(self) -> list[str]:
        return [
            msgspec.json.encode({"sub": self._topic(s, c), "id": f"sub-{s}-{c}"}).decode()
            for s in self.syms
            for c in self.channels
        ]

    def _request_snapshot(self, sym: _Sym, out: FeedOutput) -> None:
        sym.req_no += 1
        symbol = sym.instrument.id.symbol
        topic = self._topic(symbol, "mbp")
        out.send.append(msgspec.json.encode({"req": topic, "id": f"snap-{symbol}-{sym.req_no}"}).decode())
        self.stats.resyncs += 1

    def on_connect(self, ts_recv: int) -> FeedOutput:
        out = FeedOutput()
        for sym in self.syms.values():
            if sym.announced:
                out.events.append(BookStatus(sym.instrument.id, False, "reconnected", ts_recv, ts_recv))
            sym.announced = False
            sym.sync.reset()
            if "mbp" in self.channels:
                self._request_snapshot(sym, out)
        return out

    def on_snapshot(self, instrument_id: InstrumentId, raw: Any, ts_recv: int) -> FeedOutput:
        return FeedOutput()  # Huobi snapshots come as 'rep' frames on the same socket

    def on_frame(self, frame: str | bytes, ts_recv: int) -> FeedOutput:
        out = FeedOutput()
        try:
            msg = self._decode(decompress_frame(frame))
            if msg.ping is not None:
                self.stats.pings += 1
                out.send.append(msgspec.json.encode({"pong": msg.ping}).decode())
            elif msg.rep is not None:
                self._rep(msg, ts_recv, out)
            elif msg.ch is not None and msg.tick is not None:
                parts = msg.ch.split(".")
                sym = self.syms.get(parts[1]) if len(parts) > 2 else None
                if sym is None:
                    raise InvalidValue(f"channel {msg.ch!r} is not subscribed")
                kind = parts[2]
                if kind == "mbp":
                    self._mbp(sym, msg, ts_recv, out)
                elif kind == "trade":
                    self._trades(sym, msg, ts_recv, out)
                elif kind == "bbo":
                    self._bbo(sym, msg, ts_recv, out)
                elif kind == "kline":
                    self._kline(sym, msg, ts_recv, out)
                else:
                    raise InvalidValue(f"unknown channel kind {kind!r} in {msg.ch!r}")
            elif msg.status == "error":
                self.stats.malformed_frame(f"venue error: {msg.err_msg}")
        except (DomainError, msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError, ValueError,
                OSError, EOFError, zlib.error) as exc:  # fmt: skip
            self.stats.malformed_frame(f"huobi: {type(exc).__name__}: {exc}")
        return out

    # -- channels -----------------------------------------------------------------

    def _rep(self, msg: _Msg, ts_recv: int, out: FeedOutput) -> None:
        parts = (msg.rep or "").split(".")
        sym = self.syms.get(parts[1]) if len(parts) > 2 else None
        if sym is None or parts[2] != "mbp":
            return
        if msg.status != "ok" or not isinstance(msg.data, dict):
            self._request_snapshot(sym, out)
            return
        data = msg.data
        bids = [sym.level(p) for p in data.get("bids", [])]
        asks = [sym.level(p) for p in data.get("asks", [])]
        synced = sym.sync.on_snapshot(int(data["seqNum"]), bids, asks)
        if not synced:
            self.stats.gaps += 1
            self._request_snapshot(sym, out)
            return
        self._announce(sym, ts_recv, out)

    def _announce(self, sym: _Sym, ts_recv: int, out: FeedOutput) -> None:
        if sym.sync.book.is_crossed():
            self.stats.crossed += 1
            sym.sync.reset()
            self._stale(sym, "crossed book", ts_recv, out)
            self._request_snapshot(sym, out)
            return
        sym.announced = True
        out.events.append(book_snapshot_event(sym.instrument.id, sym.sync.book, ts_recv, ts_recv))
        out.events.append(BookStatus(sym.instrument.id, True, "synced", ts_recv, ts_recv))

    def _stale(self, sym: _Sym, reason: str, ts: int, out: FeedOutput) -> None:
        if sym.announced:
            out.events.append(BookStatus(sym.instrument.id, False, reason, ts, ts))
        sym.announced = False

    def _mbp(self, sym: _Sym, msg: _Msg, ts_recv: int, out: FeedOutput) -> None:
        tick = msg.tick or {}
        seq, prev = int(tick["seqNum"]), int(tick["prevSeqNum"])
        bids = [sym.level(p) for p in tick.get("bids") or []]
        asks = [sym.level(p) for p in tick.get("asks") or []]
        result = sym.sync.on_update(seq, prev, bids, asks)
        if result == "stale":
            self.stats.duplicates += 1
        elif result == "gap":
            self.stats.gaps += 1
            self._stale(sym, f"sequence gap: prevSeqNum {prev} after seqNum {sym.sync.seq}", ts_recv, out)
            self._request_snapshot(sym, out)
        elif result == "applied":
            if sym.sync.book.is_crossed():
                self.stats.crossed += 1
                sym.sync.reset()
                self._stale(sym, "crossed book", ts_recv, out)
                self._request_snapshot(sym, out)
            elif sym.announced:
                out.events.append(BookDelta(sym.instrument.id, bids, asks, seq, seq, prev, msg.ts * _MS, ts_recv))

    def _trades(self, sym: _Sym, msg: _Msg, ts_recv: int, out: FeedOutput) -> None:
        for row in (msg.tick or {})["data"]:
            direction = row["direction"]
            if direction not in ("buy", "sell"):
                raise InvalidValue(f"trade direction: expected buy or sell, got {direction!r}")
            out.events.append(
                Trade(
                    sym.instrument.id,
                    _units(sym.price.parse, row["price"]),
                    _units(sym.size.parse, row["amount"]),
                    Side(direction),  # Huobi's direction is the taker's side
                    str(row.get("tradeId", row.get("id"))),
                    int(row["ts"]) * _MS,
                    ts_recv,
                )
            )

    def _bbo(self, sym: _Sym, msg: _Msg, ts_recv: int, out: FeedOutput) -> None:
        t = msg.tick or {}
        out.events.append(
            Quote(
                sym.instrument.id,
                _units(sym.price.parse, t["bid"]),
                _units(sym.size.parse, t["bidSize"]),
                _units(sym.price.parse, t["ask"]),
                _units(sym.size.parse, t["askSize"]),
                int(t.get("quoteTime") or msg.ts) * _MS,
                ts_recv,
                int(t.get("seqId") or 0),
            )
        )

    def _kline(self, sym: _Sym, msg: _Msg, ts_recv: int, out: FeedOutput) -> None:
        tick = msg.tick or {}
        last = sym.last_kline
        if last is not None and int(tick["id"]) > int(last["id"]):
            out.events.append(self._bar(sym, last, ts_recv))
        sym.last_kline = tick

    def _bar(self, sym: _Sym, t: dict[str, Any], ts_recv: int) -> Bar:
        price = sym.price.parse
        close_ns = (int(t["id"]) + 60) * 1_000_000_000
        return Bar(
            sym.instrument.id,
            _units(price, t["open"]),
            _units(price, t["high"]),
            _units(price, t["low"]),
            _units(price, t["close"]),
            float(t["amount"]),  # base volume
            float(t["vol"]),  # quote turnover
            int(t["count"]),
            60_000_000_000,
            close_ns,
            ts_recv,
        )


def snapshot_from_rep(feed: HuobiFeed, symbol: str) -> BookSnapshot | None:
    """The current book of ``symbol`` as a BookSnapshot, or None while unsynced (for tools and tests)."""
    sym = feed.syms[symbol]
    if not sym.sync.synced:
        return None
    return book_snapshot_event(sym.instrument.id, sym.sync.book, 0, 0)
