"""Crawl market data into the lake: per venue, symbol, source and day; checked; idempotent.

Entry points: :func:`crawl_unit` (one DAG task), :func:`crawl_range` (the
``jtrader crawl`` backfill), :func:`plan_units` (what a day holds),
:func:`crawl_days_with_progress` (the CLI and demo).

Exceptions::

    SourceError(Exception)      a source that cannot be read (retried)
     +-- SourceMissing          nothing for that day
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jtrader.config import Settings
from jtrader.crawl.engine import CrawlUnit, DatasetQuality, UnitResult, check_table, crawl_range, crawl_unit, plan_units
from jtrader.crawl.sources import ARCHIVE_DATASETS, SourceError, SourceMissing, archive_path

__all__ = [
    "ARCHIVE_DATASETS",
    "CrawlUnit",
    "DatasetQuality",
    "SourceError",
    "SourceMissing",
    "UnitResult",
    "archive_path",
    "check_table",
    "crawl_days_with_progress",
    "crawl_range",
    "crawl_unit",
    "days",
    "plan_units",
]


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def crawl_days_with_progress(
    settings: Settings,
    start: dt.date,
    end: dt.date,
    console: Console,
    *,
    sources: Iterable[str] = ("capture",),
    venues: Iterable[str] | None = None,
    symbols: Iterable[str] | None = None,
    location: str = "",
    datasets: Iterable[str] = (),
    state_file: Path | None = None,
    resume: bool = True,
) -> list[UnitResult]:
    """Plan and crawl every unit of the days, with a progress bar; return the results in order."""
    units = [
        unit
        for day in days(start, end)
        for source in sources
        for unit in plan_units(settings, day, source, venues, symbols, location, datasets)
    ]
    if not resume and state_file is not None:
        state_file.unlink(missing_ok=True)
    with Progress(
        TextColumn("[bold]crawl[/bold] {task.fields[current]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        task = progress.add_task("crawl", total=len(units), current="", rows=0)
        rows = 0

        def on_done(result: UnitResult) -> None:
            nonlocal rows
            rows += result.rows
            progress.update(task, advance=1, current=result.unit.key, rows=rows)

        return crawl_range(units, settings, state_file=state_file, on_done=on_done)
