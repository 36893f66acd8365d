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
``binance_archive``    the public-data layout ``<base>/data/<spot|futures/um|futures/cm>/daily/<trades|aggTrades|
                       klines/1m>/<SYMBOL>/<SYMBOL>-<kind>-<YYYY-MM-DD>.zip`` over ``http(s)://`` or
                       ``file://``; archive datasets ``trades``, ``aggTrades``, ``klines`` become the lake's
                       ``trades``, ``agg_trades``, ``bars_1m``
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
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jtrader.domain import Bar, DomainError, Instrument, InstrumentId, InstrumentRegistry, Side, Trade, Venue
from jtrader.gateways.binance.book_sync import BinanceBookSync
from jtrader.gateways.huobi.parsing import iter_kline_zip, symbol_from_filename
from jtrader.ingest import FileReport, parse_binance_capture
from jtrader.ingest.columns import EventColumns
from jtrader.marketdata.units import price_parser, size_parser

__all__ = [
    "SourceBatch",
    "SourceError",
    "SourceMissing",
    "read_capture_day",
    "read_binance_archive_day",
    "read_huobi_kline_day",
    "read_ccxt_ohlcv_day",
    "ARCHIVE_DATASETS",
    "archive_path",
    "check_archive_datasets",
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
    books: dict[InstrumentId, BinanceBookSync] = {}  # the day before warms the books of the day
    batch = SourceBatch(EventColumns())
    for path in files:
        try:
            columns, report = parse_binance_capture(path, registry, books)
        except (OSError, ValueError, EOFError) as exc:
            raise SourceError(f"cannot read {path}: {exc}") from exc
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
ARCHIVE_DATASETS = {"trades": "trades", "aggTrades": "agg_trades", "klines": "bars_1m"}
"""Archive dataset (the folder name in the archive) -> the lake dataset it fills."""
# Futures aggTrades files start with this header; spot files have no header and an 8th column, is_best_match.
_AGG_TRADES_HEADER = ["agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
                      "is_buyer_maker"]  # fmt: skip
_BOOLS = {"true": True, "false": False}


def archive_path(venue: Venue, dataset: str, symbol: str, day: dt.date) -> str:
    """The archive's relative path, e.g. ``data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2024-08-08.zip``."""
    market = _ARCHIVE_MARKET[Venue(venue)]
    if dataset == "klines":
        return f"data/{market}/daily/klines/{symbol}/1m/{symbol}-1m-{day.isoformat()}.zip"
    return f"data/{market}/daily/{dataset}/{symbol}/{symbol}-{dataset}-{day.isoformat()}.zip"


def check_archive_datasets(datasets: Iterable[str]) -> list[str]:
    """Return ``datasets`` as a list; raise SourceError naming the supported ones if one is unknown."""
    datasets = list(datasets)
    unknown = [d for d in datasets if d not in ARCHIVE_DATASETS]
    if unknown:
        raise SourceError(
            f"archive dataset(s) {unknown} not supported: expected some of {', '.join(ARCHIVE_DATASETS)} "
            "(the archive's folder names)"
        )
    return datasets


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
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, FileNotFoundError):  # file:// mirrors report a missing file this way
            raise SourceMissing(f"{url}: no such file") from None
        raise SourceError(f"{url}: {exc}") from None
    except (OSError, TimeoutError) as exc:
        raise SourceError(f"{url}: {exc}") from None


def _ms_or_us_to_ns(value: str) -> int:
    ts = int(value)
    return ts * 1_000 if ts > 10**14 else ts * 1_000_000  # the archive switched spot to microseconds in 2025


def _csv_rows(blob: bytes, url: str) -> tuple[list[str] | None, list[list[str]]]:
    """The header (None if the file has none) and the rows of the zip's one CSV."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if len(names) != 1:
                raise SourceError(f"{url}: expected one CSV in the zip, found {names}")
            text = archive.read(names[0]).decode()
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{url}: not a zip or a damaged one ({exc}); download it again") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"{url}: the CSV is not UTF-8 text ({exc})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if rows and rows[0] and not rows[0][0].lstrip("-").isdigit():
        return rows[0], rows[1:]  # futures files have a header, spot files do not
    return None, rows


def _check_agg_trades_shape(header: list[str] | None, rows: list[list[str]], url: str) -> None:
    expected = ", ".join(_AGG_TRADES_HEADER)
    if header is not None and [h.strip().lower() for h in header] != _AGG_TRADES_HEADER:
        raise SourceError(f"{url}: header {','.join(header)!r} is not an aggTrades header: expected {expected}")
    if rows and len(rows[0]) not in (7, 8):
        raise SourceError(
            f"{url}: {len(rows[0])} columns in the first row {','.join(rows[0])!r}: expected aggTrades columns "
            f"{expected} (and is_best_match on spot)"
        )


def _agg_trade(row: list[str], instrument: Instrument, price: Any, size: Any) -> tuple[Trade, int, int]:
    if len(row) not in (7, 8):
        raise ValueError(f"expected 7 or 8 columns, got {len(row)}")
    first_id, last_id = int(row[3]), int(row[4])
    if not 0 <= first_id <= last_id:
        raise ValueError(f"first trade id {first_id} after last trade id {last_id}")
    buyer_maker = _BOOLS.get(row[6].strip().lower())
    if buyer_maker is None:
        raise ValueError(f"is_buyer_maker: expected true or false, got {row[6]!r}")
    ts = _ms_or_us_to_ns(row[5])
    trade = Trade(
        instrument.id, price.parse(row[1]), size.parse(row[2]), Side.SELL if buyer_maker else Side.BUY,
        str(int(row[0])), ts, ts,
    )  # fmt: skip
    return trade, first_id, last_id


def read_binance_archive_day(
    base_url: str, instrument: Instrument, datasets: list[str], day: dt.date, fetch: Callable[[str], bytes] = _fetch
) -> SourceBatch:
    """Trades, aggregate trades and 1m klines of one day from the archive's daily zips.

    Columns (https://github.com/binance/binance-public-data): trades
    ``id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]``; aggTrades
    ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker[,is_best_match]``;
    futures files start with a header, spot files do not; times are ms, or
    µs in spot files from 2025. A row that does not parse is a reject
    (counted, sampled in ``origin``); a file of the wrong shape, or whose
    rows all fail, raises SourceError before anything is written.
    """
    datasets = check_archive_datasets(datasets)
    batch = SourceBatch(EventColumns())
    price, size = price_parser(instrument), size_parser(instrument)
    iid = instrument.id
    for dataset in datasets:
        url = f"{base_url.rstrip('/')}/{archive_path(iid.venue, dataset, iid.symbol, day)}"
        header, rows = _csv_rows(fetch(url), url)
        if dataset == "aggTrades":
            _check_agg_trades_shape(header, rows, url)
        batch.origin.append(url)
        rejects, first_reject = batch.rejects, ""
        for line_no, row in enumerate(rows, start=1 if header is None else 2):
            batch.messages += 1
            try:
                if dataset == "trades":
                    ts = _ms_or_us_to_ns(row[4])
                    event: Any = Trade(
                        iid, price.parse(row[1]), size.parse(row[2]),
                        Side.SELL if row[5].lower() == "true" else Side.BUY, row[0], ts, ts,
                    )  # fmt: skip
                    batch.columns.add_trade(instrument, event)
                elif dataset == "aggTrades":
                    trade, first_id, last_id = _agg_trade(row, instrument, price, size)
                    batch.columns.add_agg_trade(instrument, trade, first_id, last_id)
                else:
                    open_ns = _ms_or_us_to_ns(row[0])
                    close_ns = open_ns + 60 * 10**9
                    event = Bar(
                        iid, price.parse(row[1]), price.parse(row[2]), price.parse(row[3]), price.parse(row[4]),
                        float(row[5]), float(row[7]), int(row[8]), 60 * 10**9, close_ns, close_ns,
                    )  # fmt: skip
                    batch.columns.add_bar(instrument, event)
            except (DomainError, IndexError, ValueError) as exc:
                batch.rejects += 1
                first_reject = first_reject or f"line {line_no}: {exc}"
                if batch.rejects <= 20:
                    batch.origin.append(f"reject {url}:{line_no}: {exc}")
        if rows and batch.rejects - rejects == len(rows):
            raise SourceError(f"{url}: none of its {len(rows)} rows is a valid {dataset} row ({first_reject})")
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
