"""Ingest raw venue files (Binance captures, Huobi kline zips) into the lake.

Entry point: :func:`ingest_files`; :func:`ingest_with_progress` adds a
progress bar and :func:`print_file_reports` the per-file table for the CLI and
the demo. :func:`parse_binance_capture` parses one capture into lake columns
without writing them (the crawler writes its own partitions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jtrader.ingest.engine import (
    FileReport,
    IngestReport,
    default_registry,
    discover_files,
    ingest_files,
    parse_binance_capture,
)
from jtrader.storage.lake import Lake
from jtrader.storage.sql import RunStatus, SqlStore

__all__ = [
    "FileReport",
    "IngestReport",
    "default_registry",
    "discover_files",
    "ingest_files",
    "ingest_with_progress",
    "parse_binance_capture",
    "print_file_reports",
    "print_lake_summary",
    "record_run",
]


def ingest_with_progress(paths: Sequence[Path], lake: Lake | None, console: Console) -> IngestReport:
    """Run :func:`ingest_files` with a progress bar over files and a live message count."""
    files = discover_files(paths)
    with Progress(
        TextColumn("[bold]ingest[/bold] {task.fields[current]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[messages]:,} msgs"),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        task = progress.add_task("ingest", total=len(files), current="", messages=0)
        done_messages = 0

        def on_progress(path: Path, messages: int) -> None:
            progress.update(task, current=path.name, messages=done_messages + messages)

        def on_done(report: FileReport) -> None:
            nonlocal done_messages
            done_messages += report.messages
            progress.update(task, advance=1, messages=done_messages)

        return ingest_files(files, lake, progress=on_progress, on_file_done=on_done)


def print_file_reports(report: IngestReport, console: Console) -> None:
    """Per-file counts: messages, events, rejects, sequence gaps, crossed books, book state."""
    table = Table(title="ingest: per file", show_lines=False)
    for column in ("file", "venue", "messages", "rows", "rejects", "gaps", "crossed", "book", "s"):
        table.add_column(column, justify="left" if column in ("file", "venue", "book") else "right")
    for f in report.files:
        book = "-" if f.book_valid is None else ("valid" if f.book_valid else "STALE")
        name = f"{f.path.parent.name}/{f.path.name}"
        if f.error:
            table.add_row(name, f.venue or "?", "-", "-", "-", "-", "-", "-", f"{f.seconds:.1f}", style="red")
            continue
        table.add_row(
            name,
            f.venue,
            f"{f.messages:,}",
            f"{sum(f.rows.values()):,}",
            f"{f.rejects:,}",
            str(f.gaps),
            str(f.crossed),
            book,
            f"{f.seconds:.1f}",
            style="yellow" if f.rejects or f.gaps or f.crossed else None,
        )
    console.print(table)
    for f in report.files:
        if f.error:
            console.print(f"[red]cannot read {f.path}:[/red] {f.error}")
        for line_no, reason in f.reject_samples:
            console.print(f"[yellow]reject[/yellow] {f.path}:{line_no}: {reason}")
        if f.rejects > len(f.reject_samples):
            console.print(f"[yellow]... and {f.rejects - len(f.reject_samples)} more rejects in {f.path}[/yellow]")


def print_lake_summary(lake: Lake, console: Console) -> None:
    """Rows per dataset, venue, symbol and day, from the Parquet footers."""
    summary = lake.summary()
    table = Table(title=f"lake: {lake.root}")
    for column in ("dataset", "venue", "symbol", "date", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for row in summary.itertuples(index=False):
        table.add_row(row.dataset, row.venue, row.symbol, str(row.date), f"{row.rows:,}")
    if summary.empty:
        table.add_row("(empty)", "", "", "", "0")
    console.print(table)


def record_run(store: SqlStore, report: IngestReport, params: dict[str, object]) -> str:
    """Store the ingest as a run (kind ``ingest``) with per-file counts; return its run id."""
    run_id = store.start_run("ingest", params)
    files = [
        {
            "path": str(f.path),
            "format": f.format,
            "venue": f.venue,
            "messages": f.messages,
            "rows": dict(f.rows),
            "rejects": f.rejects,
            "gaps": f.gaps,
            "crossed": f.crossed,
            "book_valid": f.book_valid,
            "error": f.error,
        }
        for f in report.files
    ]
    status = RunStatus.FAILED if report.unreadable else RunStatus.SUCCEEDED
    store.finish_run(run_id, status, {"files": files, "rows": report.total_rows, "messages": report.total_messages})
    return run_id
