"""Full-book matching: our orders go to the simulated venue's own core, fed the replay as paper trading feeds it.

A :class:`BookMatcher` holds a one-instrument :class:`~jtrader.gateways.sim.SimVenue`
(accounts, orders, fills and fees over the compiled
:class:`~jtrader.matching.MatchingEngine`) and turns each replayed event into
the venue step that paper trading makes of it
(:meth:`~jtrader.gateways.sim.ReplayFeed.step_for`, then
:func:`~jtrader.gateways.sim.apply_step`): the recorded book is kept with the
recording venue's sequencing rules (Binance: snapshot, then diffs in
sequence) and loaded into the engine as anonymous liquidity; our orders
consume it when they take and rest among it in price-time priority when they
do not; a replayed trade is an anonymous IOC order that fills whatever is
ahead of it, which may be us; a replayed level that crosses our resting order
fills it whole (we are the maker). The rules are written down once, in
:mod:`jtrader.gateways.sim.replay`.

The strategy sees the venue's public market data, not the recording: the
venue's book (replayed liquidity *and our own orders*) as ``BookDelta`` of
the top ``book_depth`` levels, a ``Quote`` when the top changes, a ``Trade``
per replayed trade and per trade of ours. The engine takes it from
:attr:`BookMatcher.public` after each call. Venue events become the reports
the OMS would send (ack, fills, cancelled, expired, amended, rejects).

Books made of quotes only (no depth in the data): each quote sets the top
level of each side, and trades are replayed against it.

Deterministic: the venue is, with an injected clock (the backtest's
simulated time). This module and paper trading share every line that
decides a fill, which is what the backtest-paper parity test
(``tests/live/test_backtest_paper_parity.py``) checks end to end.
"""

from __future__ import annotations

from collections.abc import Callable

from jtrader.backtest.matching.base import BaseMatcher, Report, SimOrder
from jtrader.bus.messages import (
    ExecutionReport,
    MarketData,
    RequestKind,
    VenueAck,
    VenueAmend,
    VenueAmended,
    VenueCancel,
    VenueCancelled,
    VenueExpired,
    VenueFill,
    VenueReject,
    VenueSubmit,
)
from jtrader.domain import BookDelta, BookSnapshot, Fill, Instrument, MarketEvent, OrderStatus, Quote, Trade
from jtrader.gateways.sim.replay import ReplayFeed, apply_step
from jtrader.gateways.sim.venue import SimVenue, VenueOutput

__all__ = ["ACCOUNT", "BookMatcher"]

ACCOUNT = "backtest"
"""The venue account our orders trade in."""


class BookMatcher(BaseMatcher):
    """Match our orders on a :class:`SimVenue` fed the replay; see the module docstring.

    ``clock`` returns the simulated time (the backtest engine's); without it
    the venue's time is the time of the last request or event seen.
    ``book_depth`` and ``check_minimums`` are the venue's (see
    :class:`~jtrader.gateways.sim.SimVenueConfig`): parity with paper trading
    needs the same values there.
    """

    name = "book"
    publishes = True

    def __init__(
        self,
        instrument: Instrument,
        trade_id_prefix: str = "bt",
        replay_trades: bool = True,
        *,
        clock: Callable[[], int] | None = None,
        book_depth: int = 20,
        check_minimums: bool = True,
    ) -> None:
        super().__init__(instrument, trade_id_prefix)
        self._clock = clock
        self._ts = 0
        self.replay_trades = replay_trades
        self.venue = SimVenue([instrument], self.now, book_depth=book_depth, check_minimums=check_minimums)
        self.feed = ReplayFeed(lambda: (), instrument, instrument, trades=replay_trades)
        self.public: list[MarketData] = []
        self._known: dict[str, SimOrder] = {}  # every order the venue may report on
        self._venue_ids: dict[str, str] = {}
        self._has_depth = False
        self._quote_top: tuple[int | None, int | None] = (None, None)

    def now(self) -> int:
        """The venue's time: the engine's simulated time when a clock was given."""
        return self._clock() if self._clock is not None else self._ts

    def take_public(self) -> list[MarketData]:
        """The venue's public data since the last call, in order (the strategy's market data)."""
        public, self.public = self.public, []
        return public

    # -- our orders ----------------------------------------------------------------------------

    def submit(self, order: SimOrder, ts: int) -> list[Report]:
        self._ts = max(self._ts, ts)
        order.status = OrderStatus.NEW  # until the venue acks it
        self._known[order.client_order_id] = order
        command = VenueSubmit(
            ts=ts,
            client_order_id=order.client_order_id,
            instrument_id=self.instrument.id,
            side=order.side,
            order_type=order.order_type,
            quantity_lots=order.quantity_lots,
            price_ticks=order.price_ticks,
            trigger_ticks=order.trigger_ticks,
            time_in_force=order.time_in_force,
            account_id=ACCOUNT,
        )
        return self._take(self.venue.handle(command, ACCOUNT), ts)

    def cancel(self, client_order_id: str, strategy_id: str, ts: int) -> list[Report]:
        self._ts = max(self._ts, ts)
        command = VenueCancel(ts=ts, client_order_id=client_order_id, instrument_id=self.instrument.id)
        return self._take(self.venue.handle(command, ACCOUNT), ts, strategy_id)

    def amend(
        self, client_order_id: str, strategy_id: str, quantity_lots: int | None, price_ticks: int | None, ts: int
    ) -> list[Report]:
        """Cancel/replace on the venue: unset fields keep the order's current values (as the OMS sends them)."""
        self._ts = max(self._ts, ts)
        order = self._known.get(client_order_id)
        quantity = quantity_lots if quantity_lots is not None or order is None else order.quantity_lots
        price = price_ticks if price_ticks is not None or order is None else order.price_ticks
        command = VenueAmend(
            ts=ts,
            client_order_id=client_order_id,
            instrument_id=self.instrument.id,
            quantity_lots=quantity or 0,
            price_ticks=price,
        )
        return self._take(self.venue.handle(command, ACCOUNT), ts, strategy_id)

    # -- market events -------------------------------------------------------------------------

    def on_market(self, event: MarketEvent) -> list[Report]:
        kind = type(event)
        self._ts = max(self._ts, event.ts_event)
        if kind is Quote:
            return [] if self._has_depth else self._quote(event)  # type: ignore[arg-type]
        if kind is BookDelta or kind is BookSnapshot:
            self._has_depth = True
        elif kind is Trade and not self._has_depth and self._quote_top != (None, None):
            trade: Trade = event  # type: ignore[assignment]
            self.feed.counters["trades"] += 1
            out = self.venue.replay_trade(
                trade.instrument_id, trade.price_ticks, trade.size_lots, trade.aggressor, trade.trade_id,
                match=self.replay_trades,
            )  # fmt: skip
            return self._take(out, self.now())
        step = self.feed.step_for(event)
        if step is None:
            return []
        return self._take(apply_step(self.venue, step), self.now())

    def _quote(self, quote: Quote) -> list[Report]:
        old_bid, old_ask = self._quote_top
        bids = [(old_bid, 0)] if old_bid is not None and old_bid != quote.bid_ticks else []
        asks = [(old_ask, 0)] if old_ask is not None and old_ask != quote.ask_ticks else []
        self._quote_top = (quote.bid_ticks, quote.ask_ticks)
        out = self.venue.set_levels(quote.instrument_id, [*bids, (quote.bid_ticks, quote.bid_lots)], [])
        out.extend(self.venue.set_levels(quote.instrument_id, [], [*asks, (quote.ask_ticks, quote.ask_lots)]))
        return self._take(out, self.now())

    # -- venue events -> reports ------------------------------------------------------------------

    def _take(self, out: VenueOutput, ts: int, strategy_id: str = "") -> list[Report]:
        self.public.extend(out.public)
        reports: list[Report] = []
        for _, event in out.private:
            report = self._report_of(event, ts, strategy_id)
            if report is not None:
                reports.append(report)
        return reports

    def _report_of(self, event: object, ts: int, strategy_id: str) -> Report | None:
        kind = type(event)
        if kind is VenueFill:
            fill: Fill = event.fill  # type: ignore[attr-defined]
            order = self._known.get(fill.client_order_id)
            if order is None:
                return None
            order.filled_lots += fill.size_lots
            if order.filled_lots >= order.quantity_lots:
                order.quantity_lots = order.filled_lots
                order.status = OrderStatus.FILLED
                self._close(order)
            else:
                order.status = OrderStatus.PARTIALLY_FILLED
            return self._order_report(order, ts, fill)
        cid: str = event.client_order_id  # type: ignore[attr-defined]
        order = self._known.get(cid)
        if kind is VenueReject:
            reject: VenueReject = event  # type: ignore[assignment]
            if reject.request is RequestKind.SUBMIT and order is not None and order.status.is_open:
                order.status = OrderStatus.REJECTED if order.filled_lots == 0 else OrderStatus.CANCELLED
                self._close(order)
            return self._reject(
                cid,
                order.strategy_id if order is not None else strategy_id,
                reject.reason,
                reject.message or f"venue refused the {reject.request.value}",
                ts,
                reject.request,
            )
        if order is None:
            return None
        if kind is VenueAck:
            self._venue_ids[cid] = event.venue_order_id  # type: ignore[attr-defined]
            if order.status is not OrderStatus.NEW:
                return None  # an ack after a fill only names the order (as the OMS does)
            order.status = OrderStatus.ACKED
            self.orders[cid] = order
            return self._order_report(order, ts)
        if not order.status.is_open:
            return None
        if kind is VenueCancelled:
            order.status = OrderStatus.CANCELLED
            self._close(order)
            return self._order_report(order, ts, reason=event.reason)  # type: ignore[attr-defined]
        if kind is VenueExpired:
            order.status = OrderStatus.EXPIRED
            self._close(order)
            return self._order_report(order, ts, reason="expired")
        if kind is VenueAmended:
            amended: VenueAmended = event  # type: ignore[assignment]
            order.quantity_lots = max(amended.quantity_lots, order.filled_lots)
            if amended.price_ticks is not None:
                order.price_ticks = amended.price_ticks
            if order.filled_lots == order.quantity_lots:
                order.status = OrderStatus.FILLED
                self._close(order)
            return self._order_report(order, ts, reason="amended")
        return None

    def _close(self, order: SimOrder) -> None:
        self.orders.pop(order.client_order_id, None)
        self._known.pop(order.client_order_id, None)

    def _order_report(self, order: SimOrder, ts: int, fill: Fill | None = None, reason: str = "") -> ExecutionReport:
        return ExecutionReport(
            client_order_id=order.client_order_id,
            instrument_id=self.instrument.id,
            status=order.status,
            filled_lots=order.filled_lots,
            leaves_lots=order.leaves_lots if order.status.is_open else 0,
            strategy_id=order.strategy_id,
            venue_order_id=self._venue_ids.get(order.client_order_id),
            last_fill=fill,
            reason=reason,
            ts=ts,
        )
