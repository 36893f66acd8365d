"""A simple two-sided quoting strategy (market making), deterministic for parity tests.

It keeps at most one bid and one ask per instrument, ``offset_ticks`` behind
the touch, sized ``quote_lots``; inventory skews the quotes away from growing
the position, and a side is withdrawn at ``max_position_lots``. Quotes move
when the touch moves, at most once per ``min_requote_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jtrader.bus.messages import ExecutionReport, OrderRejected
from jtrader.domain import InstrumentId, OrderType, Quote, Side, TimeInForce
from jtrader.marketdata.book import OrderBook
from jtrader.strategies.base import Strategy, StrategyContext

__all__ = ["QuotingStrategy", "QuotingParams"]


@dataclass(frozen=True)
class QuotingParams:
    quote_lots: int = 1
    offset_ticks: int = 0
    max_position_lots: int = 10
    skew_ticks_per_lot: float = 0.0
    min_requote_ns: int = 100_000_000
    post_only: bool = True


class QuotingStrategy(Strategy):
    """Quote both sides of each instrument; see the module docstring for the rules."""

    def __init__(self, strategy_id: str, instruments: list[InstrumentId], params: QuotingParams | None = None):
        super().__init__(strategy_id, instruments)
        self.config = params or QuotingParams()
        self._last_requote: dict[InstrumentId, int] = {}
        self._working: dict[tuple[InstrumentId, Side], tuple[str, int]] = {}  # -> (client id, price)
        # The touch each instrument was last requoted at; cleared by any order report. While the touch and
        # our orders are unchanged a requote is a no-op, so it is skipped (most ticks repeat the touch).
        self._quoted_touch: dict[InstrumentId, tuple[int, int]] = {}

    def on_order_update(self, ctx: StrategyContext, report: ExecutionReport) -> None:
        self._quoted_touch.clear()

    def on_reject(self, ctx: StrategyContext, reject: OrderRejected) -> None:
        self._quoted_touch.clear()

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> None:
        self._requote(ctx, quote.instrument_id, quote.bid_ticks, quote.ask_ticks)

    def on_book(self, ctx: StrategyContext, instrument_id: InstrumentId, book: OrderBook) -> None:
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            self._requote(ctx, instrument_id, bid[0], ask[0])

    def _requote(self, ctx: StrategyContext, instrument_id: InstrumentId, best_bid: int, best_ask: int) -> None:
        if instrument_id not in self.instruments or best_bid >= best_ask:
            return
        now = ctx.now()
        if now - self._last_requote.get(instrument_id, -(1 << 62)) < self.config.min_requote_ns:
            return
        self._last_requote[instrument_id] = now
        touch = (best_bid, best_ask)
        if self._quoted_touch.get(instrument_id) == touch:
            return
        self._quoted_touch[instrument_id] = touch
        cfg = self.config
        position = ctx.position(instrument_id)
        skew = round(position * cfg.skew_ticks_per_lot)
        targets = {
            Side.BUY: best_bid - cfg.offset_ticks - skew if position < cfg.max_position_lots else None,
            Side.SELL: best_ask + cfg.offset_ticks - skew if position > -cfg.max_position_lots else None,
        }
        live = {o.client_order_id for o in ctx.open_orders(instrument_id)}
        for side, price in targets.items():
            working = self._working.get((instrument_id, side))
            if working is not None and working[0] not in live:
                working = None  # filled, cancelled or rejected
                del self._working[(instrument_id, side)]
            if working is not None and working[1] == price:
                continue
            if working is not None:
                ctx.cancel(working[0])
                del self._working[(instrument_id, side)]
            if price is None or price <= 0:
                continue
            client_order_id = ctx.submit(
                instrument_id,
                side,
                cfg.quote_lots,
                price,
                OrderType.LIMIT,
                TimeInForce.POST_ONLY if cfg.post_only else TimeInForce.GTC,
            )
            self._working[(instrument_id, side)] = (client_order_id, price)

    def on_stop(self, ctx: StrategyContext) -> None:
        ctx.cancel_all()
