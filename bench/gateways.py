"""Venue feed cores: normalisation (messages/s) and local-book update (updates/s) throughput.

Each venue's sans-I/O feed (``BinanceFeed``, ``BitmexFeed``, ``HuobiFeed``)
gets its frames through ``on_frame(frame, ts_recv)`` exactly as the live
client hands them over (frames are loaded into memory first: the socket is
not measured). Two rows per venue:

- ``gateways.<venue>.messages_per_s``: every frame of the stream (book
  diffs, trades, best bid/offer, snapshots, pings) through ``on_frame`` into
  domain events: typed decoding, exact ticks and lots, sequencing, the local
  book, the published events.
- ``gateways.<venue>.book_updates_per_s``: only the book frames of the same
  stream (the snapshot or partial, then the diffs), counted as the updates
  actually applied to the local book per second.

Payloads:

- Binance spot, USD-M, COIN-M: the real captures in ``<data>/binance/<spot|usdm|cm>``
  (BTC and ETH, every file, in stream order; the REST snapshot line goes
  through ``on_snapshot``).
- BitMEX and Huobi: synthesised from the documented example messages that
  ``tests/gateways/bitmex`` and ``tests/gateways/huobi`` use (BitMEX wsAPI
  ``orderBookL2`` partial/update/insert/delete walk-through, ``trade`` and
  ``quote`` rows; Huobi spot API ``mbp.150`` ``rep`` and incremental update,
  ``trade.detail``, ``bbo``, ``ping``), scaled into a long stream of the
  same shapes at August-2024 BTC prices: one seeded random walk of the book
  (no level ever crosses the mid), BitMEX row ids derived from the price as
  in the documented walk-through (``18_000_000_000 - price * 100``), Huobi
  ``seqNum``/``prevSeqNum`` chained with irregular steps, trade ids
  increasing, every Huobi frame gzip-compressed as the venue sends it,
  Huobi trade amounts below 0.001 in exponent notation (``6.4E-5``) as its
  Java back end prints them and as crypto-chassis/ccapi (PR #98) met them.
  Of the draws, 70% change the book (one to three levels, or the mid
  moves a tick), 15% are trades, 15% best bid/offer; BitMEX sends one frame
  per action, so about 75% of its frames are book frames; Huobi also pings
  every 5 s of stream time.

After each run the bench checks what the feed produced: no malformed frame,
no gap, no crossed book, and for BitMEX and Huobi a local book equal, level
by level, to the generator's book. A mismatch fails the bench.

Baseline, measured in the same run: :func:`bench.ingest._naive`
(``json.loads`` per line into Python dicts, pandas, ``to_parquet``) on the
Binance captures of the same market; for BitMEX and Huobi, on all the
Binance captures (it only reads Binance lines). For the book rows it runs
on the capture's snapshot and depth lines only. It keeps no book and checks
nothing, and it also decompresses the file and writes Parquet, which the
feeds do not.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.ingest import _naive
from jtrader.config import Settings
from jtrader.domain import BookDelta, InstrumentRegistry, Venue
from jtrader.gateways.binance.data import BinanceFeed
from jtrader.gateways.binance.parsing import iter_capture
from jtrader.gateways.bitmex import BitmexFeed
from jtrader.gateways.huobi.data import HuobiFeed
from jtrader.ingest import default_registry
from jtrader.marketdata.book import OrderBook

__all__ = ["run", "BitmexStream", "HuobiStream"]

N_FRAMES = 100_000  # per synthetic venue
_MARKETS = {"spot": Venue.BINANCE, "usdm": Venue.BINANCE_USDM, "cm": Venue.BINANCE_COINM}
_T0_MS = 1_723_161_255_000  # 2024-08-08 23:54:15 UTC, the start of the Binance captures
_BOOK_SHARE, _TRADE_SHARE = 0.70, 0.15  # the rest: best bid/offer


@dataclass
class _Run:
    messages: int
    applied: int
    seconds: float


class _Walk:
    """A seeded book random walk in ticks: bids strictly below ``mid``, asks strictly above, ``depth`` deep."""

    def __init__(self, rng: random.Random, mid: int, depth: int, size: Callable[[], int]) -> None:
        self.rng, self.mid, self.depth, self.size = rng, mid, depth, size
        self.bids = {mid - k: size() for k in range(1, depth + 1)}
        self.asks = {mid + k: size() for k in range(1, depth + 1)}

    def step(self, n_levels: int) -> tuple[list[Change], list[Change]]:
        """Change ``n_levels`` levels, or move the mid a tick; return the net (bid, ask) changes.

        A change is ``(price, old size, new size)``, 0 meaning absent; best first.
        """
        rng = self.rng
        before: tuple[dict[int, int], dict[int, int]] = ({}, {})
        if rng.random() < 0.04:  # the mid moves: the level it lands on and the one leaving the window go
            self.mid += 1 if rng.random() < 0.5 else -1
            for side, old in zip((self.bids, self.asks), before, strict=True):
                for price in [p for p in side if p == self.mid or abs(p - self.mid) > self.depth]:
                    old[price] = side.pop(price)
        else:
            for _ in range(n_levels):
                is_bid = rng.random() < 0.5
                side, old = (self.bids, before[0]) if is_bid else (self.asks, before[1])
                price = self.mid - rng.randint(1, self.depth) if is_bid else self.mid + rng.randint(1, self.depth)
                old.setdefault(price, side.get(price, 0))
                if price in side and rng.random() < 0.25:
                    del side[price]
                else:
                    side[price] = self.size()
        bids = [(p, old, self.bids.get(p, 0)) for p, old in sorted(before[0].items(), reverse=True)]
        asks = [(p, old, self.asks.get(p, 0)) for p, old in sorted(before[1].items())]
        return [c for c in bids if c[1] != c[2]], [c for c in asks if c[1] != c[2]]

    def best(self) -> tuple[tuple[int, int], tuple[int, int]]:
        bid, ask = max(self.bids), min(self.asks)
        return (bid, self.bids[bid]), (ask, self.asks[ask])

    def book(self) -> OrderBook:
        book = OrderBook()
        book.apply_snapshot(self.bids.items(), self.asks.items())
        return book


Change = tuple[int, int, int]


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class BitmexStream:
    """XBTUSD ``orderBookL2_25``, ``trade`` and ``quote`` frames in the shapes of the BitMEX wsAPI examples.

    ``frames`` is the whole stream (welcome, partial, then the mix),
    ``book_frames`` its book part; ``walk`` holds the venue's book after the
    last frame, in ticks of 0.5 USD and lots of 1 contract.
    """

    TABLE = "orderBookL2_25"

    def __init__(self, n: int, seed: int = 5) -> None:
        rng = random.Random(seed)
        self.walk = _Walk(rng, mid=123_200, depth=25, size=lambda: rng.randint(1, 400) * 100)  # 61,600 USD
        self.frames: list[str] = ['{"info":"Welcome to the BitMEX Realtime API.","version":"2.0.0"}']
        rows = [self._row(p, "Sell", s) for p, s in sorted(self.walk.asks.items(), reverse=True)]
        rows += [self._row(p, "Buy", s) for p, s in sorted(self.walk.bids.items(), reverse=True)]
        self.frames.append(self._frame("partial", rows, keys=True))
        self.book_frames = list(self.frames)
        ms = _T0_MS
        while len(self.frames) < n:
            ms += rng.randint(1, 9)
            draw = rng.random()
            if draw < _BOOK_SHARE:
                self._book_step(rng.choice((1, 1, 1, 2, 3)))
                continue
            (bid, bid_size), (ask, ask_size) = self.walk.best()
            if draw < _BOOK_SHARE + _TRADE_SHARE:
                side = rng.choice(("Buy", "Sell"))
                size = rng.randint(1, 50) * 100
                row = {
                    "timestamp": _iso(ms), "symbol": "XBTUSD", "side": side, "size": size,
                    "price": self._price(ask if side == "Buy" else bid), "tickDirection": "ZeroPlusTick",
                    "trdMatchID": str(uuid.UUID(int=rng.getrandbits(128))), "grossValue": size * 1623,
                    "homeNotional": size / 61_600, "foreignNotional": size,
                }  # fmt: skip
                self.frames.append(json.dumps({"table": "trade", "action": "insert", "data": [row]}))
            else:
                row = {
                    "timestamp": _iso(ms), "symbol": "XBTUSD", "bidSize": bid_size, "bidPrice": self._price(bid),
                    "askPrice": self._price(ask), "askSize": ask_size,
                }  # fmt: skip
                self.frames.append(json.dumps({"table": "quote", "action": "insert", "data": [row]}))

    @staticmethod
    def _price(ticks: int) -> float | int:
        return ticks // 2 if ticks % 2 == 0 else ticks / 2

    def _row(self, ticks: int, side: str, size: int | None, with_price: bool = True) -> dict[str, Any]:
        # the documented walk-through's ids: 18_000_000_000 - price * 100 (price 80 -> 17999992000)
        row: dict[str, Any] = {"symbol": "XBTUSD", "id": 18_000_000_000 - ticks * 50, "side": side}
        if size is not None:
            row["size"] = size
        if with_price:
            row["price"] = self._price(ticks)
        return row

    def _frame(self, action: str, rows: list[dict[str, Any]], keys: bool = False) -> str:
        msg: dict[str, Any] = {"table": self.TABLE}
        if keys:
            msg["keys"] = ["symbol", "id", "side"]
        msg |= {"action": action, "data": rows}
        return json.dumps(msg, separators=(",", ":"))

    def _book_step(self, n_levels: int) -> None:
        bids, asks = self.walk.step(n_levels)
        by_action: dict[str, list[dict[str, Any]]] = {"delete": [], "update": [], "insert": []}
        for changes, side in ((bids, "Buy"), (asks, "Sell")):
            for price, old, new in changes:
                if not new:
                    by_action["delete"].append(self._row(price, side, None, with_price=False))
                elif old:
                    by_action["update"].append(self._row(price, side, new, with_price=False))
                else:
                    by_action["insert"].append(self._row(price, side, new))
        for action, rows in by_action.items():  # one action per frame, as BitMEX sends them
            if rows:
                frame = self._frame(action, rows)
                self.frames.append(frame)
                self.book_frames.append(frame)


def _dec(units: int, decimals: int) -> str:
    """``units / 10**decimals`` as a plain JSON number, no exponent, no trailing zeros: 61600.5, 0.000064."""
    whole, frac = divmod(units, 10**decimals)
    frac_text = f"{frac:0{decimals}d}".rstrip("0")
    return f"{whole}.{frac_text}" if frac_text else str(whole)


def _java_double(units: int, decimals: int) -> str:
    """As Java's ``Double.toString`` prints it: exponent notation below 0.001 (``6.4E-5``), else plain."""
    if units >= 10 ** (decimals - 3):
        return _dec(units, decimals)
    digits = str(units).rstrip("0")
    exponent = len(str(units)) - 1 - decimals
    return f"{digits[0]}.{digits[1:] or '0'}E{exponent}"


class HuobiStream:
    """btcusdt ``mbp.150``, ``trade.detail``, ``bbo`` and ``ping`` frames in the shapes of the Huobi spot API docs.

    ``frames`` are gzip-compressed bytes, ``book_frames`` the book part; the
    ``rep`` snapshot arrives after three updates (the feed buffers them, drops
    the two the snapshot already holds and applies the third), as on a fresh
    connection. Prices and sizes are plain JSON numbers, as in the docs.
    """

    CH = "market.btcusdt.mbp.150"

    def __init__(self, n: int, seed: int = 11) -> None:
        rng = random.Random(seed)
        self.walk = _Walk(rng, mid=6_160_000, depth=150, size=lambda: rng.randint(1, 2_000_000))  # 61,600.00 USDT
        self.seq = 100_020_142_010
        texts: list[tuple[bool, str]] = []  # (book frame?, JSON)
        ms = _T0_MS
        self._mbp(rng, ms, texts)
        self._mbp(rng, ms, texts)
        bids = self._levels(sorted(self.walk.bids.items(), reverse=True))
        asks = self._levels(sorted(self.walk.asks.items()))
        rep = (
            f'{{"id":"snap-btcusdt-1","rep":"{self.CH}","status":"ok",'
            f'"data":{{"seqNum":{self.seq},"bids":{bids},"asks":{asks}}}}}'
        )
        self._mbp(rng, ms, texts)
        texts.append((True, rep))
        trade_id = 102_523_573_486
        next_ping = ms + 5_000
        while len(texts) < n:
            ms += rng.randint(1, 9)
            if ms >= next_ping:  # Huobi pings every 5 s
                texts.append((False, f'{{"ping":{ms}}}'))
                next_ping += 5_000
                continue
            draw = rng.random()
            if draw < _BOOK_SHARE:
                self._mbp(rng, ms, texts)
                continue
            (bid, bid_size), (ask, ask_size) = self.walk.best()
            if draw < _BOOK_SHARE + _TRADE_SHARE:
                direction = rng.choice(("buy", "sell"))
                trade_id += 1
                price = _dec(ask if direction == "buy" else bid, 2)
                row = (
                    f'{{"id":{trade_id * 10**15 + rng.randint(0, 10**15 - 1)},"ts":{ms},"tradeId":{trade_id},'
                    f'"amount":{_java_double(rng.randint(1, 500_000), 6)},"price":{price},"direction":"{direction}"}}'
                )
                tick = f'{{"id":{trade_id},"ts":{ms},"data":[{row}]}}'
                text = f'{{"ch":"market.btcusdt.trade.detail","ts":{ms + 2},"tick":{tick}}}'
            else:
                text = (
                    f'{{"ch":"market.btcusdt.bbo","ts":{ms + 1},"tick":{{"seqId":{self.seq},"ask":{_dec(ask, 2)},'
                    f'"askSize":{_dec(ask_size, 6)},"bid":{_dec(bid, 2)},"bidSize":{_dec(bid_size, 6)},'
                    f'"quoteTime":{ms},"symbol":"btcusdt"}}}}'
                )
            texts.append((False, text))
        self.frames = [gzip.compress(text.encode(), compresslevel=6, mtime=0) for _, text in texts]
        self.book_frames = [f for f, (is_book, _) in zip(self.frames, texts, strict=True) if is_book]

    @staticmethod
    def _levels(levels: list[tuple[int, int]]) -> str:
        return "[" + ",".join(f"[{_dec(p, 2)},{_dec(q, 6)}]" for p, q in levels) + "]"

    def _mbp(self, rng: random.Random, ms: int, texts: list[tuple[bool, str]]) -> None:
        bids, asks = self.walk.step(rng.randint(1, 4))
        prev, self.seq = self.seq, self.seq + rng.randint(1, 40)
        bids_text = self._levels([(p, q) for p, _, q in bids])
        asks_text = self._levels([(p, q) for p, _, q in asks])
        tick = f'{{"seqNum":{self.seq},"prevSeqNum":{prev},"bids":{bids_text},"asks":{asks_text}}}'
        texts.append((True, f'{{"ch":"{self.CH}","ts":{ms},"tick":{tick}}}'))


# -- runs ---------------------------------------------------------------------------


def _capture_lines(files: list[Path]) -> dict[str, list[tuple[int, bytes]]]:
    """Lines of each symbol's files in stream order: symbol -> [(ts_recv, JSON)]."""
    lines: dict[str, list[tuple[int, bytes]]] = {}
    for path in files:
        out = lines.setdefault(path.name.rpartition("_")[0].upper(), [])
        for _, line in iter_capture(path):
            head, _, payload = line.partition(b" ")
            out.append((int(head), payload))
    return lines


def _is_book_line(payload: bytes) -> bool:
    return b'"depthUpdate"' in payload[:200] or payload.startswith(b'{"lastUpdateId"')


def _run_binance(registry: InstrumentRegistry, venue: Venue, lines: dict[str, list[tuple[int, bytes]]]) -> _Run:
    feed = BinanceFeed(registry, venue, list(lines))
    messages = 0
    started = time.perf_counter()
    for symbol, stream in lines.items():
        instrument_id = registry.find(symbol, venue.value).id
        on_frame, on_snapshot = feed.on_frame, feed.on_snapshot
        for ts, payload in stream:
            if payload.startswith(b'{"lastUpdateId"'):
                on_snapshot(instrument_id, payload, ts)
            else:
                on_frame(payload, ts)
        messages += len(stream)
    seconds = time.perf_counter() - started
    stats = feed.stats
    if stats.malformed or stats.gaps or stats.crossed or not all(b.sync.is_valid for b in feed.books.values()):
        raise SystemExit(f"{venue.value}: the feed did not keep a valid book on the captures: {stats}")
    return _Run(messages, sum(b.sync.applied for b in feed.books.values()), seconds)


def _run_synthetic(feed: Any, frames: list[Any], expected: OrderBook) -> _Run:
    ts = _T0_MS * 1_000_000
    feed.on_connect(ts)
    on_frame = feed.on_frame
    applied = 0
    started = time.perf_counter()
    for frame in frames:
        ts += 1_000_000
        for event in on_frame(frame, ts).events:
            if type(event) is BookDelta:
                applied += 1
    seconds = time.perf_counter() - started
    stats = feed.stats
    (book,) = feed.books.values()
    if stats.malformed or stats.gaps or stats.crossed or book.book.depth(10_000) != expected.depth(10_000):
        raise SystemExit(f"{feed.venue.value}: the local book differs from the venue's after the stream: {stats}")
    return _Run(len(frames), applied, seconds)


def _naive_seconds(files: list[Path], keep: Callable[[bytes], bool] | None = None) -> float:
    """Seconds :func:`bench.ingest._naive` takes on ``files`` (on copies holding only the lines ``keep`` accepts)."""
    with tempfile.TemporaryDirectory() as tmp:
        inputs = files
        if keep is not None:
            inputs = []
            for path in files:
                copy = Path(tmp) / path.parent.name / path.name
                copy.parent.mkdir(exist_ok=True)
                with gzip.open(copy, "wb", compresslevel=1) as out:
                    out.writelines(line + b"\n" for _, line in iter_capture(path) if keep(line.partition(b" ")[2]))
                inputs.append(copy)
        (Path(tmp) / "out").mkdir()
        started = time.perf_counter()
        _naive(inputs, Path(tmp) / "out")
        return time.perf_counter() - started


def run(settings: Settings, console: Console) -> list[dict]:
    root = settings.data_dir / "binance"
    files = {market: sorted((root / market).glob("*.gz")) for market in _MARKETS}
    if not all(files.values()):
        raise SystemExit(f"no Binance captures under {root}/<spot|usdm|cm>: set JTRADER_DATA_PATH")
    registry = default_registry()
    rows: list[dict] = []
    naive_all, naive_book_all = _Run(0, 0, 0.0), _Run(0, 0, 0.0)
    for market, venue in _MARKETS.items():
        lines = _capture_lines(files[market])
        book_lines = {symbol: [x for x in stream if _is_book_line(x[1])] for symbol, stream in lines.items()}
        ours = _run_binance(registry, venue, lines)
        naive = _Run(ours.messages, 0, _naive_seconds(files[market]))
        book = _run_binance(registry, venue, book_lines)
        naive_book = _Run(sum(map(len, book_lines.values())), 0, _naive_seconds(files[market], _is_book_line))
        for total, run_ in ((naive_all, naive), (naive_book_all, naive_book)):
            total.messages += run_.messages
            total.seconds += run_.seconds
        console.print(
            f"  binance {market}: {ours.messages:,} messages in {ours.seconds:.2f}s, {book.applied:,} diffs applied "
            f"in {book.seconds:.2f}s; naive {naive.seconds:.2f}s, book lines {naive_book.seconds:.2f}s"
        )
        baseline = f"bench.ingest._naive (json.loads into pandas, to_parquet) on the {market} captures, same run"
        rows += _rows(f"binance_{market}", ours, book, naive, naive_book, baseline)
    baseline = "bench.ingest._naive (json.loads into pandas, to_parquet) on all the Binance captures, same run"
    synthetic: list[tuple[str, Callable[[], BitmexStream | HuobiStream], Callable[[], Any]]] = [
        ("bitmex", lambda: BitmexStream(N_FRAMES), lambda: BitmexFeed(registry, ["XBTUSD"])),
        ("huobi", lambda: HuobiStream(N_FRAMES), lambda: HuobiFeed(registry, ["btcusdt"], ("mbp", "trade", "bbo"))),
    ]
    for name, make_stream, make_feed in synthetic:
        started = time.perf_counter()
        stream = make_stream()
        built = time.perf_counter() - started
        expected = stream.walk.book()
        ours = _run_synthetic(make_feed(), stream.frames, expected)
        book = _run_synthetic(make_feed(), stream.book_frames, expected)
        console.print(
            f"  {name} (synthesised in {built:.1f}s): {ours.messages:,} frames in {ours.seconds:.2f}s, "
            f"{book.applied:,} book updates applied in {book.seconds:.2f}s"
        )
        rows += _rows(name, ours, book, naive_all, naive_book_all, baseline)
    return rows


def _rows(venue: str, ours: _Run, book: _Run, naive: _Run, naive_book: _Run, baseline: str) -> list[dict]:
    return [
        {
            "name": f"gateways.{venue}.messages_per_s",
            "value": ours.messages / ours.seconds,
            "unit": "messages/s",
            "baseline": baseline,
            "baseline_value": naive.messages / naive.seconds,
        },
        {
            "name": f"gateways.{venue}.book_updates_per_s",
            "value": book.applied / book.seconds,
            "unit": "updates/s",
            "baseline": baseline.replace(" captures", " captures' snapshot and depth lines"),
            "baseline_value": naive_book.messages / naive_book.seconds,
        },
    ]
