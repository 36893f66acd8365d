"""Pre-trade risk: O(1) checks against incremental aggregates, and the kill switch.

The :class:`RiskEngine` is a plain object with no clock, socket or file of its
own: the OMS passes the time in, tells it about every change of open orders,
fills and marks, and journals the kill-switch state it reports. It never
rescans orders: per scope (each strategy, and the portfolio) and instrument it
keeps net position and open buy/sell lots; per scope the gross exposure; per
instrument our own best resting bid/ask (self-trade prevention) and the
reference price.

Checks, in order (the first failing one is the reason): kill switch, max order
quantity, reference price and price band, max order notional, max position,
max gross exposure, self-trade, duplicate order, order rate. Cancels are
checked against the cancel rate only.

Policies (see :mod:`jtrader.risk.config` for the exposure currency):

- No reference price (no quote/trade yet, or older than
  ``reference_max_age_ns``): ``no_reference="reject"`` (default) refuses every
  order with ``NO_REFERENCE_PRICE``; ``"allow"`` accepts limit orders without a
  band check and values them at their own price, but still refuses market
  orders (nothing to value them at).
- Worst case: position and gross exposure count every open order on the side
  that would grow the position as if it filled, and an order with an amend in
  flight counts the larger of its old and new size.
- Reduce-only orders skip the position and exposure checks (they can only
  shrink a position at the venue).
- Self-trade: open GTC/post-only limit orders of the whole account rest in our
  own book; a buy at or above our best resting sell (any buy without a price)
  is refused, and conversely.
- Rate windows are sliding windows on the injected clock; they and the
  duplicate-order memory are not journaled, so they restart empty.
- Daily loss: realised + unrealised - fees (+ funding) of the whole account,
  in the common currency, since the start of the UTC day; a loss beyond
  ``daily_loss_limit`` trips the kill switch (the OMS does it, so it is journaled).

Exceptions::

    RiskError(Exception)
     +-- RiskConfigError(RiskError, ValueError)   bad limits, or limits naming an unknown instrument
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from fractions import Fraction
from math import lcm
from typing import Any

import msgspec

from jtrader.bus.messages import RejectReason
from jtrader.domain import (
    Bar,
    BookSnapshot,
    InstrumentId,
    InstrumentRegistry,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from jtrader.domain.instruments import Instrument
from jtrader.risk.config import LimitSet, RiskConfigError, RiskError, RiskLimits

__all__ = ["RiskEngine", "RiskCheckpoint", "Rejection", "RiskError", "RiskConfigError", "RESTING_TIFS"]

Rejection = tuple[RejectReason, str]

_ZERO = Decimal(0)
_BUY = Side.BUY
_MARKET = OrderType.MARKET
_STOP_MARKET = OrderType.STOP_MARKET
# Orders that can rest on the book (and so be crossed by our own orders).
RESTING_TIFS = frozenset({TimeInForce.GTC, TimeInForce.POST_ONLY})


class RiskCheckpoint(msgspec.Struct, frozen=True, array_like=True):
    """The risk state a journal replay would rebuild, for an OMS checkpoint.

    Open-order aggregates and our own book are not in it: the OMS rebuilds them
    from its open orders. Rate windows and the duplicate-order memory are not
    journaled either, so they restart empty. ``valuations`` are twice the price
    (ticks) each instrument was last valued at: exposure stays valued until
    market data arrives.
    """

    killed: bool
    kill_reason: str
    day: int
    day_baseline: Decimal
    portfolio_nets: list[tuple[InstrumentId, int]]
    strategy_nets: list[tuple[str, InstrumentId, int]]
    valuations: list[tuple[InstrumentId, int]]


class _Window:
    """A sliding-window event counter: at most ``limit`` events in any ``span`` ns."""

    __slots__ = ("limit", "span", "times")

    def __init__(self, limit: int, span: int) -> None:
        self.limit = limit
        self.span = span
        self.times: deque[int] = deque()

    def allows(self, now: int) -> bool:
        times = self.times
        cutoff = now - self.span
        while times and times[0] <= cutoff:
            times.popleft()
        return len(times) < self.limit


class _Instr:
    """Per-instrument risk state: valuation, reference price, our own resting book."""

    __slots__ = (
        "aggs",
        "asks",
        "best_ask",
        "best_bid",
        "bids",
        "instrument",
        "k",
        "linear",
        "ref2",
        "ref_ts",
        "tick",
        "unit2",
        "val2",
    )

    def __init__(self, instrument: Instrument, k: int | None) -> None:
        self.instrument = instrument
        self.linear = not instrument.is_inverse
        # Value of one lot at one tick (linear) or face value of one lot (inverse), in scaled common units.
        self.k = k
        self.ref2 = 0  # twice the reference price in ticks (a mid can fall between ticks); 0: none
        self.ref_ts = 0
        self.val2 = 0  # twice the valuation price in ticks: the reference, else the last order/fill price
        # Twice the value of one lot in scaled common units (0 while unknown); kept in step with val2.
        self.unit2 = 2 * k if k is not None and instrument.is_inverse else 0
        self.bids: dict[int, int] = {}  # our resting buys: price ticks -> order count
        self.asks: dict[int, int] = {}
        self.best_bid = 0  # 0: none
        self.best_ask = 0
        self.aggs: list[_Agg] = []
        self.tick = instrument.price_increment.as_decimal()


class _Agg:
    """One scope's position and open orders in one instrument, its gross-exposure contribution and its caps."""

    __slots__ = (
        "contrib",
        "dup_times",
        "dups",
        "instr",
        "net",
        "open_buy",
        "open_sell",
        "order_cap",
        "position_cap",
        "scope",
    )

    def __init__(self, scope: _Scope, instr: _Instr) -> None:
        self.scope = scope
        self.instr = instr
        self.net = 0
        self.open_buy = 0
        self.open_sell = 0
        self.contrib = 0  # worst-case |position| * unit2
        # The scope's limits for this instrument, resolved once (lots; None: no limit).
        iid = instr.instrument.id
        self.order_cap = scope.order_lots.get(iid)
        self.position_cap = scope.position_lots.get(iid)
        # Duplicate-order memory of a strategy in this instrument: (price, lots, buy) -> when last accepted.
        self.dups: dict[tuple[int | None, int, bool], int] = {}
        self.dup_times: deque[tuple[int, tuple[int | None, int, bool]]] = deque()

    def recompute(self) -> None:
        net = self.net
        longest = net + self.open_buy
        shortest = self.open_sell - net
        if longest < 0:
            longest = -longest
        if shortest < 0:
            shortest = -shortest
        new = (longest if longest > shortest else shortest) * self.instr.unit2
        scope = self.scope
        scope.gross2 += new - self.contrib
        self.contrib = new


class _Scope:
    """A strategy or the portfolio: resolved limits, aggregates and rate windows."""

    __slots__ = (
        "aggs",
        "cancels",
        "gross2",
        "gross2_limit",
        "name",
        "notional2",
        "order_lots",
        "orders",
        "position_lots",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.order_lots: dict[InstrumentId, int] = {}
        self.position_lots: dict[InstrumentId, int] = {}
        self.notional2: int | None = None
        self.gross2_limit: int | None = None
        self.gross2 = 0
        self.aggs: dict[InstrumentId, _Agg] = {}
        self.orders: _Window | None = None
        self.cancels: _Window | None = None


class RiskEngine:
    """Pre-trade checks and the kill-switch latch for one account.

    All methods are deterministic given their arguments and the calls before
    them; ``now`` is always passed in (ns, from the OMS's injected clock).

    Example::

        >>> from jtrader.domain import Instrument, InstrumentKind, Price, Quantity, Venue
        >>> btc = Instrument(InstrumentId("BTCUSDT", Venue.SIM), InstrumentKind.LINEAR_PERPETUAL, "BTC", "USDT",
        ...                  "USDT", Price("0.1"), Quantity("0.001"))
        >>> risk = RiskEngine(RiskLimits(no_reference="allow"), InstrumentRegistry([btc]))
        >>> risk.check_order("s1", btc.id, Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 5, 600000, None, False, 0)
        >>> risk.killed
        False
    """

    def __init__(self, limits: RiskLimits, instruments: InstrumentRegistry) -> None:
        self.limits = limits
        self._registry = instruments
        self._band = limits.price_band_bps
        self._max_age = limits.reference_max_age_ns
        self._allow_no_ref = limits.no_reference == "allow"
        self._stp = limits.self_trade_prevention
        self._dup_window = limits.duplicate_window_ns
        self._rates = {c.upper(): Fraction(r) for c, r in limits.currency_rates.items()}
        self._scale = self._choose_scale(instruments)
        self._instrs: dict[InstrumentId, _Instr] = {}
        # (strategy, instrument) -> the strategy's and the portfolio's aggregates: one lookup per order.
        self._pairs: dict[tuple[str, InstrumentId], tuple[_Agg, _Agg]] = {}
        for instrument in instruments:
            self._instrs[instrument.id] = self._make_instr(instrument)
        self._check_limit_keys()
        self.portfolio = self._make_scope("*portfolio*", limits.portfolio)
        self._scopes: dict[str, _Scope] = {}
        self.killed = False
        self.kill_reason = ""
        # Daily PnL, in the common currency.
        self._pnl: dict[Any, Decimal] = {}
        self.total_pnl = _ZERO
        self.day = -1
        self.day_baseline = _ZERO
        self._loss_limit = limits.daily_loss_limit

    # -- set-up ---------------------------------------------------------------

    def _rate(self, currency: str) -> Fraction | None:
        return self._rates.get(currency.upper())

    def _k_fraction(self, instrument: Instrument) -> Fraction | None:
        rate = self._rate(instrument.quote)
        if rate is None:
            return None
        face = Fraction(instrument.size_increment.as_decimal()) * Fraction(instrument.contract_size) * rate
        if instrument.is_inverse:
            return face
        return face * Fraction(instrument.price_increment.as_decimal())

    def _choose_scale(self, instruments: InstrumentRegistry) -> int:
        """The smallest integer scale making every lot value and money limit an exact integer."""
        scale = 1
        values: list[Fraction] = []
        for instrument in instruments:
            k = self._k_fraction(instrument)
            if k is not None:
                values.append(k)
        sets = [self.limits.portfolio, self.limits.default_strategy, *self.limits.strategies.values()]
        for limit_set in sets:
            for money in (limit_set.max_order_notional, limit_set.max_gross_exposure):
                if money is not None:
                    values.append(Fraction(money))
        for fraction in values:
            scale = lcm(scale, fraction.denominator)
        return scale

    def _make_instr(self, instrument: Instrument) -> _Instr:
        k = self._k_fraction(instrument)
        if k is None:
            return _Instr(instrument, None)
        scaled = k * self._scale
        # Instruments added after start-up may not divide the scale: round up (overstate exposure, never understate).
        return _Instr(instrument, -((-scaled.numerator) // scaled.denominator))

    def _instr(self, instrument_id: InstrumentId) -> _Instr | None:
        instr = self._instrs.get(instrument_id)
        if instr is None and instrument_id in self._registry:
            instr = self._instrs[instrument_id] = self._make_instr(self._registry.get(instrument_id))
        return instr

    def _check_limit_keys(self) -> None:
        sets = {"portfolio": self.limits.portfolio, "default_strategy": self.limits.default_strategy}
        sets.update({f"strategies[{k!r}]": v for k, v in self.limits.strategies.items()})
        for name, limit_set in sets.items():
            for field in ("max_order_quantity", "max_position"):
                for key in getattr(limit_set, field):
                    try:
                        instrument_id = InstrumentId.parse(key)
                    except ValueError as exc:
                        raise RiskConfigError(f"{name}.{field}: {exc}") from None
                    if instrument_id not in self._registry:
                        raise RiskConfigError(
                            f"{name}.{field}: unknown instrument {key!r}; expected one of "
                            f"{', '.join(sorted(str(i.id) for i in self._registry)) or 'none'}"
                        )

    def _lots(self, instrument_id: InstrumentId, quantity: Decimal) -> int:
        instrument = self._registry.get(instrument_id)
        step = instrument.size_increment.as_decimal()
        return int(quantity // step)  # whole lots at or below the limit

    def _money2(self, value: Decimal | None) -> int | None:
        if value is None:
            return None
        scaled = Fraction(value) * self._scale * 2
        return scaled.numerator // scaled.denominator

    def _make_scope(self, name: str, limit_set: LimitSet) -> _Scope:
        scope = _Scope(name)
        for key, qty in limit_set.max_order_quantity.items():
            iid = InstrumentId.parse(key)
            scope.order_lots[iid] = self._lots(iid, qty)
        for key, qty in limit_set.max_position.items():
            iid = InstrumentId.parse(key)
            scope.position_lots[iid] = self._lots(iid, qty)
        scope.notional2 = self._money2(limit_set.max_order_notional)
        scope.gross2_limit = self._money2(limit_set.max_gross_exposure)
        span = self.limits.rate_window_ns
        if limit_set.max_orders_per_window is not None:
            scope.orders = _Window(limit_set.max_orders_per_window, span)
        if limit_set.max_cancels_per_window is not None:
            scope.cancels = _Window(limit_set.max_cancels_per_window, span)
        return scope

    def _scope(self, strategy_id: str) -> _Scope:
        scope = self._scopes.get(strategy_id)
        if scope is None:
            scope = self._scopes[strategy_id] = self._make_scope(strategy_id, self.limits.for_strategy(strategy_id))
        return scope

    def _agg(self, scope: _Scope, instr: _Instr) -> _Agg:
        iid = instr.instrument.id
        agg = scope.aggs.get(iid)
        if agg is None:
            agg = scope.aggs[iid] = _Agg(scope, instr)
            instr.aggs.append(agg)
        return agg

    def _pair(self, strategy_id: str, instrument_id: InstrumentId) -> tuple[_Agg, _Agg] | None:
        """The strategy's and the portfolio's aggregates in an instrument (None: unknown instrument)."""
        pair = self._pairs.get((strategy_id, instrument_id))
        if pair is None:
            instr = self._instr(instrument_id)
            if instr is None:
                return None
            pair = (self._agg(self._scope(strategy_id), instr), self._agg(self.portfolio, instr))
            self._pairs[(strategy_id, instrument_id)] = pair
        return pair

    # -- pre-trade checks -----------------------------------------------------

    def check_order(
        self,
        strategy_id: str,
        instrument_id: InstrumentId,
        side: Side,
        order_type: OrderType,
        time_in_force: TimeInForce,
        lots: int,
        price_ticks: int | None,
        trigger_ticks: int | None,
        reduce_only: bool,
        now: int,
    ) -> Rejection | None:
        """Check a new order; return ``(reason, message)`` or None.

        On None the order is counted against the rate windows and the
        duplicate-order memory (call only for orders about to be accepted).
        """
        if self.killed:
            return RejectReason.KILL_SWITCH, f"kill switch is on ({self.kill_reason}): an operator must reset it"
        pair = self._pairs.get((strategy_id, instrument_id)) or self._pair(strategy_id, instrument_id)
        if pair is None:
            return RejectReason.UNKNOWN_INSTRUMENT, f"unknown instrument {instrument_id}"
        rejection = self._check(
            pair[0], pair[1], side, order_type, lots, lots, price_ticks, trigger_ticks, reduce_only, now, True
        )
        if rejection is not None:
            return rejection
        strat_agg = pair[0]
        dup_window = self._dup_window
        if dup_window is not None:
            key = (price_ticks, lots, side is _BUY)
            seen = strat_agg.dups.get(key)
            if seen is not None and now - seen < dup_window:
                return RejectReason.DUPLICATE_ORDER, (
                    f"same {side} {lots} lots @ {price_ticks} on {instrument_id} from strategy {strategy_id!r} "
                    f"{(now - seen) / 1e6:.3f} ms ago (window {dup_window / 1e6:.3f} ms); "
                    "change the price or size, or wait"
                )
        strat, port = strat_agg.scope, self.portfolio
        strat_orders, port_orders = strat.orders, port.orders
        if strat_orders is not None and not strat_orders.allows(now):
            return self._rate_limited(strat, strat_orders)
        if port_orders is not None and not port_orders.allows(now):
            return self._rate_limited(port, port_orders)
        # Accepted: commit the windows.
        if strat_orders is not None:
            strat_orders.times.append(now)
        if port_orders is not None:
            port_orders.times.append(now)
        if dup_window is not None:
            dups, times = strat_agg.dups, strat_agg.dup_times
            dups[key] = now
            times.append((now, key))
            cutoff = now - dup_window
            while times and times[0][0] <= cutoff:
                ts, old = times.popleft()
                if dups.get(old) == ts:
                    del dups[old]
        return None

    def check_amend(
        self,
        strategy_id: str,
        instrument_id: InstrumentId,
        side: Side,
        order_type: OrderType,
        new_quantity_lots: int,
        extra_lots: int,
        new_price_ticks: int | None,
        price_changed: bool,
        now: int,
        reduce_only: bool = False,
    ) -> Rejection | None:
        """Check an amend to ``new_quantity_lots`` at ``new_price_ticks``; ``extra_lots`` is the added worst case.

        An amend that only shrinks the order passes even with the kill switch on.
        On None the amend is counted against the order-rate windows.
        """
        grows = extra_lots > 0 or price_changed
        if not grows:
            return None
        if self.killed:
            return RejectReason.KILL_SWITCH, f"kill switch is on ({self.kill_reason}): only shrinking amends pass"
        pair = self._pair(strategy_id, instrument_id)
        if pair is None:
            return RejectReason.UNKNOWN_INSTRUMENT, f"unknown instrument {instrument_id}"
        strat = pair[0].scope
        rejection = self._check(
            pair[0],
            pair[1],
            side,
            order_type,
            new_quantity_lots,
            max(extra_lots, 0),
            new_price_ticks,
            None,
            reduce_only,
            now,
            price_changed,
        )
        if rejection is not None:
            return rejection
        for scope in (strat, self.portfolio):
            window = scope.orders
            if window is not None and not window.allows(now):
                return RejectReason.ORDER_RATE, f"{self._name(scope)} sent {window.limit} orders and amends: slow down"
        for scope in (strat, self.portfolio):
            if scope.orders is not None:
                scope.orders.times.append(now)
        return None

    def check_cancel(self, strategy_id: str, now: int) -> Rejection | None:
        """Check a client cancel (or mass cancel) against the cancel rate; on None it is counted."""
        strat = self._scope(strategy_id)
        for scope in (strat, self.portfolio):
            window = scope.cancels
            if window is not None and not window.allows(now):
                return RejectReason.CANCEL_RATE, (
                    f"{self._name(scope)} sent {window.limit} cancels in the last {window.span / 1e9:g} s "
                    "(the limit): slow down"
                )
        for scope in (strat, self.portfolio):
            if scope.cancels is not None:
                scope.cancels.times.append(now)
        return None

    def _rate_limited(self, scope: _Scope, window: _Window) -> Rejection:
        return RejectReason.ORDER_RATE, (
            f"{self._name(scope)} sent {window.limit} orders in the last {window.span / 1e9:g} s (the limit): slow down"
        )

    def _name(self, scope: _Scope) -> str:
        return "the portfolio" if scope is self.portfolio else f"strategy {scope.name!r}"

    def _check(
        self,
        strat_agg: _Agg,
        port_agg: _Agg,
        side: Side,
        order_type: OrderType,
        lots: int,
        extra: int,
        price: int | None,
        trigger: int | None,
        reduce_only: bool,
        now: int,
        price_checks: bool,
    ) -> Rejection | None:
        instr = strat_agg.instr
        strat, port = strat_agg.scope, port_agg.scope
        iid = instr.instrument.id
        # 1. single-order size
        cap = strat_agg.order_cap
        if cap is not None and lots > cap:
            return self._too_large(strat, iid, lots, cap)
        cap = port_agg.order_cap
        if cap is not None and lots > cap:
            return self._too_large(port, iid, lots, cap)
        # 2. reference price and band
        ref2 = instr.ref2
        if ref2 and self._max_age is not None and now - instr.ref_ts > self._max_age:
            ref2 = 0
        limit_price = price if price is not None else trigger
        if not ref2:
            if not self._allow_no_ref or limit_price is None:
                if self._max_age is None:
                    why = "no quote or trade yet"
                else:
                    why = f"no quote or trade in the last {self._max_age / 1e9:g} s"
                return RejectReason.NO_REFERENCE_PRICE, f"no reference price for {iid} ({why}): wait for market data"
            if not instr.val2:
                self._set_val2(instr, 2 * limit_price)
        elif (
            price_checks
            and self._band is not None
            and limit_price is not None
            and abs(2 * limit_price - ref2) * 10_000 > self._band * ref2
        ):
            return RejectReason.PRICE_BAND, (
                f"price {limit_price} ticks is more than {self._band} bps from the reference "
                f"{ref2 / 2:g} ticks on {iid}: check the price"
            )
        # 3. notional of the order
        k = instr.k
        if strat.notional2 is not None or port.notional2 is not None:
            if k is None:
                return self._no_rate(instr)
            if instr.linear:
                notional2 = lots * (2 * limit_price if limit_price is not None else ref2) * k
            else:
                notional2 = 2 * lots * k
            for scope in (strat, port):
                cap = scope.notional2
                if cap is not None and notional2 > cap:
                    return RejectReason.MAX_ORDER_NOTIONAL, (
                        f"order notional {self._money(notional2)} exceeds {self._name(scope)}'s max order notional "
                        f"{self._money(cap)} {self.limits.common_currency}"
                    )
        # 4./5. worst-case position and gross exposure
        if not reduce_only and extra:
            buy = side is _BUY
            for agg in (strat_agg, port_agg):
                scope = agg.scope
                net, open_buy, open_sell, contrib = agg.net, agg.open_buy, agg.open_sell, agg.contrib
                if buy:
                    long_side, short_side = net + open_buy + extra, net - open_sell
                else:
                    long_side, short_side = net + open_buy, net - open_sell - extra
                cap = agg.position_cap
                if cap is not None and (long_side > cap if buy else -short_side > cap):
                    worst = long_side if buy else short_side
                    return RejectReason.MAX_POSITION, (
                        f"worst-case position {worst} lots of {iid} (position {net}, open buys {open_buy}, "
                        f"open sells {open_sell}, this order {extra}) exceeds {self._name(scope)}'s limit of {cap} lots"
                    )
                cap = scope.gross2_limit
                if cap is not None:
                    if k is None:
                        return self._no_rate(instr)
                    longest = long_side if long_side >= 0 else -long_side
                    shortest = short_side if short_side >= 0 else -short_side
                    new = (longest if longest > shortest else shortest) * instr.unit2
                    total = scope.gross2 - contrib + new
                    if total > cap:
                        return RejectReason.MAX_GROSS_EXPOSURE, (
                            f"worst-case gross exposure {self._money(total)} would exceed {self._name(scope)}'s "
                            f"limit of {self._money(cap)} {self.limits.common_currency}"
                        )
        # 6. self-trade
        if self._stp and price_checks:
            if side is _BUY:
                best = instr.best_ask
                if best and (price is None or order_type is _STOP_MARKET or best <= price):
                    return RejectReason.SELF_TRADE, (
                        f"a buy at {price} ticks would trade with our own resting sell at {best} ticks on {iid}"
                    )
            else:
                best = instr.best_bid
                if best and (price is None or order_type is _STOP_MARKET or best >= price):
                    return RejectReason.SELF_TRADE, (
                        f"a sell at {price} ticks would trade with our own resting buy at {best} ticks on {iid}"
                    )
        return None

    def _too_large(self, scope: _Scope, iid: InstrumentId, lots: int, cap: int) -> Rejection:
        return RejectReason.MAX_ORDER_QUANTITY, (
            f"{lots} lots of {iid} exceeds {self._name(scope)}'s max order quantity of {cap} lots"
        )

    def _no_rate(self, instr: _Instr) -> Rejection:
        return RejectReason.NO_REFERENCE_PRICE, (
            f"no conversion rate from {instr.instrument.quote} to {self.limits.common_currency} for "
            f"{instr.instrument.id}: add it to RiskLimits.currency_rates"
        )

    def _money(self, value2: int) -> str:
        return f"{Decimal(value2) / (2 * self._scale):.2f}"

    # -- state the OMS reports ----------------------------------------------------

    def open_delta(self, strategy_id: str, instrument_id: InstrumentId, side: Side, delta_lots: int) -> None:
        """Add ``delta_lots`` (may be negative) to the open lots on ``side`` for the strategy and the portfolio."""
        pair = self._pairs.get((strategy_id, instrument_id)) or self._pair(strategy_id, instrument_id)
        if pair is None:
            return
        strat_agg, port_agg = pair
        if side is _BUY:
            strat_agg.open_buy += delta_lots
            port_agg.open_buy += delta_lots
        else:
            strat_agg.open_sell += delta_lots
            port_agg.open_sell += delta_lots
        strat_agg.recompute()
        port_agg.recompute()

    def fill(self, strategy_id: str, instrument_id: InstrumentId, side: Side, lots: int, price_ticks: int) -> None:
        """Move ``lots`` into the strategy's and the portfolio's net position."""
        pair = self._pairs.get((strategy_id, instrument_id)) or self._pair(strategy_id, instrument_id)
        if pair is None:
            return
        strat_agg, port_agg = pair
        instr = strat_agg.instr
        if not instr.val2:
            self._set_val2(instr, 2 * price_ticks)
        signed = lots if side is _BUY else -lots
        strat_agg.net += signed
        port_agg.net += signed
        strat_agg.recompute()
        port_agg.recompute()

    def book_add(self, instrument_id: InstrumentId, side: Side, price_ticks: int) -> None:
        """Record one of our orders resting at ``price_ticks`` (self-trade prevention)."""
        instr = self._instrs.get(instrument_id) or self._instr(instrument_id)
        if instr is None:
            return
        if side is _BUY:
            instr.bids[price_ticks] = instr.bids.get(price_ticks, 0) + 1
            if price_ticks > instr.best_bid:
                instr.best_bid = price_ticks
        else:
            instr.asks[price_ticks] = instr.asks.get(price_ticks, 0) + 1
            if not instr.best_ask or price_ticks < instr.best_ask:
                instr.best_ask = price_ticks

    def book_remove(self, instrument_id: InstrumentId, side: Side, price_ticks: int) -> None:
        """Forget one of our resting orders; the best price is rescanned only when its level empties."""
        instr = self._instrs[instrument_id]
        levels = instr.bids if side is _BUY else instr.asks
        left = levels[price_ticks] - 1
        if left:
            levels[price_ticks] = left
            return
        del levels[price_ticks]
        if side is _BUY:
            if price_ticks == instr.best_bid:
                instr.best_bid = max(levels) if levels else 0
        elif price_ticks == instr.best_ask:
            instr.best_ask = min(levels) if levels else 0

    def on_market_data(self, event: object) -> InstrumentId | None:
        """Update the reference price (mid of a quote or top of a snapshot, last trade, bar close).

        Return the instrument whose reference changed, or None.
        """
        kind = type(event)
        if kind is Quote:
            ref2 = event.bid_ticks + event.ask_ticks  # type: ignore[attr-defined]
        elif kind is Trade:
            ref2 = 2 * event.price_ticks  # type: ignore[attr-defined]
        elif kind is Bar:
            ref2 = 2 * event.close_ticks  # type: ignore[attr-defined]
        elif kind is BookSnapshot and event.bids and event.asks:  # type: ignore[attr-defined]
            ref2 = event.bids[0][0] + event.asks[0][0]  # type: ignore[attr-defined]
        else:
            return None
        instrument_id: InstrumentId = event.instrument_id  # type: ignore[attr-defined]
        instr = self._instrs.get(instrument_id) or self._instr(instrument_id)
        if instr is None:
            return None
        instr.ref_ts = event.ts_recv  # type: ignore[attr-defined]
        if ref2 == instr.ref2:
            return None
        instr.ref2 = ref2
        self._set_val2(instr, ref2)
        return instrument_id

    def _set_val2(self, instr: _Instr, val2: int) -> None:
        if val2 == instr.val2:
            return
        instr.val2 = val2
        if instr.linear:  # an inverse contract's face value does not move with the price
            instr.unit2 = val2 * (instr.k or 0)
            for agg in instr.aggs:
                agg.recompute()

    def mark_price(self, instrument_id: InstrumentId) -> Decimal | None:
        """The reference price as a Decimal (mid may fall between ticks), or the last traded price, or None."""
        instr = self._instrs.get(instrument_id)
        if instr is None or not instr.val2:
            return None
        return instr.tick * instr.val2 / 2

    def reference_ticks2(self, instrument_id: InstrumentId) -> int:
        """Twice the reference price in ticks; 0 when there is none."""
        instr = self._instrs.get(instrument_id)
        return instr.ref2 if instr is not None else 0

    # -- daily loss and the kill switch ------------------------------------------------

    def to_common(self, instrument: Instrument, amount: Decimal) -> Decimal | None:
        """Convert ``amount`` in the instrument's settlement currency to the common currency (None: no rate)."""
        if instrument.is_inverse:  # settled in coin: coin -> quote at the mark, then quote -> common
            mark = self.mark_price(instrument.id)
            rate = self._rate(instrument.quote)
            if mark is None or rate is None:
                return None
            return amount * mark * Decimal(rate.numerator) / Decimal(rate.denominator)
        rate = self._rate(instrument.settle)
        if rate is None:
            return None
        return amount * Decimal(rate.numerator) / Decimal(rate.denominator)

    def set_position_pnl(self, key: Any, instrument: Instrument, pnl: Decimal) -> None:
        """Record the PnL (realised + unrealised - fees, settlement currency) of one position."""
        value = self.to_common(instrument, pnl)
        if value is None:
            return
        old = self._pnl.get(key, _ZERO)
        self._pnl[key] = value
        self.total_pnl += value - old

    @property
    def day_pnl(self) -> Decimal:
        """PnL since the start of the day, in the common currency."""
        return self.total_pnl - self.day_baseline

    def loss_breached(self) -> bool:
        """True when the day's loss exceeds the daily loss limit (a loss equal to the limit is allowed)."""
        limit = self._loss_limit
        return limit is not None and -self.day_pnl > limit

    def start_day(self, day: int, baseline: Decimal) -> None:
        self.day = day
        self.day_baseline = baseline

    def trip(self, reason: str) -> None:
        """Latch the kill switch: every new order is refused until :meth:`reset`."""
        self.killed = True
        self.kill_reason = reason

    def reset(self) -> None:
        self.killed = False
        self.kill_reason = ""

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self) -> RiskCheckpoint:
        """The journaled risk state (kill switch, day, net positions per scope) and the valuations."""
        return RiskCheckpoint(
            killed=self.killed,
            kill_reason=self.kill_reason,
            day=self.day,
            day_baseline=self.day_baseline,
            portfolio_nets=[(iid, agg.net) for iid, agg in self.portfolio.aggs.items() if agg.net],
            strategy_nets=[
                (name, iid, agg.net)
                for name, scope in self._scopes.items()
                for iid, agg in scope.aggs.items()
                if agg.net
            ],
            valuations=[(iid, instr.val2) for iid, instr in self._instrs.items() if instr.val2],
        )

    def restore(self, checkpoint: RiskCheckpoint) -> None:
        """Load ``checkpoint`` into this fresh engine, before the OMS reports its open orders."""
        self.killed = checkpoint.killed
        self.kill_reason = checkpoint.kill_reason
        self.day = checkpoint.day
        self.day_baseline = checkpoint.day_baseline
        for iid, val2 in checkpoint.valuations:
            instr = self._instr(iid)
            if instr is not None:
                self._set_val2(instr, val2)
        nets = [(self.portfolio, iid, net) for iid, net in checkpoint.portfolio_nets]
        nets += [(self._scope(name), iid, net) for name, iid, net in checkpoint.strategy_nets]
        for scope, iid, net in nets:
            instr = self._instr(iid)
            if instr is None:
                raise RiskError(f"checkpoint holds a position in {iid}, which the instrument registry does not know")
            agg = self._agg(scope, instr)
            agg.net += net
            agg.recompute()

    # -- introspection ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """A canonical, comparable view of the journaled and derived state (not rate windows)."""
        scopes = {"*portfolio*": self.portfolio, **self._scopes}
        return {
            "killed": self.killed,
            "kill_reason": self.kill_reason,
            "day": self.day,
            "day_baseline": str(self.day_baseline),
            "aggregates": sorted(
                (name, str(iid), agg.net, agg.open_buy, agg.open_sell)
                for name, scope in scopes.items()
                for iid, agg in scope.aggs.items()
                if agg.net or agg.open_buy or agg.open_sell
            ),
            "books": sorted(
                (str(iid), sorted(instr.bids.items()), sorted(instr.asks.items()), instr.best_bid, instr.best_ask)
                for iid, instr in self._instrs.items()
                if instr.bids or instr.asks
            ),
        }

    def exposure(self, strategy_id: str | None = None) -> Decimal:
        """Worst-case gross exposure of a strategy (or the portfolio), in the common currency."""
        scope = self.portfolio if strategy_id is None else self._scope(strategy_id)
        return Decimal(scope.gross2) / (2 * self._scale)

    def status(self) -> dict[str, Any]:
        """A JSON-able summary for operators."""
        return {
            "killed": self.killed,
            "kill_reason": self.kill_reason,
            "day_pnl": str(self.day_pnl),
            "daily_loss_limit": None if self._loss_limit is None else str(self._loss_limit),
            "gross_exposure": str(self.exposure()),
            "currency": self.limits.common_currency,
        }
