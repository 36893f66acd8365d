"""Crawl one (venue, symbol, source, day) into the lake, checked, with a data-quality row; backfill ranges.

Guarantees:

- each partition is written atomically as the part ``crawl-<source>`` of
  ``<dataset>/venue=/symbol=/date=``; re-running a day replaces it, so the
  same input gives byte-identical files and no duplicate rows; a dataset the
  day no longer produces loses its old part;
- one data-quality row per (dataset, venue, symbol, date, source) is
  upserted in the SQL store (re-runs update it, never add one);
- checks per dataset: duplicates (trade ids, aggregate trade ids, bar
  times), time going backwards, gaps (sequence gaps of the book; missing
  aggregate trade ids; missing minutes of 1m bars), price sanity (positive,
  within ``max_jump`` of the day's median), crossed books; counts are
  stored, the data is kept (corrupt rows never get this far: the parsers
  reject them, and rejects are counted too);
- a source that cannot be read (a damaged zip, a file of the wrong shape)
  raises before anything is written: the partitions already in the lake stay;
- a unit only ever replaces or removes the datasets it crawls (an archive
  unit for ``trades`` leaves the day's ``agg_trades`` alone);
- :func:`crawl_range` retries a failing unit with backoff, records finished
  units in a state file and skips them when resumed.

Exceptions::

    SourceError(Exception)   (sources.py) a source that cannot be read after the retries
     +-- SourceMissing       nothing for that day: recorded as an empty, skipped unit
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from jtrader.config import Settings
from jtrader.crawl.sources import (
    ARCHIVE_DATASETS,
    SourceBatch,
    SourceError,
    SourceMissing,
    check_archive_datasets,
    read_binance_archive_day,
    read_capture_day,
    read_huobi_kline_day,
)
from jtrader.domain import InstrumentRegistry, Venue
from jtrader.gateways.stream import Backoff
from jtrader.ingest import FileReport, default_registry
from jtrader.storage.lake import Lake, PartitionKey

__all__ = ["CrawlUnit", "UnitResult", "DatasetQuality", "crawl_unit", "crawl_range", "plan_units", "check_table"]

log = logging.getLogger(__name__)
_NS_DAY = 86_400 * 10**9
_SOURCES = ("capture", "binance_archive", "huobi_klines")
_CAPTURE_DATASETS = ("trades", "quotes", "book_deltas", "book_snapshots")
_DEFAULT_ARCHIVE_DATASETS = ("trades", "klines")


@dataclass(frozen=True)
class CrawlUnit:
    """One crawl task: a venue's symbol, one UTC day, from one source."""

    venue: str
    symbol: str
    day: str  # YYYY-MM-DD
    source: str = "capture"
    datasets: tuple[str, ...] = ()  # archive datasets (trades, aggTrades, klines); empty: trades and klines
    location: str = ""  # mirror root or archive base URL; empty: settings.data_dir

    @property
    def lake_datasets(self) -> tuple[str, ...]:
        """The lake datasets this unit writes (and so may replace or remove for its day)."""
        if self.source == "capture":
            return _CAPTURE_DATASETS
        if self.source == "huobi_klines":
            return ("bars_1m",)
        return tuple(ARCHIVE_DATASETS[d] for d in self.datasets or _DEFAULT_ARCHIVE_DATASETS if d in ARCHIVE_DATASETS)

    @property
    def key(self) -> str:
        return f"{self.source}/{self.venue}/{self.symbol}/{self.day}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "datasets": list(self.datasets)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlUnit:
        return cls(**{**data, "datasets": tuple(data.get("datasets") or ())})


@dataclass
class DatasetQuality:
    dataset: str
    rows: int = 0
    duplicates: int = 0
    backwards: int = 0
    gaps: int = 0
    price_outliers: int = 0
    crossed: int = 0


@dataclass
class UnitResult:
    unit: CrawlUnit
    status: str = "ok"  # ok | missing | failed
    message: str = ""
    messages: int = 0
    rejects: int = 0
    gaps: int = 0
    crossed: int = 0
    datasets: list[DatasetQuality] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.datasets)

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary (what DAG tasks return through XCom)."""
        return {
            "unit": self.unit.key,
            "status": self.status,
            "message": self.message,
            "messages": self.messages,
            "rows": self.rows,
            "rejects": self.rejects,
            "gaps": self.gaps,
            "crossed": self.crossed,
            "datasets": [asdict(d) for d in self.datasets],
        }


def check_table(dataset: str, table: pa.Table, max_jump: float = 0.5) -> DatasetQuality:
    """Count duplicates, backwards time, id gaps or missing minutes, price outliers and crossed quotes."""
    q = DatasetQuality(dataset, rows=table.num_rows)
    if not table.num_rows:
        return q
    ts = table.column("ts_event").to_numpy()
    q.backwards = int(np.count_nonzero(np.diff(ts) < 0))
    if dataset == "trades":
        ids = table.column("trade_id").to_numpy(zero_copy_only=False)
        q.duplicates = int(len(ids) - len(np.unique(ids)))
    if dataset == "agg_trades":
        ids = table.column("agg_trade_id").to_numpy()
        unique = np.unique(ids)
        q.duplicates = int(len(ids) - len(unique))
        q.gaps = int(np.count_nonzero(np.diff(unique) > 1))  # runs of missing aggregate ids
    if dataset == "bars_1m":
        q.duplicates = int(len(ts) - len(np.unique(ts)))
        minutes = np.unique(ts) // 60_000_000_000
        q.gaps = int(np.count_nonzero(np.diff(minutes) > 1))
    price_col = {"trades": "price", "agg_trades": "price", "bars_1m": "close", "quotes": "bid_price"}.get(dataset)
    if price_col:
        prices = table.column(price_col).to_numpy()
        median = float(np.median(prices))
        q.price_outliers = int(np.count_nonzero((prices <= 0) | (np.abs(prices / median - 1) > max_jump)))
    if dataset == "quotes":
        q.crossed = int(np.count_nonzero(table.column("bid_price").to_numpy() >= table.column("ask_price").to_numpy()))
    return q


def _read(unit: CrawlUnit, settings: Settings, registry: InstrumentRegistry) -> SourceBatch:
    day = dt.date.fromisoformat(unit.day)
    root = Path(unit.location) if unit.location and "://" not in unit.location else settings.data_dir
    venue = Venue(unit.venue)
    instrument = registry.find(unit.symbol, venue.value)
    if unit.source == "capture":
        return read_capture_day(root, registry, venue, unit.symbol, day)
    if unit.source == "huobi_klines":
        return read_huobi_kline_day(root, instrument, day)
    if unit.source == "binance_archive":
        base = unit.location if "://" in unit.location else root.resolve().as_uri()  # a folder: a file:// mirror
        return read_binance_archive_day(base, instrument, list(unit.datasets or _DEFAULT_ARCHIVE_DATASETS), day)
    raise SourceError(f"unknown source {unit.source!r}: expected one of {', '.join(_SOURCES)}")


def crawl_unit(
    unit: CrawlUnit,
    settings: Settings,
    *,
    lake: Lake | None = None,
    store: Any = None,
    registry: InstrumentRegistry | None = None,
    mongo: Any = None,
) -> UnitResult:
    """Fetch, check and write one unit; SourceMissing gives status ``missing``, other errors raise."""
    started = time.perf_counter()
    registry = registry or default_registry()
    lake = lake or Lake(settings.lake_dir)
    result = UnitResult(unit)
    try:
        batch = _read(unit, settings, registry)
    except SourceMissing as exc:
        result.status, result.message = "missing", str(exc)
        result.seconds = time.perf_counter() - started
        return result
    result.messages, result.rejects, result.gaps, result.crossed = (
        batch.messages, batch.rejects, batch.gaps, batch.crossed
    )  # fmt: skip
    result.files = batch.files
    day = dt.date.fromisoformat(unit.day)
    day_index = (day - dt.date(1970, 1, 1)).days
    source = f"crawl-{unit.source}"
    written: set[tuple[str, str]] = set()
    instrument = registry.find(unit.symbol, Venue(unit.venue).value)
    for (dataset, _), buffer in sorted(batch.columns.buffers.items(), key=lambda kv: kv[0][0]):
        tables = [table for d, table in buffer.tables_by_date() if d == day_index]
        table = pa.concat_tables(tables) if tables else None
        if table is None or not table.num_rows:
            continue
        key = PartitionKey(dataset, instrument.id.venue.value, instrument.id.symbol, day)
        path = lake.write_partition(key, table, source)
        written.add((dataset, str(path)))
        result.partitions.append(str(path))
        quality = check_table(dataset, table)
        if dataset in ("book_deltas", "book_snapshots"):
            quality.gaps, quality.crossed = batch.gaps, batch.crossed
        result.datasets.append(quality)
        if store is not None:
            from jtrader.storage.sql import DataQualityRecord

            store.upsert_data_quality(
                DataQualityRecord(
                    dataset=dataset,
                    venue=key.venue,
                    symbol=key.symbol,
                    date=day,
                    source=source,
                    rows=quality.rows,
                    rejects=batch.rejects,
                    gaps=quality.gaps + quality.duplicates + quality.backwards,
                    crossed=quality.crossed,
                    ts_checked=day_index * _NS_DAY,  # deterministic: re-runs store the same row
                )
            )
        if mongo is not None and dataset in ("trades", "bars_1m"):
            frame = table.to_pandas()
            frame["venue"], frame["symbol"] = key.venue, key.symbol
            mongo.insert_market_rows(dataset, frame)
    # parts of this source for datasets of this unit the day no longer produces are stale
    for dataset in unit.lake_datasets:
        key = PartitionKey(dataset, instrument.id.venue.value, instrument.id.symbol, day)
        part = lake.partition_dir(key) / f"part-{source}.parquet"
        if part.exists() and not any(d == dataset for d, _ in written):
            part.unlink()
    result.seconds = time.perf_counter() - started
    return result


def plan_units(
    settings: Settings,
    day: dt.date,
    source: str = "capture",
    venues: Iterable[str] | None = None,
    symbols: Iterable[str] | None = None,
    location: str = "",
    datasets: Iterable[str] = (),
) -> list[CrawlUnit]:
    """Every (venue, symbol) the source can hold for ``day``: the registry's instruments, filtered.

    Raises SourceError for an archive dataset the crawler does not know (before any unit runs).
    """
    if source == "binance_archive":
        datasets = check_archive_datasets(datasets)
    registry = default_registry()
    wanted_venues = {Venue(v).value for v in venues} if venues else None
    wanted_symbols = {s.lower() for s in symbols} if symbols else None
    units = []
    for instrument in registry:
        venue = instrument.id.venue
        if source == "huobi_klines" and venue is not Venue.HUOBI:
            continue
        if source in ("capture", "binance_archive") and venue not in (
            Venue.BINANCE, Venue.BINANCE_USDM, Venue.BINANCE_COINM
        ):  # fmt: skip
            continue
        if wanted_venues and venue.value not in wanted_venues:
            continue
        if wanted_symbols and instrument.id.symbol.lower() not in wanted_symbols:
            continue
        units.append(CrawlUnit(venue.value, instrument.id.symbol, day.isoformat(), source, tuple(datasets), location))
    return sorted(units, key=lambda u: u.key)


def crawl_range(
    units: list[CrawlUnit],
    settings: Settings,
    *,
    state_file: Path | None = None,
    retries: int = 3,
    backoff: Backoff | None = None,
    on_done: Callable[[UnitResult], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[UnitResult]:
    """Crawl ``units`` in order; retry failures with backoff; skip units done in an earlier run (resume)."""
    from jtrader.storage.mongo import MongoStore
    from jtrader.storage.sql import SqlStore

    state_file = state_file or settings.var_path / "crawl" / "state.json"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    done: dict[str, str] = json.loads(state_file.read_text()) if state_file.exists() else {}
    registry = default_registry()
    lake = Lake(settings.lake_dir)
    results = []
    mongo = MongoStore.from_settings(settings) if settings.mongo_uri is not None else None
    with SqlStore.from_settings(settings) as store:
        for unit in units:
            if unit.key in done:
                result = UnitResult(unit, status="skipped", message=f"done in an earlier run ({done[unit.key]})")
            else:
                delay = backoff or Backoff(base=1.0, cap=30.0)
                for attempt in range(1, retries + 1):
                    try:
                        result = crawl_unit(unit, settings, lake=lake, store=store, registry=registry, mongo=mongo)
                        break
                    except SourceError as exc:
                        if attempt == retries:
                            result = UnitResult(unit, status="failed", message=f"{exc} (after {retries} attempts)")
                        else:
                            log.warning("crawl %s failed (%s); retry %d/%d", unit.key, exc, attempt, retries)
                            sleep(delay.next_delay())
                if result.status in ("ok", "missing"):
                    done[unit.key] = result.status
                    tmp = state_file.with_suffix(".tmp")
                    tmp.write_text(json.dumps(done, indent=1, sort_keys=True))
                    tmp.replace(state_file)
            results.append(result)
            if on_done is not None:
                on_done(result)
    if mongo is not None:
        mongo.close()
    return results
