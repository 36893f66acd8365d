"""Where the crawler reads one (venue, symbol, day) from: file mirrors, the Binance archive, ccxt REST.

Every source returns :class:`SourceBatch`: events already in lake columns
(:class:`~jtrader.ingest.columns.EventColumns`) plus the counts the checks
need. Venue quirks stay in ``jtrader.gateways``; sources only find and fetch.

=====================  ============================================================
source                 reads
=====================  ============================================================
``capture``            recorder captures / the sample mirror: ``<root>/binance/<spot|usdm|cm>/<symbol>_<YYYYMMDD>.gz``
                       (the previous day's file too: it warms the book and holds the
                       first events of the day)
``binance_archive``    the public-data layout ``<base>/data/<spot|futures/um|futures/cm>/daily/<trades|klines/1m>/
                       <SYMBOL>/<SYMBOL>-<kind>-<YYYY-MM-DD>.zip`` over ``http(s)://`` or ``file://``
``huobi_klines``       Huobi kline zips ``<root>/huobi/<symbol>_1min_<period>.zip``
``ccxt``               ccxt REST ``fetch_ohlcv`` (1m bars) for any ccxt venue
=====================  ============================================================

Exceptions::

    SourceError(Exception)          the source cannot be read (retried by the crawler)
     +-- SourceMissing              the source has no data for the day (not retried)
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jtrader.domain import Bar, DomainError, Instrument, InstrumentRegistry, Side, Trade, Venue
from jtrader.gateways.huobi.parsing import iter_kline_zip, symbol_from_filename
from jtrader.ingest.columns import EventColumns
from jtrader.ingest.engine import FileReport, _Ingestor
from jtrader.marketdata.units import price_parser, size_parser

__all__ = [
    "SourceBatch",
    "SourceError",
    "SourceMissing",
    "read_capture_day",
    "read_binance_archive_day",
    "read_huobi_kline_day",
    "read_ccxt_ohlcv_day",
    "archive_path",
]

_NS_DAY = 86_400 * 10**9


class SourceError(Exception):
    """A source could not be read; the message names the path or URL and the cause."""


class SourceMissing(SourceError):
    """The source holds nothing for this day (a 404, no file)."""


@dataclass
class SourceBatch:
    columns: EventColumns
    files: list[FileReport] = field(default_factory=list)
    messages: int = 0
    rejects: int = 0
    gaps: int = 0
    crossed: int = 0
    origin: list[str] = field(default_factory=list)


def _day_bounds(day: dt.date) -> tuple[int, int]:
    start = (day - dt.date(1970, 1, 1)).days * _NS_DAY
    return start, start + _NS_DAY


_CAPTURE_FOLDERS = {Venue.BINANCE: "spot", Venue.BINANCE_USDM: "usdm", Venue.BINANCE_COINM: "cm"}


def read_capture_day(root: Path, registry: InstrumentRegistry, venue: Venue, symbol: str, day: dt.date) -> SourceBatch:
    """Captures of ``day`` and the day before (book warm-up, events stamped on ``day``).

    The lake keeps only events whose ``ts_event`` falls on ``day`` (the caller filters).
    """
    folder = Path(root) / "binance" / _CAPTURE_FOLDERS[Venue(venue)]
    files = [folder / f"{symbol.lower()}_{d:%Y%m%d}.gz" for d in (day - dt.timedelta(days=1), day)]
    files = [f for f in files if f.exists()]
    if not files:
        raise SourceMissing(f"no capture of {symbol} on {day} under {folder}")
    ingestor = _Ingestor(None, registry, None)
    batch = SourceBatch(EventColumns())
    for path in files:
        report = FileReport(path=path, format="binance_capture")
        started = time.perf_counter()
        try:
            columns = ingestor._binance(path, report)
        except (OSError, ValueError, EOFError) as exc:
            raise SourceError(f"cannot read {path}: {exc}") from exc
        report.seconds = time.perf_counter() - started
        for key, buffer in columns.buffers.items():
            if key in batch.columns.buffers:
                _append(batch.columns.buffers[key], buffer)
            else:
                batch.columns.buffers[key] = buffer
        batch.files.append(report)
        batch.messages += report.messages
        batch.rejects += report.rejects
        batch.gaps += report.gaps
        batch.crossed += report.crossed
        batch.origin.append(str(path))
    return batch


def _append(into: Any, more: Any) -> None:
    for name, values in more.columns.items():
        into.columns[name].extend(values)


# -- Binance public-data archive --------------------------------------------------

_ARCHIVE_MARKET = {Venue.BINANCE: "spot", Venue.BINANCE_USDM: "futures/um", Venue.BINANCE_COINM: "futures/cm"}


def archive_path(venue: Venue, dataset: str, symbol: str, day: dt.date) -> str:
    """The archive's relative path, e.g. ``data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2024-08-08.zip``."""
    market = _ARCHIVE_MARKET[Venue(venue)]
    if dataset == "klines":
        return f"data/{market}/daily/klines/{symbol}/1m/{symbol}-1m-{day.isoformat()}.zip"
    return f"data/{market}/daily/{dataset}/{symbol}/{symbol}-{dataset}-{day.isoformat()}.zip"


def _fetch(url: str, timeout: float = 30.0) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise SourceMissing(f"{url}: not in the archive (404)") from None
        raise SourceError(f"{url}: HTTP {exc.code}") from None
    except FileNotFoundError:
        raise SourceMissing(f"{url}: no such file") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise SourceError(f"{url}: {exc}") from None


def _ms_or_us_to_ns(value: str) -> int:
    ts = int(value)
    return ts * 1_000 if ts > 10**14 else ts * 1_000_000  # the archive switched spot to microseconds in 2025


def _csv_rows(blob: bytes, url: str) -> list[list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if len(names) != 1:
                raise SourceError(f"{url}: expected one CSV in the zip, found {names}")
            text = archive.read(names[0]).decode()
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{url}: not a zip ({exc})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if rows and rows[0] and not rows[0][0].lstrip("-").isdigit():
        rows = rows[1:]  # futures files have a header, spot files do not
    return rows


def read_binance_archive_day(
    base_url: str, instrument: Instrument, datasets: list[str], day: dt.date, fetch: Callable[[str], bytes] = _fetch
) -> SourceBatch:
    """Trades (``id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]``) and 1m klines of one day."""
    batch = SourceBatch(EventColumns())
    price, size = price_parser(instrument), size_parser(instrument)
    iid = instrument.id
    for dataset in datasets:
        url = f"{base_url.rstrip('/')}/{archive_path(iid.venue, dataset, iid.symbol, day)}"
        rows = _csv_rows(fetch(url), url)
        batch.origin.append(url)
        for line_no, row in enumerate(rows, start=1):
            batch.messages += 1
            try:
                if dataset == "trades":
                    ts = _ms_or_us_to_ns(row[4])
                    event: Any = Trade(
                        iid, price.parse(row[1]), size.parse(row[2]),
                        Side.SELL if row[5].lower() == "true" else Side.BUY, row[0], ts, ts,
                    )  # fmt: skip
                    batch.columns.add_trade(instrument, event)
                elif dataset == "klines":
                    open_ns = _ms_or_us_to_ns(row[0])
                    close_ns = open_ns + 60 * 10**9
                    event = Bar(
                        iid, price.parse(row[1]), price.parse(row[2]), price.parse(row[3]), price.parse(row[4]),
                        float(row[5]), float(row[7]), int(row[8]), 60 * 10**9, close_ns, close_ns,
                    )  # fmt: skip
                    batch.columns.add_bar(instrument, event)
                else:
                    raise SourceError(
                        f"dataset {dataset!r} has no lake dataset yet (supported: trades, klines); "
                        "aggTrades needs an agg_trades dataset in jtrader.storage.lake"
                    )
            except (DomainError, IndexError, ValueError) as exc:
                if isinstance(exc, SourceError):
                    raise
                batch.rejects += 1
                if batch.rejects <= 20:
                    batch.origin.append(f"reject {url}:{line_no}: {exc}")
    return batch


# -- Huobi kline zips ---------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _huobi_bars(path: str, mtime: float) -> tuple[list[Bar], int]:
    bars, rejects = [], 0
    for _, item in iter_kline_zip(Path(path)):
        if isinstance(item, Bar):
            bars.append(item)
        else:
            rejects += 1
    return bars, rejects


def read_huobi_kline_day(root: Path, instrument: Instrument, day: dt.date) -> SourceBatch:
    """Bars of ``day`` (by close time) from every kline zip of the symbol under ``<root>/huobi``."""
    folder = Path(root) / "huobi"
    symbol = instrument.id.symbol.lower()
    zips = sorted(p for p in folder.glob(f"{symbol}_1min_*.zip") if symbol_from_filename(p) == symbol)
    if not zips:
        raise SourceMissing(f"no Huobi kline zip for {symbol} under {folder}")
    start, end = _day_bounds(day)
    batch = SourceBatch(EventColumns())
    for path in zips:
        bars, rejects = _huobi_bars(str(path), path.stat().st_mtime)
        picked = [b for b in bars if start <= b.ts_event < end]
        if not picked:
            continue
        batch.origin.append(str(path))
        batch.rejects += rejects if picked else 0
        for bar in picked:
            batch.columns.add_bar(instrument, bar)
        batch.messages += len(picked)
    if not batch.origin:
        raise SourceMissing(f"no Huobi bars of {symbol} on {day} in {[p.name for p in zips]}")
    return batch


# -- ccxt REST history ------------------------------------------------------------------


def read_ccxt_ohlcv_day(exchange: Any, market: str, instrument: Instrument, day: dt.date) -> SourceBatch:
    """1m bars of ``day`` through ``exchange.fetch_ohlcv`` (paged by ``since``; ccxt rate-limits)."""
    start, end = _day_bounds(day)
    since = start // 1_000_000
    batch = SourceBatch(EventColumns())
    price = price_parser(instrument)
    seen: set[int] = set()
    while since < end // 1_000_000:
        try:
            rows = exchange.fetch_ohlcv(market, "1m", since=since, limit=1000)
        except Exception as exc:  # ccxt.NetworkError and friends: the crawler retries
            raise SourceError(f"ccxt fetch_ohlcv {market} since {since}: {exc}") from exc
        if not rows:
            break
        for ts_ms, o, h, low, c, v in (r[:6] for r in rows):
            if ts_ms in seen or not start <= ts_ms * 1_000_000 < end:
                continue
            seen.add(ts_ms)
            close = (ts_ms + 60_000) * 1_000_000
            batch.messages += 1
            try:
                bar = Bar(
                    instrument.id, price.parse(repr(float(o))), price.parse(repr(float(h))),
                    price.parse(repr(float(low))), price.parse(repr(float(c))), float(v), 0.0, 0,
                    60 * 10**9, close, close,
                )  # fmt: skip
            except DomainError:
                batch.rejects += 1
                continue
            batch.columns.add_bar(instrument, bar)
        since = rows[-1][0] + 60_000
    batch.origin.append(f"ccxt:{getattr(exchange, 'id', '?')}:{market}")
    return batch
