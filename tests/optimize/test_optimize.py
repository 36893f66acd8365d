"""The optimiser: samplers, objectives, Pareto front, walk-forward, and the Spark sweep equal to it."""

from __future__ import annotations

import datetime as dt

import pytest

from jtrader.backtest import load_events
from jtrader.optimize import IntRange, objective_value, optimize, sample_points, walk_forward
from jtrader.optimize.backtests import fast_below_slow, ma_cross_metrics

SPACE = {"fast": IntRange(5, 15, 5), "slow": IntRange(20, 40, 10)}
START, END = dt.date(2020, 5, 1), dt.date(2020, 5, 2)


@pytest.fixture(scope="module")
def bars(huobi_lake, huobi_btc):  # type: ignore[no-untyped-def]
    return load_events(huobi_lake, [huobi_btc], start=START, end=END)


def test_grid_study_visits_every_point_once_and_picks_the_best(bars, huobi_btc):  # type: ignore[no-untyped-def]
    result = optimize(lambda p: ma_cross_metrics(bars, huobi_btc, p), SPACE, ["pnl"], "grid", 100, seed=3)
    assert sorted((t.params["fast"], t.params["slow"]) for t in result.trials) == [
        (f, s) for f in (5, 10, 15) for s in (20, 30, 40)
    ]
    assert result.best[0].values[0] == max(t.values[0] for t in result.trials)


def test_same_seed_gives_same_trials_and_random_points_are_known_in_advance(bars, huobi_btc):  # type: ignore[no-untyped-def]
    run = lambda: optimize(lambda p: ma_cross_metrics(bars, huobi_btc, p), SPACE, ["sharpe"], "random", 5, seed=7)  # noqa: E731
    a, b = run(), run()
    assert [(t.params, t.values) for t in a.trials] == [(t.params, t.values) for t in b.trials]
    assert [t.params for t in a.trials] == sample_points(SPACE, "random", 5, 7)


def test_multi_objective_study_returns_a_non_dominated_front(bars, huobi_btc):  # type: ignore[no-untyped-def]
    result = optimize(lambda p: ma_cross_metrics(bars, huobi_btc, p), SPACE, ["pnl", "sharpe"], "grid", 100)
    front = result.best
    assert front
    for t in front:
        assert not any(
            u.values[0] >= t.values[0] and u.values[1] >= t.values[1] and u.values != t.values for u in result.trials
        )


def test_user_callable_objective_and_unknown_name():  # type: ignore[no-untyped-def]
    assert objective_value({"pnl": 2.0, "max_drawdown": 4.0}, lambda m: m["pnl"] / m["max_drawdown"]) == 0.5
    with pytest.raises(ValueError, match="sharpe"):
        objective_value({}, "nonsense")


def test_walk_forward_reports_out_of_sample_per_window(bars, huobi_btc):  # type: ignore[no-untyped-def]
    windows = walk_forward(
        lambda p, a, b: ma_cross_metrics(bars[a:b], huobi_btc, p),
        len(bars),
        SPACE,
        1200,
        600,
        "pnl",
        "grid",
        9,
        constraint=fast_below_slow,
    )
    assert len(windows) == (len(bars) - 1200) // 600
    assert all(w.test[0] == w.train[1] and "pnl" in w.out_of_sample for w in windows)


@pytest.mark.slow
def test_spark_sweep_equals_the_local_grid_study(spark, huobi_lake, huobi_btc, bars):  # type: ignore[no-untyped-def]
    from spark_jobs.sweep import run_sweep

    local = optimize(lambda p: ma_cross_metrics(bars, huobi_btc, p), SPACE, ["sharpe"], "grid", 100, seed=5)
    distributed = run_sweep(
        spark, str(huobi_lake.root), "btcusdt", "huobi", SPACE, ["sharpe"], "grid", 100, seed=5, start=START, end=END
    )
    assert [(t.params, t.metrics) for t in distributed.trials] == [(t.params, t.metrics) for t in local.trials]
    assert distributed.best_params == local.best_params
