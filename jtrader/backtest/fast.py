"""A numba-compiled bar backtest of the MA crossover: the same trades as the event-driven engine, much faster.

:func:`ma_cross_fast` runs the loop of :class:`~jtrader.strategies.ma_cross.MaCrossStrategy`
with the bar matcher's rules for market orders (decide on a bar's close, fill
whole at the next bar's open, one order in flight) over arrays of ticks, bar
by bar, in compiled code. It is for sweeps and the benchmark; the general
engine remains the reference (a test checks they agree fill for fill).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["ma_cross_fast"]


@nb.njit(cache=True)
def _kernel(
    opens: np.ndarray, closes: np.ndarray, fast: int, slow: int, qty: int, allow_short: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = closes.shape[0]
    fill_bar = np.empty(n, np.int64)
    fill_lots = np.empty(n, np.int64)
    fill_px = np.empty(n, np.int64)
    nf = 0
    position = 0
    pending = 0  # signed lots to fill at the next bar's open
    sum_fast = 0
    sum_slow = 0
    prev_sign = 2  # none yet
    for i in range(n):
        if pending != 0:  # the bar matcher fills at this bar's open, before the strategy sees its close
            fill_bar[nf] = i
            fill_lots[nf] = pending
            fill_px[nf] = opens[i]
            nf += 1
            position += pending
            pending = 0
        c = closes[i]
        sum_fast += c
        sum_slow += c
        if i >= fast:
            sum_fast -= closes[i - fast]
        if i >= slow:
            sum_slow -= closes[i - slow]
        if i + 1 < slow:
            continue
        diff = sum_fast * slow - sum_slow * fast
        sign = 1 if diff > 0 else (-1 if diff < 0 else 0)
        prev = prev_sign
        prev_sign = sign
        if prev == 2:
            continue
        target = 0
        act = False
        if prev <= 0 < sign:
            target = qty
            act = True
        elif prev >= 0 > sign:
            target = -qty if allow_short else 0
            act = True
        if act and target != position:
            pending = target - position
    return fill_bar[:nf], fill_lots[:nf], fill_px[:nf]


def ma_cross_fast(
    opens: np.ndarray, closes: np.ndarray, fast: int, slow: int, quantity_lots: int, allow_short: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fills as ``(bar index, signed lots, price ticks)`` arrays; bar index is the bar whose open filled it."""
    return _kernel(
        np.ascontiguousarray(opens, np.int64),
        np.ascontiguousarray(closes, np.int64),
        fast,
        slow,
        quantity_lots,
        allow_short,
    )
