"""Ingest raw venue files into domain events and lake datasets.

Recognised formats: Binance raw WebSocket captures (``<recv ns> <JSON>`` per
line, gzip or plain) and Huobi 1-minute kline zips. A malformed line is counted
and reported with its file and line number and never stops the ingest; a file
that cannot be read at all is reported with the reason. Order books are
rebuilt with each venue's sequencing rules, and the files of one stream are
fed in order so a book carries across files (Binance ``*_20240809`` files
continue ``*_20240808``).

Each file's output replaces that file's previous output in the lake
(``part-<file stem>`` in each partition), so re-ingesting duplicates nothing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jtrader.domain import (
    Bar,
    BookDelta,
    BookSnapshot,
    DomainError,
    InstrumentId,
    InstrumentRegistry,
    Quote,
    Trade,
    Venue,
)
from jtrader.gateways.binance.book_sync import BinanceBookSync
from jtrader.gateways.binance.parsing import BinanceCaptureParser, detect_binance_venue, iter_capture
from jtrader.gateways.huobi.parsing import iter_kline_zip, symbol_from_filename
from jtrader.gateways.instruments import default_registry
from jtrader.ingest.columns import NS_PER_DAY, EventColumns
from jtrader.storage.lake import Lake, PartitionKey

__all__ = [
    "FileReport",
    "IngestReport",
    "default_registry",
    "discover_files",
    "ingest_files",
    "parse_binance_capture",
]

MAX_REJECT_SAMPLES = 20
ProgressCallback = Callable[[Path, int], None]


@dataclass
class FileReport:
    """What ingesting one file did; ``error`` is set only if the file could not be read at all."""

    path: Path
    format: str = "unknown"
    venue: str = ""
    symbols: set[str] = field(default_factory=set)
    messages: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejects: int = 0
    reject_samples: list[tuple[int, str]] = field(default_factory=list)
    gaps: int = 0
    stale_dropped: int = 0
    crossed: int = 0
    book_valid: bool | None = None
    rows: Counter[str] = field(default_factory=Counter)
    partitions: list[PartitionKey] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def reject(self, line_no: int, reason: str) -> None:
        self.rejects += 1
        if len(self.reject_samples) < MAX_REJECT_SAMPLES:
            self.reject_samples.append((line_no, reason))


@dataclass
class IngestReport:
    files: list[FileReport]

    @property
    def unreadable(self) -> list[FileReport]:
        return [f for f in self.files if f.error is not None]

    @property
    def total_rows(self) -> int:
        return sum(sum(f.rows.values()) for f in self.files)

    @property
    def total_messages(self) -> int:
        return sum(f.messages for f in self.files)


def discover_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into the files below them, in stream order (folder, then name)."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file() and p.suffix in {".gz", ".zip", ".jsonl", ".txt"})
        else:
            found.append(path)
    return sorted(dict.fromkeys(found), key=lambda p: (str(p.parent), p.name))


def _sniff(path: Path) -> str:
    """Return 'binance_capture', 'huobi_klines' or raise OSError/ValueError saying why not."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if not names:
                raise ValueError("zip holds no CSV file; expected a Huobi kline zip")
            with archive.open(names[0]) as handle:
                header = handle.readline().decode("utf-8", "replace").strip()
        if header.startswith("id,open,high,low,close"):
            return "huobi_klines"
        raise ValueError(f"zip CSV header {header[:60]!r} is not a Huobi kline header 'id,open,high,low,close,...'")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        first = handle.readline(4096)
    head, _, rest = first.partition(b" ")
    if head.isdigit() and rest.lstrip().startswith(b"{"):
        return "binance_capture"
    raise ValueError("first line is not '<receive time ns> <JSON>'; expected a Binance capture or a Huobi kline zip")


def _flush(lake: Lake | None, columns: EventColumns, source: str, report: FileReport) -> None:
    for (dataset, _), buffer in columns.buffers.items():
        instrument = buffer.instrument
        report.rows[dataset] += len(buffer)
        if lake is None:
            continue
        written = set()
        for day, table in buffer.tables_by_date():
            date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
            key = PartitionKey(dataset, instrument.id.venue.value, instrument.id.symbol, date)
            lake.write_partition(key, table, source)
            written.add(key)
            report.partitions.append(key)
        # The source's parts in dates it no longer produces are stale: remove them.
        for key in lake.partitions(dataset):
            if key.venue == instrument.id.venue.value and key.symbol == instrument.id.symbol and key not in written:
                (lake.partition_dir(key) / f"part-{source}.parquet").unlink(missing_ok=True)


def _source_id(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".zip", ".jsonl", ".txt"):
        name = name.removesuffix(suffix)
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def parse_binance_capture(
    path: Path,
    registry: InstrumentRegistry,
    books: dict[InstrumentId, BinanceBookSync] | None = None,
) -> tuple[EventColumns, FileReport]:
    """Parse one Binance capture into lake columns and its report; write nothing.

    ``books`` carries the local order books from file to file: pass the same
    dict for the files of one stream in order (``*_20240808`` then
    ``*_20240809``) and the second file continues the first one's book, as
    :func:`ingest_files` does. The report's ``gaps``, ``stale_dropped``,
    ``crossed`` and ``book_valid`` are this file's. Malformed lines are
    counted in the report with their line numbers; a file that cannot be read
    at all raises OSError, ValueError or EOFError naming the problem.

    Example::

        books = {}
        for path in (folder / "btcusdt_20240808.gz", folder / "btcusdt_20240809.gz"):
            columns, report = parse_binance_capture(path, default_registry(), books)
    """
    report = FileReport(path=Path(path), format="binance_capture")
    started = time.perf_counter()
    columns = _parse_binance(report.path, report, registry, {} if books is None else books, None)
    report.seconds = time.perf_counter() - started
    return columns, report


def _parse_binance(
    path: Path,
    report: FileReport,
    registry: InstrumentRegistry,
    books: dict[InstrumentId, BinanceBookSync],
    progress: ProgressCallback | None,
) -> EventColumns:
    columns = EventColumns()
    first = b""
    for _, line in iter_capture(path):
        first = line
        break
    venue = detect_binance_venue(path, first)
    report.venue = venue.value
    parser = BinanceCaptureParser(registry, venue)
    futures = venue is not Venue.BINANCE
    touched: dict[InstrumentId, tuple[int, int, int]] = {}
    for line_no, line in iter_capture(path):
        report.messages += 1
        if progress and report.messages % 20_000 == 0:
            progress(path, report.messages)
        try:
            events = parser.parse_line(line, line_no)
        except DomainError as exc:
            report.reject(line_no, str(exc))
            continue
        for event in events:
            instrument = registry.get(event.instrument_id)
            kind = type(event)
            report.events[kind.__name__] += 1
            if kind is Trade:
                columns.add_trade(instrument, event)  # type: ignore[arg-type]
            elif kind is Quote:
                columns.add_quote(instrument, event)  # type: ignore[arg-type]
            elif kind is BookDelta or kind is BookSnapshot:
                book = books.get(event.instrument_id)
                if book is None:
                    book = books[event.instrument_id] = BinanceBookSync(instrument, futures=futures)
                if event.instrument_id not in touched:
                    touched[event.instrument_id] = (book.gaps, book.stale_dropped, book.crossed)
                if kind is BookDelta:
                    book.on_delta(event)  # type: ignore[arg-type]
                    columns.add_delta(instrument, event)  # type: ignore[arg-type]
                else:
                    book.on_snapshot(event)  # type: ignore[arg-type]
                    columns.add_snapshot(instrument, event)  # type: ignore[arg-type]
            report.symbols.add(event.instrument_id.symbol)
    for instrument_id, (gaps, stale, crossed) in touched.items():
        book = books[instrument_id]
        report.gaps += book.gaps - gaps
        report.stale_dropped += book.stale_dropped - stale
        report.crossed += book.crossed - crossed
        report.book_valid = book.is_valid if report.book_valid is None else (report.book_valid and book.is_valid)
    return columns


class _Ingestor:
    def __init__(self, lake: Lake | None, registry: InstrumentRegistry, progress: ProgressCallback | None):
        self.lake = lake
        self.registry = registry
        self.progress = progress
        self.books: dict[InstrumentId, BinanceBookSync] = {}

    def _binance(self, path: Path, report: FileReport) -> EventColumns:
        return _parse_binance(path, report, self.registry, self.books, self.progress)

    def _huobi(self, path: Path, report: FileReport) -> EventColumns:
        columns = EventColumns()
        report.venue = Venue.HUOBI.value
        instrument = self.registry.find(symbol_from_filename(path), Venue.HUOBI.value)
        report.symbols.add(instrument.id.symbol)
        for line_no, item in iter_kline_zip(path, instrument):
            report.messages += 1
            if isinstance(item, Bar):
                report.events["Bar"] += 1
                columns.add_bar(instrument, item)
            else:
                report.reject(line_no, str(item))
            if self.progress and report.messages % 20_000 == 0:
                self.progress(path, report.messages)
        return columns

    def ingest(self, path: Path) -> FileReport:
        report = FileReport(path=path)
        started = time.perf_counter()
        try:
            report.format = _sniff(path)
            if report.format == "binance_capture":
                columns = self._binance(path, report)
            else:
                columns = self._huobi(path, report)
            _flush(self.lake, columns, _source_id(path), report)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, DomainError) as exc:
            # A file we cannot read at all; everything already in the lake stays.
            report.error = f"{type(exc).__name__}: {exc}"
        report.seconds = time.perf_counter() - started
        if self.progress:
            self.progress(path, report.messages)
        return report


def ingest_files(
    paths: Sequence[Path],
    lake: Lake | None,
    registry: InstrumentRegistry | None = None,
    progress: ProgressCallback | None = None,
    on_file_done: Callable[[FileReport], None] | None = None,
) -> IngestReport:
    """Ingest ``paths`` (files or directories) into ``lake`` (or only parse and check, if None).

    Never raises for bad data: malformed lines are counted per file and a file
    that cannot be read carries ``error``.
    """
    ingestor = _Ingestor(lake, registry or default_registry(), progress)
    reports = []
    for path in discover_files(paths):
        report = ingestor.ingest(path)
        reports.append(report)
        if on_file_done:
            on_file_done(report)
    return IngestReport(reports)


def ts_to_date(ts_ns: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=ts_ns // NS_PER_DAY)
