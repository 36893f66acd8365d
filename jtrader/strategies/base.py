"""The strategy contract: one code path for backtest, paper and live.

A :class:`Strategy` reacts to events and acts only through the
:class:`StrategyContext` it is given: submit, cancel, amend, the clock,
positions, books, timers and models. It never opens a socket, a file or a
database, and it cannot tell a simulated clock from the wall clock. Client
order ids are ``<strategy_id>-<n>``, counted per strategy, so the same inputs
give the same ids everywhere (backtest–paper parity depends on it).

:class:`StrategyState` is the bookkeeping every context shares: open orders,
positions and the id counter, updated from execution reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from jtrader.bus.messages import ExecutionReport, OrderRejected
from jtrader.domain import (
    Bar,
    BookStatus,
    Fill,
    Instrument,
    InstrumentId,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from jtrader.marketdata.book import OrderBook

__all__ = ["Strategy", "StrategyContext", "StrategyState", "OpenOrder"]


class StrategyContext(Protocol):
    """What a strategy may do. Implemented by the backtester and by the live strategy host."""

    strategy_id: str

    def now(self) -> int:
        """The current time in ns: simulated in backtest, wall clock live."""
        ...

    def instrument(self, instrument_id: InstrumentId) -> Instrument: ...

    def submit(
        self,
        instrument_id: InstrumentId,
        side: Side,
        quantity_lots: int,
        price_ticks: int | None = None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        trigger_ticks: int | None = None,
        reduce_only: bool = False,
    ) -> str:
        """Send an order; return its client order id. Outcomes arrive as on_order_update/on_reject."""
        ...

    def cancel(self, client_order_id: str) -> None: ...

    def amend(self, client_order_id: str, quantity_lots: int | None = None, price_ticks: int | None = None) -> None: ...

    def cancel_all(self, instrument_id: InstrumentId | None = None) -> None: ...

    def position(self, instrument_id: InstrumentId) -> int:
        """Net position in lots (signed), from this strategy's own fills."""
        ...

    def open_orders(self, instrument_id: InstrumentId | None = None) -> list[OpenOrder]: ...

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        """The current L2 book of ``instrument_id``, if book data is subscribed."""
        ...

    def set_timer(self, interval_ns: int) -> None:
        """Call on_timer every ``interval_ns`` of (simulated or wall) time."""
        ...

    def model(self, name: str) -> Any:
        """A model loaded for this strategy (``models:/<name>@champion`` live)."""
        ...

    def log(self, message: str) -> None: ...


class Strategy:
    """Base class: override the handlers you need; each default does nothing.

    Example::

        >>> class Idle(Strategy):
        ...     def on_quote(self, ctx, quote):
        ...         pass
        >>> Idle("idle", instruments=[]).strategy_id
        'idle'
    """

    def __init__(self, strategy_id: str, instruments: list[InstrumentId], params: dict[str, Any] | None = None):
        self.strategy_id = strategy_id
        self.instruments = list(instruments)
        self.params = dict(params or {})

    def on_start(self, ctx: StrategyContext) -> None: ...
    def on_quote(self, ctx: StrategyContext, quote: Quote) -> None: ...
    def on_trade(self, ctx: StrategyContext, trade: Trade) -> None: ...
    def on_book(self, ctx: StrategyContext, instrument_id: InstrumentId, book: OrderBook) -> None: ...
    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None: ...
    def on_book_status(self, ctx: StrategyContext, status: BookStatus) -> None:
        """Live feeds: the book of ``status.instrument_id`` became (un)trustworthy; if not, ``ctx.book()`` is None."""

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None: ...
    def on_order_update(self, ctx: StrategyContext, report: ExecutionReport) -> None: ...
    def on_reject(self, ctx: StrategyContext, reject: OrderRejected) -> None: ...
    def on_timer(self, ctx: StrategyContext, now_ns: int) -> None: ...
    def on_stop(self, ctx: StrategyContext) -> None: ...


@dataclass
class OpenOrder:
    """A strategy's view of one of its working orders."""

    client_order_id: str
    instrument_id: InstrumentId
    side: Side
    quantity_lots: int
    price_ticks: int | None
    filled_lots: int = 0
    status: OrderStatus = OrderStatus.NEW
    pending_cancel: bool = False

    @property
    def leaves_lots(self) -> int:
        return self.quantity_lots - self.filled_lots


@dataclass
class StrategyState:
    """Orders, positions and id counter of one strategy, driven by execution reports.

    Fills are applied once per trade id and order, whatever order or number of
    times the reports arrive in (a trade between two of our own orders is two
    fills, one per order, under one trade id).
    """

    strategy_id: str
    next_id: int = 1
    orders: dict[str, OpenOrder] = field(default_factory=dict)
    positions: dict[InstrumentId, int] = field(default_factory=dict)
    fills_seen: set[str] = field(default_factory=set)
    fills: list[Fill] = field(default_factory=list)

    def new_client_order_id(self) -> str:
        client_order_id = f"{self.strategy_id}-{self.next_id}"
        self.next_id += 1
        return client_order_id

    def on_submitted(self, order: OpenOrder) -> None:
        self.orders[order.client_order_id] = order

    def open_order(self, instrument_id: InstrumentId, side: Side, quantity_lots: int, price_ticks: int | None) -> str:
        """Allocate the next client order id and record the order as working; return the id."""
        client_order_id = self.new_client_order_id()
        self.orders[client_order_id] = OpenOrder(client_order_id, instrument_id, side, quantity_lots, price_ticks)
        return client_order_id

    def begin_cancel(self, client_order_id: str) -> OpenOrder | None:
        """Mark an order as being cancelled; None if it is unknown or a cancel is already pending."""
        order = self.orders.get(client_order_id)
        if order is None or order.pending_cancel:
            return None
        order.pending_cancel = True
        return order

    def on_report(self, report: ExecutionReport, on_fill: Callable[[Fill], None] | None = None) -> None:
        """Apply an execution report; call ``on_fill`` for each new fill."""
        fill = report.last_fill
        if fill is not None:
            key = f"{fill.instrument_id}/{fill.trade_id}/{fill.client_order_id}"
            if key not in self.fills_seen:
                self.fills_seen.add(key)
                self.fills.append(fill)
                self.positions[fill.instrument_id] = (
                    self.positions.get(fill.instrument_id, 0) + fill.size_lots * fill.side.sign
                )
                if on_fill is not None:
                    on_fill(fill)
        order = self.orders.get(report.client_order_id)
        if order is None:
            return
        order.status = report.status
        order.filled_lots = max(order.filled_lots, report.filled_lots)
        if not report.status.is_open:
            del self.orders[report.client_order_id]

    def on_rejected(self, reject: OrderRejected) -> None:
        order = self.orders.get(reject.client_order_id)
        if order is not None and order.status is OrderStatus.NEW:
            del self.orders[reject.client_order_id]
        elif order is not None:
            order.pending_cancel = False  # a refused cancel/amend leaves the order working

    def open_orders(self, instrument_id: InstrumentId | None = None) -> list[OpenOrder]:
        return [o for o in self.orders.values() if instrument_id is None or o.instrument_id == instrument_id]

    def position(self, instrument_id: InstrumentId) -> int:
        return self.positions.get(instrument_id, 0)
