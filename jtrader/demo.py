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
    """Crawl the sample data (a file mirror) into the lake through the crawl code path; print what landed."""
    import datetime as dt

    from jtrader.crawl import crawl_days_with_progress
    from jtrader.ingest import IngestReport, print_file_reports, print_lake_summary, record_run
    from jtrader.ingest.engine import FileReport
    from jtrader.storage.lake import Lake
    from jtrader.storage.sql import SqlStore

    data = settings.data_dir
    if not data.is_dir():
        console.print(f"[red]sample data not found at {data}[/red]: set JTRADER_DATA_PATH to the shared data folder")
        return False
    lake = Lake(settings.lake_dir)
    state = settings.var_path / "crawl" / "demo-state.json"
    # The Binance captures span 2024-08-08/09; the Huobi zips the 2017 and May 2020 months.
    results = crawl_days_with_progress(
        settings, dt.date(2024, 8, 8), dt.date(2024, 8, 9), console, sources=("capture",), state_file=state,
        resume=False,
    )  # fmt: skip
    for start, end in ((dt.date(2017, 10, 26), dt.date(2017, 12, 31)), (dt.date(2020, 4, 30), dt.date(2020, 5, 31))):
        results += crawl_days_with_progress(
            settings, start, end, console, sources=("huobi_klines",), state_file=state, resume=False
        )
    # Per-file table: each capture file once (a day's unit also reads the day before, for the book).
    files: dict[str, FileReport] = {}
    for result in results:
        for file_report in result.files:
            files[str(file_report.path)] = file_report
    report = IngestReport(sorted(files.values(), key=lambda f: (str(f.path.parent), f.path.name)))
    print_file_reports(report, console)
    print_lake_summary(lake, console)
    failed = [r for r in results if r.status == "failed"]
    rows = sum(r.rows for r in results)
    with SqlStore.from_settings(settings) as store:
        run_id = record_run(store, report, {"paths": [str(data)], "via": "crawl", "units": len(results)})
    rejects = sum(r.rejects for r in results)
    gaps = sum(f.gaps for f in report.files)
    crossed = sum(f.crossed for f in report.files)
    console.print(
        f"book checks: {rejects} rejects, {gaps} sequence gaps, {crossed} crossed books; "
        f"{len(results)} crawl units ({len(failed)} failed), {rows:,} rows in the lake (run {run_id})"
    )
    for r in failed:
        console.print(f"[red]crawl failed[/red] {r.unit.key}: {r.message}")
    return not failed


def stage_backtest(settings: Settings, console: Console) -> bool:
    """Backtest market making on the Binance capture (queue model) and the MA crossover on the Huobi bars."""
    from jtrader.backtest.demo import run_backtest_stage

    return run_backtest_stage(settings, console)


def stage_retrain(settings: Settings, console: Console) -> bool:
    """Run the retrain DAG's functions on the sample bars (two monthly intervals) and show the champion and why."""
    from models.pipeline import DEFAULT_MODEL, run_pipeline

    for start, end in (("2017-11-01", "2017-11-30"), ("2017-12-01", "2017-12-31")):
        out = run_pipeline(settings, DEFAULT_MODEL, start, end)
        trained, decision = out["train"], out["decision"]
        hold = trained["holdout"]
        console.print(
            f"{DEFAULT_MODEL} {start}..{end}: v{trained['version']}{' (reused)' if trained['reused'] else ''} "
            f"holdout IC {hold.get('ic', float('nan')):.4f}, hit rate {hold.get('hit_rate', float('nan')):.3f}, "
            f"log loss {hold.get('log_loss', float('nan')):.4f}, signal PnL {hold.get('pnl_bps', float('nan')):.0f} bps"
        )
        verdict = "[green]promoted[/green]" if decision["promote"] else "kept the champion"
        console.print(f"  gate: {verdict}: {decision['reason']}")
    console.print(f"champion of {DEFAULT_MODEL}: v{out['outcome']['champion']} (models:/{DEFAULT_MODEL}@champion)")
    return out["outcome"]["champion"] is not None


def stage_paper(settings: Settings, console: Console) -> bool:
    """Paper-trade on the simulated venue for a bounded time; print orders, fills, positions and PnL."""
    from jtrader.live.demo import run_paper_stage

    return run_paper_stage(settings, console)


STAGES: list[tuple[str, Callable[[Settings, Console], bool]]] = [
    ("ingest the sample data into the lake", stage_ingest),
    ("retrain: features on Spark, walk-forward training, MLflow, champion gate", stage_retrain),
    ("backtest: market making (L2 queue) and MA crossover (bars)", stage_backtest),
    ("paper trading: the desk against the simulated venue", stage_paper),
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
