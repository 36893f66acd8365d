"""Full-book matching: our orders go through the venue's own compiled :class:`MatchingEngine`.

The replayed L2 book is loaded into the engine as anonymous liquidity
(``set_level``), so our orders consume it when they take and rest among it in
price-time priority when they do not (an increase at a level queues behind
us, a decrease comes out of the back first; see
:meth:`~jtrader.matching.MatchingEngine.set_level`). A replayed trade is
replayed as an anonymous IOC order of the aggressor's side, size and price:
it fills whatever is ahead in priority, which may be us. A replayed level that
crosses our resting order fills it whole (we are the maker).

The next replayed update of a level sets its anonymous size again, so
liquidity we took reappears then: the replay does not react to us.

Everything is deterministic: the engine is, order ids are counted from 1 in
arrival order, trade ids are counted per matcher. The simulated venue uses the
same engine, which is what the backtest-paper parity test relies on.
"""

from __future__ import annotations

import numpy as np

from jtrader.backtest.matching.base import BaseMatcher, Report, SimOrder
from jtrader.bus.messages import RejectReason, RequestKind
from jtrader.domain import (
    BookDelta,
    BookSnapshot,
    Instrument,
    MarketEvent,
    OrderStatus,
    OrderType,
    Quote,
    TimeInForce,
    Trade,
)
from jtrader.matching import (
    COMMAND_DTYPE,
    Accepted,
    Amended,
    Cancelled,
    CommandKind,
    EngineEvent,
    Filled,
    MatchingEngine,
    Reason,
    Rejected,
    SideCode,
)

__all__ = ["BookMatcher", "OUR_OWNER", "REPLAY_OWNER"]

OUR_OWNER = 1
REPLAY_OWNER = 2
_REPLAY_ID_BASE = 1 << 48  # ids of replayed trades' IOC orders, apart from ours

_REJECT_REASONS = {
    Reason.POST_ONLY_WOULD_TAKE: RejectReason.POST_ONLY_WOULD_TAKE,
    Reason.FOK_NOT_FILLABLE: RejectReason.FOK_NOT_FILLABLE,
    Reason.NO_LIQUIDITY: RejectReason.NO_LIQUIDITY,
    Reason.UNKNOWN_ORDER: RejectReason.ORDER_NOT_OPEN,
}


class BookMatcher(BaseMatcher):
    """Match our orders in a :class:`MatchingEngine` loaded with the replayed book; see the module docstring."""

    name = "book"

    def __init__(self, instrument: Instrument, trade_id_prefix: str = "bt", replay_trades: bool = True) -> None:
        super().__init__(instrument, trade_id_prefix)
        self.engine = MatchingEngine(instrument, initial_levels=4096, initial_orders=1024)
        self.replay_trades = replay_trades
        self._ids: dict[str, int] = {}
        self._by_id: dict[int, SimOrder] = {}
        self._next_id = 1
        self._replay_seq = 0
        self._levels: tuple[set[int], set[int]] = (set(), set())  # replayed prices present, bids and asks
        self._has_depth = False

    # -- our orders ----------------------------------------------------------------------------

    def _on_submit(self, order: SimOrder, ts: int, amended: bool = False) -> list[Report]:
        oid = self._next_id
        self._next_id += 1
        self._ids[order.client_order_id] = oid
        self._by_id[oid] = order
        self.orders[order.client_order_id] = order
        events = self.engine.submit(
            oid,
            OUR_OWNER,
            order.side,
            order.leaves_lots,
            order.price_ticks or 0,
            order_type=order.order_type,
            time_in_force=order.time_in_force,
            trigger_ticks=order.trigger_ticks or 0,
            ts=ts,
        )
        return self._translate(events, ts, amended)

    def _on_cancel(self, order: SimOrder, ts: int) -> list[Report]:
        return self._translate(
            self.engine.cancel(self._ids[order.client_order_id], OUR_OWNER, ts), ts, request=RequestKind.CANCEL
        )

    def amend(
        self, client_order_id: str, strategy_id: str, quantity_lots: int | None, price_ticks: int | None, ts: int
    ) -> list[Report]:
        order = self.orders.get(client_order_id)
        if order is None:
            return super().amend(client_order_id, strategy_id, quantity_lots, price_ticks, ts)
        quantity = order.quantity_lots if quantity_lots is None else quantity_lots
        events = self.engine.amend(self._ids[client_order_id], OUR_OWNER, quantity, price_ticks or 0, ts=ts)
        return self._translate(events, ts, request=RequestKind.AMEND)

    def _translate(
        self, events: list[EngineEvent], ts: int, amended: bool = False, request: RequestKind = RequestKind.SUBMIT
    ) -> list[Report]:
        out: list[Report] = []
        for event in events:
            if event.owner != OUR_OWNER:
                continue
            order = self._by_id.get(event.order_id)
            if order is None:
                continue
            if isinstance(event, Filled):
                out.append(self._fill(order, event.price_ticks, event.lots, event.liquidity, ts))
                if order.status is OrderStatus.FILLED:
                    self._forget(order)
            elif isinstance(event, Accepted):
                out.append(self._rest(order, ts, amended))
            elif isinstance(event, Amended):
                order.quantity_lots = event.quantity_lots
                order.price_ticks = event.price_ticks
                out.append(self._rest(order, ts, True))
            elif isinstance(event, Cancelled):
                self.orders.pop(order.client_order_id, None)
                order.status = OrderStatus.CANCELLED
                out.append(self._report(order, ts, reason=event.reason.name.lower()))
                self._forget(order)
            elif isinstance(event, Rejected):
                reason = _REJECT_REASONS.get(event.reason, RejectReason.VENUE_REJECT)
                if request is RequestKind.SUBMIT:
                    self.orders.pop(order.client_order_id, None)
                    self._forget(order)
                out.append(
                    self._reject(
                        order.client_order_id, order.strategy_id, reason, event.reason.name.lower(), ts, request
                    )
                )
        return out

    def _forget(self, order: SimOrder) -> None:
        oid = self._ids.pop(order.client_order_id, None)
        if oid is not None:
            self._by_id.pop(oid, None)

    # -- market events ---------------------------------------------------------------------------

    def on_market(self, event: MarketEvent) -> list[Report]:
        kind = type(event)
        if kind is BookDelta:
            self._has_depth = True
            return self._set_levels(event.bids, event.asks, event.ts_event)  # type: ignore[union-attr]
        if kind is BookSnapshot:
            self._has_depth = True
            snap: BookSnapshot = event  # type: ignore[assignment]
            bids = dict(snap.bids)
            asks = dict(snap.asks)
            gone_b = [(p, 0) for p in self._levels[0] if p not in bids]
            gone_a = [(p, 0) for p in self._levels[1] if p not in asks]
            return self._set_levels(gone_b + snap.bids, gone_a + snap.asks, snap.ts_event)
        if kind is Trade and self.replay_trades:
            return self._replay_trade(event)  # type: ignore[arg-type]
        if kind is Quote and not self._has_depth:
            q: Quote = event  # type: ignore[assignment]
            gone_b = [(p, 0) for p in self._levels[0] if p != q.bid_ticks]
            gone_a = [(p, 0) for p in self._levels[1] if p != q.ask_ticks]
            return self._set_levels(
                [*gone_b, (q.bid_ticks, q.bid_lots)], [*gone_a, (q.ask_ticks, q.ask_lots)], q.ts_event
            )
        return []

    def _set_levels(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]], ts: int) -> list[Report]:
        # One kernel call per update. Removals first, so a level moving across the spread never meets
        # its own stale opposite.
        rows: list[tuple[int, int, int]] = []
        for code, levels, present in ((SideCode.BUY, bids, self._levels[0]), (SideCode.SELL, asks, self._levels[1])):
            for price, lots in levels:
                if lots == 0:
                    present.discard(price)
                    rows.append((code, price, 0))
        for code, levels, present in ((SideCode.BUY, bids, self._levels[0]), (SideCode.SELL, asks, self._levels[1])):
            for price, lots in levels:
                if lots:
                    present.add(price)
                    rows.append((code, price, lots))
        if not rows:
            return []
        commands = np.zeros(len(rows), COMMAND_DTYPE)
        table = np.asarray(rows, np.int64)
        commands["kind"] = CommandKind.SET_LEVEL
        commands["ts"] = ts
        commands["side"] = table[:, 0]
        commands["price_ticks"] = table[:, 1]
        commands["lots"] = table[:, 2]
        events = self.engine.process_batch(commands)
        if not len(events):
            return []
        ours = events[events["owner"] == OUR_OWNER]
        if not len(ours):
            return []
        return self._translate(self.engine.decode(ours), ts)

    def _replay_trade(self, trade: Trade) -> list[Report]:
        if not self.orders:
            return []  # nothing of ours to hit; the depth updates carry the trade's effect on the book
        self._replay_seq += 1
        events = self.engine.submit(
            _REPLAY_ID_BASE + self._replay_seq,
            REPLAY_OWNER,
            trade.aggressor,
            trade.size_lots,
            trade.price_ticks,
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.IOC,
            ts=trade.ts_event,
        )
        return self._translate([e for e in events if isinstance(e, Filled)], trade.ts_event)
