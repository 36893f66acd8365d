"""Metrics a quant reads: information coefficient and its decay, hit rate, log loss, signal PnL.

All take a predicted probability that the forward return is positive
(``p_up``) and realised forward log returns; NaN returns are ignored.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["evaluate", "hit_rate", "information_coefficient", "log_loss", "signal_pnl"]


def _valid(p: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, r = np.asarray(p, dtype=float), np.asarray(r, dtype=float)
    keep = np.isfinite(p) & np.isfinite(r)
    return p[keep], r[keep]


def information_coefficient(p_up: np.ndarray, fwd_ret: np.ndarray) -> float:
    """Spearman rank correlation of the prediction with the forward return (NaN if undefined)."""
    p, r = _valid(p_up, fwd_ret)
    if len(p) < 3 or np.all(p == p[0]) or np.all(r == r[0]):
        return math.nan
    return float(pd.Series(p).rank().corr(pd.Series(r).rank()))


def hit_rate(p_up: np.ndarray, fwd_ret: np.ndarray) -> float:
    """Share of non-zero forward returns whose sign the prediction (p_up > 0.5) called right."""
    p, r = _valid(p_up, fwd_ret)
    moved = r != 0
    if not moved.any():
        return math.nan
    return float(np.mean((p[moved] > 0.5) == (r[moved] > 0)))


def log_loss(p_up: np.ndarray, fwd_ret: np.ndarray, eps: float = 1e-12) -> float:
    """Binary cross-entropy of p_up against the up/down outcome, over non-zero forward returns."""
    p, r = _valid(p_up, fwd_ret)
    moved = r != 0
    if not moved.any():
        return math.nan
    p, y = np.clip(p[moved], eps, 1 - eps), (r[moved] > 0).astype(float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def signal_pnl(
    p_up: np.ndarray, fwd_ret: np.ndarray, cost_bps: float = 0.0, threshold: float = 0.0
) -> dict[str, float]:
    """PnL of trading ``sign(p_up - 0.5)`` (flat within ``threshold``) one unit per sample, non-overlapping.

    Returns total and mean PnL in bps of notional per sample, its per-sample
    Sharpe, and turnover; each unit of position change costs ``cost_bps``.
    The returns are taken as non-overlapping (callers pass every h-th sample
    for an h-step horizon).
    """
    p, r = _valid(p_up, fwd_ret)
    if not len(p):
        return {"pnl_bps": math.nan, "pnl_mean_bps": math.nan, "sharpe": math.nan, "turnover": math.nan}
    pos = np.where(p - 0.5 > threshold, 1.0, np.where(0.5 - p > threshold, -1.0, 0.0))
    trades = np.abs(np.diff(np.concatenate([[0.0], pos])))
    pnl = pos * r * 1e4 - trades * cost_bps
    sd = pnl.std()
    return {
        "pnl_bps": float(pnl.sum()),
        "pnl_mean_bps": float(pnl.mean()),
        "sharpe": float(pnl.mean() / sd) if sd > 0 else math.nan,
        "turnover": float(trades.mean()),
    }


def evaluate(
    p_up: np.ndarray, frame: pd.DataFrame, horizon: int, ic_horizons: tuple[int, ...], cost_bps: float
) -> dict[str, float]:
    """Every metric at the model's horizon, plus ``ic_<h>`` for the IC decay over ``ic_horizons``."""
    r = frame[f"fwd_ret_{horizon}"].to_numpy(dtype=float)
    out = {
        "ic": information_coefficient(p_up, r),
        "hit_rate": hit_rate(p_up, r),
        "log_loss": log_loss(p_up, r),
        "n": float(np.isfinite(r).sum()),
    }
    stride = slice(None, None, max(horizon, 1))
    out |= signal_pnl(np.asarray(p_up)[stride], r[stride], cost_bps)
    for h in ic_horizons:
        column = f"fwd_ret_{h}"
        if column in frame.columns:
            out[f"ic_{h}"] = information_coefficient(p_up, frame[column].to_numpy(dtype=float))
    return out
