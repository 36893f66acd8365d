"""L2 queue-position matching: our orders wait in the replayed queue at their level.

An order that rests joins the *back* of its level: the lots ahead of it are
the level's replayed size when it arrives. Then:

- a replayed trade at our price by the other side's aggressor eats the queue
  ahead first; what is left of the trade fills us (partial fills);
- a replayed trade *through* our price (a sell below our bid, a buy above our
  ask), or the opposite best price reaching ours, fills what is left of us at
  our price (maker);
- a size decrease at our level not explained by trades is a cancel somewhere
  in the queue: the :class:`QueueModel` decides how much of it was ahead of us.

Queue models (after hftbacktest's ``RiskAdverseQueueModel`` and
``ProbQueueModel``):

- :class:`RiskAverseQueue`: cancels never advance us; the lots ahead only
  shrink with trades, and can never exceed the level's size.
- :class:`PowerProbQueue` ``(n)``: a decrease of ``chg`` lots (net of trades
  seen since the last update) comes from ahead of us with probability
  ``1 - f(back) / (f(back) + f(front))``, ``f(x) = x**n``; ``n=1`` is
  :func:`proportional` (cancels spread evenly over the queue), larger ``n``
  puts them more at the back.

Orders that would take liquidity fill against the replayed opposite side level
by level at those levels' prices (taker) without changing the replayed book
(the market does not react to us: a stated limitation). Each of our orders
competes only with the replayed queue, not with our other orders at the same
level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jtrader.backtest.matching.base import BaseMatcher, Report, SimOrder
from jtrader.bus.messages import RejectReason
from jtrader.domain import (
    BookDelta,
    BookSnapshot,
    Instrument,
    LiquiditySide,
    MarketEvent,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from jtrader.marketdata.book import OrderBook

__all__ = ["QueueModel", "RiskAverseQueue", "PowerProbQueue", "proportional", "QueueMatcher", "queue_model"]


class QueueModel(Protocol):
    def on_depth(self, order: SimOrder, prev_lots: int, new_lots: int) -> None:
        """The level at ``order``'s price went from ``prev_lots`` to ``new_lots``: update ``queue_ahead``."""
        ...


@dataclass(frozen=True)
class RiskAverseQueue:
    """Cancels never advance us: the queue ahead is only capped at the level's new size."""

    name: str = "risk_averse"

    def on_depth(self, order: SimOrder, prev_lots: int, new_lots: int) -> None:
        order.cum_trade_lots = 0
        order.queue_ahead = min(order.queue_ahead, float(new_lots))


@dataclass(frozen=True)
class PowerProbQueue:
    """A decrease is ahead of us with probability ``f(front) / (f(back) + f(front))``, ``f(x) = x**n``."""

    n: float = 1.0
    name: str = "power"

    def on_depth(self, order: SimOrder, prev_lots: int, new_lots: int) -> None:
        chg = prev_lots - new_lots - order.cum_trade_lots
        order.cum_trade_lots = 0
        if chg < 0:  # growth joins behind us
            order.queue_ahead = min(order.queue_ahead, float(new_lots))
            return
        front = order.queue_ahead
        back = max(prev_lots - front, 0.0)
        fb, ff = back**self.n, front**self.n
        prob = fb / (fb + ff) if fb + ff > 0 else 1.0
        estimate = front - (1.0 - prob) * chg + min(back - prob * chg, 0.0)
        order.queue_ahead = max(min(estimate, float(new_lots)), 0.0)


def proportional() -> PowerProbQueue:
    """Cancels spread evenly over the queue (power model with n=1)."""
    return PowerProbQueue(1.0, "proportional")


def queue_model(name: str) -> QueueModel:
    """A model by name: ``risk_averse``, ``proportional``, or ``power<n>`` (e.g. ``power2``, ``power3``)."""
    if name == "risk_averse":
        return RiskAverseQueue()
    if name == "proportional":
        return proportional()
    if name.startswith("power"):
        return PowerProbQueue(float(name[5:] or 2), name)
    raise ValueError(f"queue model: expected risk_averse, proportional or power<n>, got {name!r}")


class QueueMatcher(BaseMatcher):
    """Queue-position fills against replayed L2 books and trades; see the module docstring."""

    name = "queue"

    def __init__(self, instrument: Instrument, model: QueueModel | None = None, trade_id_prefix: str = "bt") -> None:
        super().__init__(instrument, trade_id_prefix)
        self.model: QueueModel = model or RiskAverseQueue()
        self.book = OrderBook()
        self._has_depth = False

    # -- our orders ----------------------------------------------------------------------------

    def _level(self, side: Side, price: int) -> int:
        return self.book.bid_size(price) if side is Side.BUY else self.book.ask_size(price)

    def _on_submit(self, order: SimOrder, ts: int, amended: bool = False) -> list[Report]:
        out: list[Report] = []
        buy = order.side is Side.BUY
        opposite = self.book.best_ask() if buy else self.book.best_bid()
        limit = order.price_ticks
        market = order.order_type is OrderType.MARKET
        crosses = opposite is not None and (
            market or (limit is not None and (limit >= opposite[0] if buy else limit <= opposite[0]))
        )
        if crosses and order.time_in_force is TimeInForce.POST_ONLY:
            return [
                self._reject(
                    order.client_order_id,
                    order.strategy_id,
                    RejectReason.POST_ONLY_WOULD_TAKE,
                    "post-only: the order would take liquidity",
                    ts,
                )
            ]
        if order.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            return [
                self._reject(
                    order.client_order_id,
                    order.strategy_id,
                    RejectReason.INVALID_ORDER,
                    "queue matching supports limit and market orders; use matching='book' for stops",
                    ts,
                )
            ]
        if crosses:
            bids, asks = self.book.depth(1 << 30)
            levels = [
                (p, q)
                for p, q in (asks if buy else bids)
                if market or limit is None or (p <= limit if buy else p >= limit)
            ]
            available = sum(q for _, q in levels)
            if order.time_in_force is TimeInForce.FOK and available < order.leaves_lots:
                self.orders[order.client_order_id] = order
                return [self._expire(order, ts, RejectReason.FOK_NOT_FILLABLE.value)]
            self.orders[order.client_order_id] = order
            out.append(self._rest(order, ts, amended))
            for price, lots in levels:
                take = min(lots, order.leaves_lots)
                out.append(self._fill(order, price, take, LiquiditySide.TAKER, ts))
                if order.leaves_lots == 0:
                    return out
        elif market:
            return [
                self._reject(
                    order.client_order_id,
                    order.strategy_id,
                    RejectReason.NO_LIQUIDITY,
                    "market order: no replayed liquidity on the other side",
                    ts,
                )
            ]
        if market or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            if order.client_order_id not in self.orders:
                self.orders[order.client_order_id] = order
                out.append(self._rest(order, ts, amended))
            out.append(self._expire(order, ts, "IOC remainder"))
            return out
        order.queue_ahead = float(self._level(order.side, limit or 0))
        order.cum_trade_lots = 0
        if not out:
            out.append(self._rest(order, ts, amended))
        return out

    # -- market events ---------------------------------------------------------------------------

    def on_market(self, event: MarketEvent) -> list[Report]:
        kind = type(event)
        if kind is BookDelta:
            return self._on_levels(event.bids, event.asks, event.ts_event)  # type: ignore[union-attr]
        if kind is Trade:
            return self._on_trade(event)  # type: ignore[arg-type]
        if kind is BookSnapshot:
            self._has_depth = True
            out = self._on_levels([], [], event.ts_event, snapshot=event)  # type: ignore[arg-type]
            return out
        if kind is Quote and not self._has_depth:
            q: Quote = event  # type: ignore[assignment]
            prev = OrderBook()
            prev.apply_snapshot(*self.book.depth(1 << 30))
            self.book.apply_snapshot([(q.bid_ticks, q.bid_lots)], [(q.ask_ticks, q.ask_lots)])
            return self._after_update(prev, q.ts_event)
        return []

    def _on_levels(self, bids: list, asks: list, ts: int, snapshot: BookSnapshot | None = None) -> list[Report]:
        if not self.orders:
            if snapshot is not None:
                self.book.apply_snapshot(snapshot.bids, snapshot.asks, snapshot.last_update_id)
            else:
                self._has_depth = True
                self.book.apply_levels(bids, asks)
            return []
        prev = OrderBook()
        prev.apply_snapshot(*self._our_levels_before())
        if snapshot is not None:
            self.book.apply_snapshot(snapshot.bids, snapshot.asks, snapshot.last_update_id)
        else:
            self._has_depth = True
            self.book.apply_levels(bids, asks)
        return self._after_update(prev, ts)

    def _our_levels_before(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids, asks = [], []
        for order in self.orders.values():
            price = order.price_ticks or 0
            if order.side is Side.BUY:
                bids.append((price, self.book.bid_size(price)))
            else:
                asks.append((price, self.book.ask_size(price)))
        return sorted(set(bids), reverse=True), sorted(set(asks))

    def _after_update(self, prev: OrderBook, ts: int) -> list[Report]:
        out: list[Report] = []
        best_bid, best_ask = self.book.best_bid(), self.book.best_ask()
        for order in list(self.orders.values()):
            price = order.price_ticks or 0
            buy = order.side is Side.BUY
            before = prev.bid_size(price) if buy else prev.ask_size(price)
            after = self.book.bid_size(price) if buy else self.book.ask_size(price)
            if before != after:
                self.model.on_depth(order, before, after)
            opposite = best_ask if buy else best_bid
            if opposite is not None and (opposite[0] <= price if buy else opposite[0] >= price):
                out.append(self._fill(order, price, order.leaves_lots, LiquiditySide.MAKER, ts))
        return out

    def _on_trade(self, trade: Trade) -> list[Report]:
        if not self.orders:
            return []
        out: list[Report] = []
        p, ts = trade.price_ticks, trade.ts_event
        hits_bids = trade.aggressor is Side.SELL
        for order in list(self.orders.values()):
            if (order.side is Side.BUY) != hits_bids:
                continue
            price = order.price_ticks or 0
            through = p < price if hits_bids else p > price
            if through:
                out.append(self._fill(order, price, order.leaves_lots, LiquiditySide.MAKER, ts))
            elif p == price:
                order.cum_trade_lots += trade.size_lots
                order.queue_ahead -= trade.size_lots
                if order.queue_ahead < 0:
                    lots = min(order.leaves_lots, int(-order.queue_ahead))
                    order.queue_ahead = 0.0
                    if lots > 0:
                        out.append(self._fill(order, price, lots, LiquiditySide.MAKER, ts))
        return out
