"""What every matching mechanism shares: the simulated order, fees, and report building.

A matcher is the simulated venue of one instrument. It is told about market
events at venue time and about our order requests when they arrive there
(after order-entry latency), and answers with the same report types a live
strategy receives (:class:`~jtrader.bus.messages.ExecutionReport`,
:class:`~jtrader.bus.messages.OrderRejected`). Trade ids are
``<prefix>-<n>``, counted per matcher, so equal inputs give equal reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from jtrader.bus.messages import ExecutionReport, MarketData, OrderRejected, RejectReason, RequestKind
from jtrader.domain import (
    Bar,
    BookDelta,
    BookSnapshot,
    Fill,
    Instrument,
    LiquiditySide,
    MarketEvent,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
)

__all__ = ["SimOrder", "Report", "BaseMatcher", "FeeSchedule"]

Report = ExecutionReport | OrderRejected
_ZERO = Decimal(0)


@dataclass
class SimOrder:
    """One of our orders as the simulated venue holds it."""

    client_order_id: str
    strategy_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity_lots: int
    price_ticks: int | None
    trigger_ticks: int | None
    ts_arrived: int
    filled_lots: int = 0
    status: OrderStatus = OrderStatus.ACKED
    triggered: bool = False
    queue_ahead: float = 0.0  # queue model: lots ahead of us at our level
    cum_trade_lots: int = 0  # queue model: traded at our level since the last depth update

    @property
    def leaves_lots(self) -> int:
        return self.quantity_lots - self.filled_lots


class FeeSchedule:
    """Exact maker/taker fees of one instrument: notional times rate, negative is a rebate."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        unit = instrument.price_increment.as_decimal() * instrument.size_increment.as_decimal()
        unit *= instrument.contract_size
        self._maker = None if instrument.is_inverse else unit * instrument.maker_fee
        self._taker = None if instrument.is_inverse else unit * instrument.taker_fee

    def fee(self, price_ticks: int, lots: int, liquidity: LiquiditySide) -> Decimal:
        maker = liquidity is LiquiditySide.MAKER
        factor = self._maker if maker else self._taker
        if factor is not None:
            return Decimal(price_ticks * lots) * factor
        rate = self.instrument.maker_fee if maker else self.instrument.taker_fee
        if not rate:
            return _ZERO
        i = self.instrument
        return i.notional(i.ticks_to_price(price_ticks), i.lots_to_size(lots)) * rate


class BaseMatcher:
    """Order bookkeeping and report building; subclasses decide when and at what price orders fill.

    Subclasses implement :meth:`_on_submit` (after validation), :meth:`on_market`
    and may override :meth:`_on_cancel`/:meth:`amend`. Orders are kept in
    arrival order, which is the order in which they are offered fills.
    """

    name = "base"
    publishes = False
    """True if the strategy's market data is what this matcher publishes (:meth:`take_public`), not the replay."""

    def __init__(self, instrument: Instrument, trade_id_prefix: str = "bt") -> None:
        self.instrument = instrument
        self.fees = FeeSchedule(instrument)
        self.orders: dict[str, SimOrder] = {}
        self._prefix = f"{trade_id_prefix}-{instrument.id.symbol}"
        self._trades = 0

    # -- requests -----------------------------------------------------------------------------

    def submit(self, order: SimOrder, ts: int) -> list[Report]:
        """Accept or reject ``order`` (arrived at ``ts``); may fill it at once."""
        problem = self._validate(order)
        if problem is not None:
            return [self._reject(order.client_order_id, order.strategy_id, RejectReason.INVALID_ORDER, problem, ts)]
        return self._on_submit(order, ts)

    def cancel(self, client_order_id: str, strategy_id: str, ts: int) -> list[Report]:
        order = self.orders.get(client_order_id)
        if order is None:
            return [
                self._reject(
                    client_order_id,
                    strategy_id,
                    RejectReason.ORDER_NOT_OPEN,
                    "cancel: the order is not open (filled, cancelled or unknown)",
                    ts,
                    RequestKind.CANCEL,
                )
            ]
        return self._on_cancel(order, ts)

    def amend(
        self, client_order_id: str, strategy_id: str, quantity_lots: int | None, price_ticks: int | None, ts: int
    ) -> list[Report]:
        """Cancel/replace: a smaller size at the same price keeps priority; anything else re-enters."""
        order = self.orders.get(client_order_id)
        if order is None:
            return [
                self._reject(
                    client_order_id,
                    strategy_id,
                    RejectReason.ORDER_NOT_OPEN,
                    "amend: the order is not open",
                    ts,
                    RequestKind.AMEND,
                )
            ]
        quantity = order.quantity_lots if quantity_lots is None else quantity_lots
        price = order.price_ticks if price_ticks is None else price_ticks
        if quantity <= order.filled_lots or (price is not None and price <= 0):
            return [
                self._reject(
                    client_order_id,
                    strategy_id,
                    RejectReason.INVALID_ORDER,
                    f"amend: quantity {quantity} must exceed the filled {order.filled_lots} lots and price be positive",
                    ts,
                    RequestKind.AMEND,
                )
            ]
        keeps_priority = price == order.price_ticks and quantity <= order.quantity_lots
        order.quantity_lots = quantity
        if keeps_priority:
            return [self._report(order, ts)]
        order.price_ticks = price
        del self.orders[client_order_id]
        order.ts_arrived = ts
        return self._on_submit(order, ts, amended=True)

    def take_public(self) -> list[MarketData]:
        """The public market data made since the last call (only matchers that publish make any)."""
        return []

    # -- to implement --------------------------------------------------------------------------

    def on_market(self, event: MarketEvent) -> list[Report]:
        """Apply one replayed market event at venue time; return our fills it caused."""
        raise NotImplementedError

    def _on_submit(self, order: SimOrder, ts: int, amended: bool = False) -> list[Report]:
        raise NotImplementedError

    def _on_cancel(self, order: SimOrder, ts: int) -> list[Report]:
        del self.orders[order.client_order_id]
        order.status = OrderStatus.CANCELLED
        return [self._report(order, ts, reason="cancelled on request")]

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _validate(order: SimOrder) -> str | None:
        if order.quantity_lots <= 0:
            return f"quantity must be positive, got {order.quantity_lots} lots"
        if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and not (order.price_ticks or 0) > 0:
            return f"a {order.order_type} order needs a positive price, got {order.price_ticks}"
        if order.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) and not (order.trigger_ticks or 0) > 0:
            return f"a {order.order_type} order needs a positive trigger price"
        if order.time_in_force is TimeInForce.POST_ONLY and order.order_type is not OrderType.LIMIT:
            return "post-only applies to limit orders only"
        return None

    def _reject(
        self,
        client_order_id: str,
        strategy_id: str,
        reason: RejectReason,
        message: str,
        ts: int,
        request: RequestKind = RequestKind.SUBMIT,
    ) -> OrderRejected:
        return OrderRejected(
            client_order_id=client_order_id,
            reason=reason,
            message=message,
            strategy_id=strategy_id,
            request=request,
            ts=ts,
        )

    def _report(self, order: SimOrder, ts: int, fill: Fill | None = None, reason: str = "") -> ExecutionReport:
        return ExecutionReport(
            client_order_id=order.client_order_id,
            instrument_id=self.instrument.id,
            status=order.status,
            filled_lots=order.filled_lots,
            leaves_lots=order.leaves_lots if order.status.is_open else 0,
            strategy_id=order.strategy_id,
            venue_order_id=order.client_order_id,
            last_fill=fill,
            reason=reason,
            ts=ts,
        )

    def _rest(self, order: SimOrder, ts: int, amended: bool) -> ExecutionReport:
        self.orders[order.client_order_id] = order
        order.status = OrderStatus.PARTIALLY_FILLED if order.filled_lots else OrderStatus.ACKED
        return self._report(order, ts, reason="amended" if amended else "")

    def _fill(self, order: SimOrder, price_ticks: int, lots: int, liquidity: LiquiditySide, ts: int) -> ExecutionReport:
        """Fill ``lots`` of ``order`` at ``price_ticks``; removes it from the book when done."""
        self._trades += 1
        order.filled_lots += lots
        done = order.filled_lots >= order.quantity_lots
        order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        if done:
            self.orders.pop(order.client_order_id, None)
        fill = Fill(
            client_order_id=order.client_order_id,
            venue_order_id=order.client_order_id,
            trade_id=f"{self._prefix}-{self._trades}",
            instrument_id=self.instrument.id,
            side=order.side,
            price_ticks=price_ticks,
            size_lots=lots,
            liquidity=liquidity,
            fee=self.fees.fee(price_ticks, lots, liquidity),
            fee_currency=self.instrument.settle,
            ts_event=ts,
            ts_recv=ts,
        )
        return self._report(order, ts, fill)

    def _expire(self, order: SimOrder, ts: int, reason: str) -> ExecutionReport:
        self.orders.pop(order.client_order_id, None)
        order.status = OrderStatus.CANCELLED
        return self._report(order, ts, reason=reason)


def event_ts(event: MarketEvent) -> int:
    """The venue time of a replayed event."""
    return event.ts_event


MARKET_EVENT_TYPES = (Trade, Quote, BookDelta, BookSnapshot, Bar)
