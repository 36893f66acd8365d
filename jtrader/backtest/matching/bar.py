"""Bar/touch matching: orders filled against OHLC bars, with explicit intrabar assumptions.

Assumptions (what a bar cannot tell us, decided conservatively and the same
way every run):

1. An order is offered fills only by bars that *open after it arrived* at the
   venue (``bar.ts_open >= order.ts_arrived``): the path inside the bar in
   progress is unknown. A strategy deciding on a bar's close therefore fills
   on the next bar at the earliest.
2. Market orders fill whole at the next bar's open (taker).
3. A buy limit at P fills whole when the bar trades *through* it: ``low < P``
   (``touch=True``: ``low <= P``). If the bar opens through it (``open < P``,
   or ``<=`` with touch) the fill is at the open (taker: the order was
   marketable when the market reopened); otherwise at P (maker). Sells mirror.
4. Post-only limits that the next bar's open would cross are rejected; IOC and
   FOK limits see one bar, and what it does not fill is cancelled.
5. Stops trigger when ``high >= trigger`` (buy) / ``low <= trigger`` (sell);
   a stop-market fills at the worse of the open and the trigger (taker); a
   triggered stop-limit becomes a resting limit from the next bar on.
6. No volume limit: a fill is always whole (bars carry no queue information).
7. Orders fill in arrival order; other events (trades, quotes, books) are ignored.
"""

from __future__ import annotations

from jtrader.backtest.matching.base import BaseMatcher, Report, SimOrder
from jtrader.bus.messages import RejectReason
from jtrader.domain import Bar, Instrument, LiquiditySide, MarketEvent, OrderStatus, OrderType, Side, TimeInForce

__all__ = ["BarMatcher"]


class BarMatcher(BaseMatcher):
    """Fill orders against the instrument's bars; see the module docstring for the rules."""

    name = "bar"

    def __init__(self, instrument: Instrument, trade_id_prefix: str = "bt", touch: bool = False) -> None:
        super().__init__(instrument, trade_id_prefix)
        self.touch = touch

    def _on_submit(self, order: SimOrder, ts: int, amended: bool = False) -> list[Report]:
        return [self._rest(order, ts, amended)]

    def on_market(self, event: MarketEvent) -> list[Report]:
        if type(event) is not Bar or not self.orders:
            return []
        bar: Bar = event
        ts = bar.ts_event
        ts_open = bar.ts_event - bar.interval_ns
        out: list[Report] = []
        o, h, lo = bar.open_ticks, bar.high_ticks, bar.low_ticks
        touch = self.touch
        for order in list(self.orders.values()):
            if order.ts_arrived > ts_open:
                continue
            buy = order.side is Side.BUY
            kind = order.order_type
            if kind in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) and not order.triggered:
                trigger = order.trigger_ticks or 0
                if not (h >= trigger if buy else lo <= trigger):
                    continue
                if kind is OrderType.STOP_LIMIT:
                    order.triggered = True
                    order.ts_arrived = ts  # rests as a limit from the next bar
                    continue
                price = max(o, trigger) if buy else min(o, trigger)
                out.append(self._fill(order, price, order.leaves_lots, LiquiditySide.TAKER, ts))
                continue
            if kind is OrderType.MARKET:
                out.append(self._fill(order, o, order.leaves_lots, LiquiditySide.TAKER, ts))
                continue
            limit = order.price_ticks or 0
            opens_through = (o <= limit if touch else o < limit) if buy else (o >= limit if touch else o > limit)
            if order.time_in_force is TimeInForce.POST_ONLY and opens_through and order.filled_lots == 0:
                # Already acknowledged, so the strategy learns it as a rejected order status.
                self.orders.pop(order.client_order_id, None)
                order.status = OrderStatus.REJECTED
                out.append(self._report(order, ts, reason=RejectReason.POST_ONLY_WOULD_TAKE.value))
                continue
            if opens_through:
                out.append(self._fill(order, o, order.leaves_lots, LiquiditySide.TAKER, ts))
            elif (lo <= limit if touch else lo < limit) if buy else (h >= limit if touch else h > limit):
                out.append(self._fill(order, limit, order.leaves_lots, LiquiditySide.MAKER, ts))
            elif order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                out.append(self._expire(order, ts, "IOC/FOK: not filled by the next bar"))
        return out
