"""Performance metrics of a backtest, computed from its fills and its equity curve.

All money figures are in the instruments' quote currency (inverse
instruments' base-currency PnL is shown at the mark). The equity curve is
put on a regular grid of ``sample_interval_ns`` (last value carried forward)
before ratios are computed; ratios are annualised over a 365-day year (crypto
trades every day). Returns are PnL increments divided by ``capital``, or the
PnL increments themselves when ``capital`` is 0 (Sharpe and Sortino do not
depend on the scale).

Definitions:

- ``pnl``: net PnL (realised + unrealised at the last mark - fees - funding);
  ``realised_pnl``, ``unrealised_pnl``, ``fees``, ``funding`` its parts;
- ``sharpe``: mean / std of grid returns x sqrt(periods a year) (0 if std is 0);
- ``sortino``: mean / downside deviation x sqrt(periods a year);
- ``max_drawdown``: the largest fall of equity from a previous peak (>= 0);
- ``calmar``: annualised PnL / max drawdown; ``pnl_over_maxdd``: PnL / max drawdown;
- ``hit_ratio``: share of fills that realised PnL (closing trades) whose PnL
  net of their own fee was positive;
- ``fill_rate``: orders with at least one fill / orders submitted;
- ``maker_ratio``: maker share of traded quantity;
- ``avg_abs_inventory`` (time-weighted over the grid) and ``max_abs_inventory``,
  in base units (contracts for inverse);
- ``turnover``: traded notional; ``markout_<h>s``: mean of (mid at fill time
  + h - fill price) x side, in bps of the fill price (positive: the fills
  were on the right side of the move).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from jtrader.backtest.engine import BacktestResult

__all__ = ["compute_metrics", "equity_grid", "markouts", "drawdown", "OBJECTIVES"]

_YEAR_NS = 365 * 24 * 3600 * 1_000_000_000

OBJECTIVES = ("sharpe", "sortino", "pnl", "calmar", "pnl_over_maxdd")


def equity_grid(ts: list[int], equity: list[float], step: int) -> tuple[np.ndarray, np.ndarray]:
    """The equity curve on a regular grid of ``step`` ns, last value carried forward."""
    if not ts:
        return np.zeros(0, np.int64), np.zeros(0)
    t = np.asarray(ts, np.int64)
    e = np.asarray(equity, float)
    grid = np.arange(t[0], t[-1] + 1, step, dtype=np.int64) if step > 0 else t
    idx = np.searchsorted(t, grid, side="right") - 1
    return grid, e[np.clip(idx, 0, len(e) - 1)]


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Equity below its running peak (>= 0), at each point."""
    if equity.size == 0:
        return equity
    return np.maximum.accumulate(equity) - equity


def markouts(result: BacktestResult, horizon_ns: int) -> np.ndarray:
    """Per fill: (mid at fill time + horizon - fill price) x side, in bps of the fill price."""
    parts = []
    for iid, (mts, mpx) in result.marks.items():
        fills = [f for f in result.fills if f.instrument_id == iid]
        if not mts or not fills:
            continue
        instrument = result.instruments[iid]
        t = np.fromiter((f.ts_event for f in fills), np.int64, len(fills))
        price = np.fromiter((f.price_ticks for f in fills), float, len(fills)) * instrument.ticks_to_float(1)
        sign = np.fromiter((f.side.sign for f in fills), float, len(fills))
        i = np.searchsorted(np.asarray(mts, np.int64), t + horizon_ns, side="right") - 1
        ok = i >= 0
        mid = np.asarray(mpx, float)[np.clip(i, 0, None)]
        parts.append(((mid - price) / price * 1e4 * sign)[ok])
    return np.concatenate(parts) if parts else np.zeros(0)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and math.isfinite(a) else 0.0


def compute_metrics(result: BacktestResult) -> dict[str, float]:
    """The metrics listed in the module docstring, as plain floats."""
    cfg = result.config
    step = cfg.sample_interval_ns
    grid_t, grid_e = equity_grid(result.equity_ts, result.equity, step)
    increments = np.diff(grid_e) if grid_e.size > 1 else np.zeros(0)
    returns = increments / cfg.capital if cfg.capital > 0 else increments
    periods = _YEAR_NS / step if step > 0 else 1.0
    sharpe = sortino = 0.0
    if returns.size > 1:
        std = float(returns.std(ddof=1))
        sharpe = float(returns.mean()) / std * math.sqrt(periods) if std > 0 else 0.0
        downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
        sortino = float(returns.mean()) / downside * math.sqrt(periods) if downside > 0 else 0.0
    dd = drawdown(np.concatenate([[0.0], grid_e])) if grid_e.size else np.zeros(1)
    max_dd = float(dd.max())
    pnl = float(result.equity[-1]) if result.equity else 0.0
    span_ns = int(grid_t[-1] - grid_t[0]) if grid_t.size > 1 else 0
    annual_pnl = pnl * _YEAR_NS / span_ns if span_ns > 0 else 0.0
    if cfg.capital > 0:
        annual_pnl /= cfg.capital
        max_dd_base = max_dd / cfg.capital
    else:
        max_dd_base = max_dd
    realised = fees = unrealised = 0.0
    for iid, position in result.positions.items():
        instrument = result.instruments[iid]
        realised += float(position.realised_pnl)
        fees += float(position.fees)
    funding = float(sum(result.funding.values()))
    unrealised = pnl - (realised - fees - funding)
    closing = [(r - float(f.fee)) for f, r in zip(result.fills, result.fill_realised, strict=True) if r != 0.0]
    maker_qty = total_qty = 0
    turnover = 0.0
    for fill in result.fills:
        instrument = result.instruments[fill.instrument_id]
        total_qty += fill.size_lots
        if fill.liquidity.value == "maker":
            maker_qty += fill.size_lots
        turnover += float(
            instrument.notional(instrument.ticks_to_price(fill.price_ticks), instrument.lots_to_size(fill.size_lots))
        )
    inventory = [0.0]
    max_inv = 0.0
    for iid, lots in result.inventory.items():
        instrument = result.instruments[iid]
        if lots:
            units = np.abs(np.asarray(lots, float)) * instrument.lots_to_float(1)
            inventory.append(float(units.mean()))
            max_inv = max(max_inv, float(units.max()))
    running = {iid: 0 for iid in result.instruments}
    for fill in result.fills:
        running[fill.instrument_id] += fill.size_lots * fill.side.sign
        max_inv = max(
            max_inv, abs(running[fill.instrument_id]) * result.instruments[fill.instrument_id].lots_to_float(1)
        )
    metrics = {
        "pnl": pnl,
        "realised_pnl": realised,
        "unrealised_pnl": unrealised,
        "fees": fees,
        "funding": funding,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_dd,
        "calmar": _ratio(annual_pnl, max_dd_base),
        "pnl_over_maxdd": _ratio(pnl, max_dd),
        "hit_ratio": sum(1 for c in closing if c > 0) / len(closing) if closing else 0.0,
        "fill_rate": result.orders_filled / result.orders_submitted if result.orders_submitted else 0.0,
        "maker_ratio": maker_qty / total_qty if total_qty else 0.0,
        "avg_abs_inventory": float(sum(inventory)),
        "max_abs_inventory": max_inv,
        "turnover": turnover,
        "fills": float(len(result.fills)),
        "orders": float(result.orders_submitted),
        "events": float(result.events),
    }
    for horizon in cfg.markout_horizons_ns:
        m = markouts(result, horizon)
        metrics[f"markout_{horizon // 1_000_000_000}s"] = float(m.mean()) if m.size else 0.0
    return metrics
