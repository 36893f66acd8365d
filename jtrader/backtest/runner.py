"""Run a named strategy over lake data, write its report and keep the run: what the CLI and the demo call."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jtrader.backtest.data import load_events
from jtrader.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from jtrader.config import Settings
from jtrader.domain import Instrument
from jtrader.storage.lake import Lake
from jtrader.strategies.base import Strategy

__all__ = ["LakeBacktest", "build_strategy", "run_lake_backtest", "STRATEGIES"]

STRATEGIES = ("ma_cross", "quoting")
_BOOK_DATASETS = ("book_snapshots", "book_deltas", "trades")


def build_strategy(
    name: str, instruments: list[Instrument], params: dict[str, Any]
) -> tuple[Strategy, tuple[str, ...]]:
    """The strategy ``name`` with ``params``, and the datasets it replays; raises ValueError for unknown names."""
    if name == "ma_cross":
        from jtrader.strategies.ma_cross import MaCrossParams, MaCrossStrategy

        return MaCrossStrategy("ma_cross", instruments[0].id, MaCrossParams(**params)), ("bars_1m",)
    if name == "quoting":
        from jtrader.strategies.quoting import QuotingParams, QuotingStrategy

        return QuotingStrategy("quoting", [i.id for i in instruments], QuotingParams(**params)), _BOOK_DATASETS
    raise ValueError(f"strategy {name!r}: expected one of {', '.join(STRATEGIES)}")


@dataclass
class LakeBacktest:
    result: BacktestResult
    report: Path
    run_id: str
    mlflow_run_id: str | None


def run_lake_backtest(
    settings: Settings,
    strategy: str,
    instruments: list[Instrument],
    params: dict[str, Any],
    config: BacktestConfig,
    start: dt.date | None = None,
    end: dt.date | None = None,
    report_name: str | None = None,
    mlflow: bool = True,
) -> LakeBacktest:
    """Backtest ``strategy`` on the lake's data, write ``var/reports/<name>.html``, store the run (SQL, MLflow)."""
    from jtrader.backtest.record import record_backtest
    from jtrader.backtest.report import write_report

    built, datasets = build_strategy(strategy, instruments, params)
    events = load_events(Lake(settings.lake_dir), instruments, datasets, start, end, time_key=config.time_key)
    if not events:
        raise ValueError(
            f"no {'/'.join(datasets)} data in the lake at {settings.lake_dir} for "
            f"{', '.join(str(i.id) for i in instruments)}: run `jtrader ingest` first"
        )
    result = run_backtest(built, events, instruments, config)
    name = report_name or f"backtest-{strategy}-{instruments[0].id.symbol}-{config.matching}"
    all_params = {"strategy": strategy, **params, "instruments": ",".join(str(i.id) for i in instruments)}
    report = write_report(result, settings.var_path / "reports" / f"{name}.html", name, all_params)
    run_id, mlflow_id = record_backtest(settings, result, all_params, report, mlflow=mlflow, run_name=name)
    return LakeBacktest(result, report, run_id, mlflow_id)
