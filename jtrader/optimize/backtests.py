"""Ready-made evaluators: backtest the MA crossover on a bar stream for given parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jtrader.backtest import BacktestConfig, run_backtest
from jtrader.domain import Instrument, MarketEvent
from jtrader.strategies.ma_cross import MaCrossParams, MaCrossStrategy

__all__ = ["ma_cross_metrics", "fast_below_slow"]


def ma_cross_metrics(
    events: Sequence[MarketEvent], instrument: Instrument, params: dict[str, Any], quantity_lots: int = 10_000
) -> dict[str, float]:
    """Metrics of the MA crossover with ``params`` (``fast``, ``slow``, optional ``allow_short``) on ``events``."""
    config = MaCrossParams(
        fast=int(params["fast"]),
        slow=int(params["slow"]),
        quantity_lots=quantity_lots,
        allow_short=bool(params.get("allow_short", False)),
    )
    strategy = MaCrossStrategy("ma_cross", instrument.id, config)
    result = run_backtest(strategy, events, [instrument], BacktestConfig(sample_interval_ns=60_000_000_000))
    return result.metrics


def fast_below_slow(params: dict[str, Any]) -> bool:
    return int(params["fast"]) < int(params["slow"])
