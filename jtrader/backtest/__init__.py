"""The backtester: live strategy code on replayed lake data, through a simulated venue.

Entry points: :func:`run_backtest` / :class:`BacktestEngine` (replay events to
a strategy), :func:`load_events` (lake datasets to a replay stream),
:func:`run_lake_backtest` (both, plus storing the run). Matching mechanisms
live in :mod:`jtrader.backtest.matching`, latency models in
:mod:`jtrader.backtest.latency`, metrics in :mod:`jtrader.backtest.metrics`
and the HTML report in :mod:`jtrader.backtest.report`.
"""

from jtrader.backtest.data import load_events
from jtrader.backtest.engine import BacktestConfig, BacktestContext, BacktestEngine, BacktestResult, run_backtest
from jtrader.backtest.latency import ConstantLatency, EmpiricalLatency

__all__ = [
    "BacktestConfig",
    "BacktestContext",
    "BacktestEngine",
    "BacktestResult",
    "ConstantLatency",
    "EmpiricalLatency",
    "load_events",
    "run_backtest",
]
