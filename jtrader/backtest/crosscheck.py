"""The moving-average crossover run in backtrader, a peer, with the same fill assumptions as ours.

Used by the cross-check test and the benchmark; backtrader is imported only
here and only when called. Same assumptions as
:class:`~jtrader.strategies.ma_cross.MaCrossStrategy` with the bar matcher:
market orders at the next bar's open, whole fills, a commission of
``commission`` times the notional on every fill, decisions on each bar's
close with exact integer-tick averages, no order while one is in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PeerTrade", "run_backtrader_ma_cross"]


@dataclass(frozen=True)
class PeerTrade:
    ts_open_ns: int  # open time of the bar it filled on
    side: int  # +1 buy, -1 sell
    size: float
    price: float


def run_backtrader_ma_cross(
    bars: dict[str, np.ndarray],
    tick: float,
    fast: int,
    slow: int,
    size: float,
    commission: float,
    allow_short: bool = False,
    interval_ns: int = 60_000_000_000,
) -> tuple[list[PeerTrade], float, float]:
    """Run the crossover in backtrader over ``bars`` (ticks, as from :func:`~jtrader.backtest.data.bar_arrays`).

    Returns the trades, the final PnL (broker value minus starting cash) and the run's wall seconds.
    """
    import time

    import backtrader as bt
    import pandas as pd

    opens = pd.to_datetime(bars["ts"] - interval_ns, unit="ns")
    frame = pd.DataFrame(
        {
            "open": bars["open"] * tick,
            "high": bars["high"] * tick,
            "low": bars["low"] * tick,
            "close": bars["close"] * tick,
            "volume": np.zeros(len(bars["ts"])),
        },
        index=opens,
    )
    trades: list[PeerTrade] = []
    closes_ticks = bars["close"].tolist()

    class MaCross(bt.Strategy):
        def __init__(self) -> None:
            self.i = -1
            self.prev: int | None = None
            self.pending: Any = None

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                ex = order.executed
                ts = int(pd.Timestamp(bt.num2date(ex.dt)).value)
                trades.append(PeerTrade(ts, 1 if order.isbuy() else -1, abs(ex.size), ex.price))
            if not order.alive():
                self.pending = None

        def next(self) -> None:
            self.i += 1
            if self.i + 1 < slow:
                return
            window = closes_ticks[self.i + 1 - slow : self.i + 1]
            diff = sum(window[-fast:]) * slow - sum(window) * fast
            sign = (diff > 0) - (diff < 0)
            prev, self.prev = self.prev, sign
            if prev is None or self.pending is not None:
                return
            target = None
            if prev <= 0 < sign:
                target = size
            elif prev >= 0 > sign:
                target = -size if allow_short else 0.0
            if target is None:
                return
            delta = round(target - self.position.size, 12)
            if delta > 0:
                self.pending = self.buy(size=delta)
            elif delta < 0:
                self.pending = self.sell(size=-delta)

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(MaCross)
    cash = 1e6  # small enough that float cash keeps 1e-10 precision
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=commission)
    started = time.perf_counter()
    cerebro.run()
    seconds = time.perf_counter() - started
    return trades, cerebro.broker.getvalue() - cash, seconds
