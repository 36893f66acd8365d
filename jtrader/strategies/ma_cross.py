"""A moving-average crossover on bars: long (or short) when the fast average crosses the slow one.

On each bar's close: the fast and slow simple moving averages of the closes
are compared exactly (integer ticks: ``sum_fast * slow == sum_slow * fast``
is a tie, never a float round-off). A cross up (fast was <= slow, now >) goes
long ``quantity_lots``; a cross down (fast was >= slow, now <) goes flat, or
short ``quantity_lots`` when ``allow_short``. Orders are market orders (the
bar matcher fills them at the next bar's open). Nothing happens until both
averages have a full window, and at most one order is in flight.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from jtrader.domain import Bar, InstrumentId, OrderType, Side
from jtrader.strategies.base import Strategy, StrategyContext

__all__ = ["MaCrossStrategy", "MaCrossParams"]


@dataclass(frozen=True)
class MaCrossParams:
    fast: int = 10
    slow: int = 30
    quantity_lots: int = 1
    allow_short: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise ValueError(f"ma_cross: expected 1 <= fast < slow, got fast={self.fast} slow={self.slow}")
        if self.quantity_lots <= 0:
            raise ValueError(f"ma_cross: quantity_lots must be positive, got {self.quantity_lots}")


class MaCrossStrategy(Strategy):
    """Trade fast/slow SMA crossovers of one instrument's bars; see the module docstring."""

    def __init__(self, strategy_id: str, instrument_id: InstrumentId, params: MaCrossParams | None = None):
        super().__init__(strategy_id, [instrument_id])
        self.config = params or MaCrossParams()
        self.instrument_id = instrument_id
        self._closes: deque[int] = deque(maxlen=self.config.slow)
        self._sum_fast = 0
        self._sum_slow = 0
        self._prev_sign: int | None = None  # sign of fast - slow at the previous bar

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if bar.instrument_id != self.instrument_id:
            return
        cfg = self.config
        closes = self._closes
        if len(closes) == cfg.slow:
            self._sum_slow -= closes[0]
        if len(closes) >= cfg.fast:
            self._sum_fast -= closes[-cfg.fast]
        closes.append(bar.close_ticks)
        self._sum_fast += bar.close_ticks
        self._sum_slow += bar.close_ticks
        if len(closes) < cfg.slow:
            return
        diff = self._sum_fast * cfg.slow - self._sum_slow * cfg.fast
        sign = (diff > 0) - (diff < 0)
        prev, self._prev_sign = self._prev_sign, sign
        if prev is None or ctx.open_orders(self.instrument_id):
            return
        target = None
        if prev <= 0 < sign:
            target = cfg.quantity_lots
        elif prev >= 0 > sign:
            target = -cfg.quantity_lots if cfg.allow_short else 0
        if target is None:
            return
        delta = target - ctx.position(self.instrument_id)
        if delta:
            side = Side.BUY if delta > 0 else Side.SELL
            ctx.submit(self.instrument_id, side, abs(delta), None, OrderType.MARKET)
