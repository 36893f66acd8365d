"""The demo's backtest stage: two strategies, two matching mechanisms, reports under ``var/reports/``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from jtrader.backtest.engine import BacktestConfig
from jtrader.backtest.runner import run_lake_backtest
from jtrader.config import Settings
from jtrader.domain import Instrument

__all__ = ["run_backtest_stage"]


def run_backtest_stage(settings: Settings, console: Console) -> bool:
    """Run both backtests, print their key metrics, and return True if both produced fills."""
    from jtrader.gateways.instruments import default_registry

    registry = default_registry()
    runs: list[tuple[str, list[Instrument], dict[str, Any], BacktestConfig]] = [
        (
            "quoting",
            [registry.find("BTCUSDT", "binance_usdm")],
            {"quote_lots": 1, "max_position_lots": 5, "skew_ticks_per_lot": 1.0},
            BacktestConfig(matching="queue", queue_model="proportional"),
        ),
        (
            "ma_cross",
            [registry.find("btcusdt", "huobi")],
            {"fast": 10, "slow": 30, "quantity_lots": 10_000, "allow_short": True},
            BacktestConfig(matching="bar", sample_interval_ns=60_000_000_000),
        ),
    ]
    table = Table(
        "strategy", "matching", "events", "fills", "pnl", "sharpe", "max dd", "maker", "markout 10s bps", "report"
    )
    ok = True
    for strategy, instruments, params, config in runs:
        done = run_lake_backtest(settings, strategy, instruments, params, config)
        m = done.result.metrics
        table.add_row(
            strategy,
            config.matching,
            f"{done.result.events:,}",
            f"{len(done.result.fills):,}",
            f"{m['pnl']:,.2f}",
            f"{m['sharpe']:,.2f}",
            f"{m['max_drawdown']:,.2f}",
            f"{m['maker_ratio']:.2f}",
            f"{m['markout_10s']:.2f}",
            str(done.report.relative_to(settings.root))
            if done.report.is_relative_to(settings.root)
            else str(done.report),
        )
        ok = ok and bool(done.result.fills)
    console.print(table)
    return ok
