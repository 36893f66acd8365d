"""Parameter sweeps on Spark: the local optimiser's grid or random trials, evaluated over executors.

:func:`run_sweep` takes the trial points exactly as the local optimiser would
visit them (:func:`jtrader.optimize.sample_points`: same space, sampler, seed
and count), spreads them over partitions, and on each executor loads the bars
from the lake once per partition and backtests each point. Backtests are
deterministic, so the results equal the local optimiser's trial for trial.
TPE learns from earlier trials and cannot be spread this way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from jtrader.optimize import Objective, OptimizeResult, Space, Trial, objective_value, sample_points

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["run_sweep"]


def _evaluate_partition(
    rows: Iterable[tuple[int, dict[str, Any]]],
    lake_root: str,
    symbol: str,
    venue: str,
    start: dt.date | None,
    end: dt.date | None,
    quantity_lots: int,
) -> Iterator[tuple[int, dict[str, Any], dict[str, float]]]:
    from pathlib import Path

    from jtrader.backtest import load_events
    from jtrader.gateways.instruments import default_registry
    from jtrader.optimize.backtests import ma_cross_metrics
    from jtrader.storage.lake import Lake

    items = list(rows)
    if not items:
        return
    instrument = default_registry().find(symbol, venue)
    events = load_events(Lake(Path(lake_root)), [instrument], start=start, end=end)
    for number, params in items:
        yield number, params, ma_cross_metrics(events, instrument, params, quantity_lots)


def run_sweep(
    spark: SparkSession,
    lake_root: str,
    symbol: str,
    venue: str,
    space: Space,
    objectives: Sequence[Objective] = ("sharpe",),
    sampler: str = "grid",
    n_trials: int = 100,
    seed: int = 0,
    constraint: Callable[[dict[str, Any]], bool] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    quantity_lots: int = 10_000,
    partitions: int | None = None,
) -> OptimizeResult:
    """Sweep the MA crossover on ``symbol``/``venue`` bars over Spark; the result mirrors :func:`optimize`'s."""
    points = list(enumerate(sample_points(space, sampler, n_trials, seed)))
    wanted = [(n, p) for n, p in points if constraint is None or constraint(p)]
    slices = partitions or max(1, min(len(wanted), spark.sparkContext.defaultParallelism))
    rdd = spark.sparkContext.parallelize(wanted, slices)
    evaluated = {
        n: metrics
        for n, _, metrics in rdd.mapPartitions(
            lambda rows: _evaluate_partition(rows, lake_root, symbol, venue, start, end, quantity_lots)
        ).collect()
    }
    trials = []
    for n, params in points:
        metrics = evaluated.get(n, {})
        values = [objective_value(metrics, o) if metrics else float("-inf") for o in objectives]
        trials.append(Trial(n, params, metrics, values))
    valid = [t for t in trials if t.metrics]
    names = [o if isinstance(o, str) else getattr(o, "__name__", "custom") for o in objectives]
    best = sorted(valid, key=lambda t: (-t.values[0], t.number))[:1] if len(objectives) == 1 else valid
    return OptimizeResult(names, trials, best)
