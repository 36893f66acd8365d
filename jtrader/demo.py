"""The main job, end to end on the embedded defaults: ``make demo`` runs :func:`run_demo`.

Each capability adds its stage to :data:`STAGES`, so the demo always runs the
whole platform as far as it exists. A stage returns True on success; the demo
stops at the first failing stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.rule import Rule

from jtrader.config import Settings

__all__ = ["STAGES", "run_demo"]


def stage_ingest(settings: Settings, console: Console) -> bool:
    """Ingest the sample data into the lake and print what landed, with the book checks."""
    from jtrader.ingest import ingest_with_progress, print_file_reports, print_lake_summary, record_run
    from jtrader.storage.lake import Lake
    from jtrader.storage.sql import SqlStore

    data = settings.data_dir
    if not data.is_dir():
        console.print(f"[red]sample data not found at {data}[/red]: set JTRADER_DATA_PATH to the shared data folder")
        return False
    lake = Lake(settings.lake_dir)
    report = ingest_with_progress([data], lake, console)
    print_file_reports(report, console)
    print_lake_summary(lake, console)
    with SqlStore.from_settings(settings) as store:
        run_id = record_run(store, report, {"paths": [str(data)]})
    rejects = sum(f.rejects for f in report.files)
    gaps = sum(f.gaps for f in report.files)
    crossed = sum(f.crossed for f in report.files)
    console.print(
        f"book checks: {rejects} rejects, {gaps} sequence gaps, {crossed} crossed books "
        f"over {report.total_messages:,} messages; {report.total_rows:,} rows in the lake (run {run_id})"
    )
    return not report.unreadable


STAGES: list[tuple[str, Callable[[Settings, Console], bool]]] = [
    ("ingest the sample data into the lake", stage_ingest),
]


def run_demo(settings: Settings, console: Console) -> bool:
    """Run every stage in order; return False at the first that fails."""
    started = time.perf_counter()
    for number, (title, stage) in enumerate(STAGES, start=1):
        console.print(Rule(f"stage {number}/{len(STAGES)}: {title}"))
        t0 = time.perf_counter()
        if not stage(settings, console):
            console.print(f"[red]stage {number} failed: {title}[/red]")
            return False
        console.print(f"[green]stage {number} done[/green] in {time.perf_counter() - t0:.1f}s")
    console.print(Rule(f"demo finished in {time.perf_counter() - started:.1f}s"))
    return True
