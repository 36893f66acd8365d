"""Every pre-trade rule: accepted at the limit, rejected just past it, the reason reaching the sender."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jtrader.bus.messages import (
    AmendOrder,
    CancelOrder,
    ControlRequest,
    MassCancel,
    RejectReason,
    RequestKind,
    RiskStateUpdate,
    VenueAmended,
    VenueCancel,
    VenueReject,
)
from jtrader.domain import OrderType, Side, TimeInForce, Trade
from jtrader.oms import TOPIC_RISK
from jtrader.risk import LimitSet, RiskConfigError, RiskEngine, RiskLimits, load_limits
from tests.oms.builders import (
    CLIENT,
    INVERSE,
    LINEAR,
    SPOT,
    Clock,
    cancelled,
    fill,
    make_oms,
    place,
    published,
    quote,
    registry,
    rejection,
    submit,
    to_venue,
)

R = RejectReason
L = str(LINEAR.id)
SECOND = 1_000_000_000


def accepted(oms, cmd, sender=CLIENT):
    out = oms.on_command(cmd, sender)
    assert to_venue(out), f"expected {cmd.client_order_id} accepted, got {out}"
    return out


def refused(oms, cmd, reason, sender=CLIENT):
    out = oms.on_command(cmd, sender)
    rejected = rejection(out)
    assert rejected.reason is reason, rejected.message
    assert rejected.client_order_id == cmd.client_order_id
    assert oms.counters[f"rejected.{reason.value}"] >= 1
    return rejected


# -- max order quantity --------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["portfolio", "strategy"])
def test_order_at_max_quantity_is_accepted_and_one_lot_more_rejected(scope):
    limit = LimitSet(max_order_quantity={L: Decimal("1.000")})  # 1000 lots of 0.001 BTC
    limits = RiskLimits(portfolio=limit) if scope == "portfolio" else RiskLimits(strategies={"s1": limit})
    oms = make_oms(limits)
    accepted(oms, submit("a", lots=1000))
    rejected = refused(oms, submit("b", lots=1001), R.MAX_ORDER_QUANTITY)
    assert "1001 lots" in rejected.message and "1000 lots" in rejected.message
    if scope == "strategy":
        accepted(oms, submit("c", lots=1001, strategy="other"))  # default_strategy has no limit


# -- max order notional -------------------------------------------------------------------------------


def test_order_at_max_notional_is_accepted_and_one_tick_more_rejected():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_order_notional=Decimal(60_000))))
    accepted(oms, submit("a", lots=1000, price=600_000))  # 1 BTC @ 60,000.0 = 60,000 USDT
    rejected = refused(oms, submit("b", lots=1000, price=600_001), R.MAX_ORDER_NOTIONAL)
    assert "60000.10" in rejected.message and "60000.00" in rejected.message
    refused(oms, submit("c", lots=1001, price=600_000), R.MAX_ORDER_NOTIONAL)


def test_market_order_notional_is_valued_at_the_reference_mid():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_order_notional=Decimal(60_000))))
    accepted(oms, submit("a", lots=1000, order_type=OrderType.MARKET))  # mid 60,000.0
    oms.on_market_data(quote(LINEAR.id, 599_992, 600_010))  # mid 60,000.1
    refused(oms, submit("b", lots=1000, order_type=OrderType.MARKET), R.MAX_ORDER_NOTIONAL)


def test_inverse_order_notional_is_its_face_value_in_usd():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_order_notional=Decimal(1000))))
    accepted(oms, submit("a", lots=10, instrument=INVERSE, price=600_000))  # 10 x 100 USD
    accepted(oms, submit("b", lots=10, instrument=INVERSE, price=610_000))  # face value does not depend on price
    refused(oms, submit("c", lots=11, instrument=INVERSE), R.MAX_ORDER_NOTIONAL)


def test_notional_uses_the_configured_currency_rate():
    limits = RiskLimits(
        portfolio=LimitSet(max_order_notional=Decimal(120_000)), currency_rates={"USDT": Decimal(2), "USD": Decimal(1)}
    )
    oms = make_oms(limits)
    accepted(oms, submit("a", lots=1000))  # 60,000 USDT = 120,000 USD
    refused(oms, submit("b", lots=1001), R.MAX_ORDER_NOTIONAL)


def test_instrument_without_a_currency_rate_is_refused_naming_the_missing_rate():
    oms = make_oms(
        RiskLimits(portfolio=LimitSet(max_order_notional=Decimal(10**9)), currency_rates={"USD": Decimal(1)})
    )
    rejected = refused(oms, submit("a"), R.NO_REFERENCE_PRICE)
    assert "USDT" in rejected.message and "currency_rates" in rejected.message


# -- max position (worst case with open orders) ---------------------------------------------------


@pytest.mark.parametrize("scope", ["portfolio", "strategy"])
def test_position_limit_counts_open_orders_on_the_same_side(scope):
    limit = LimitSet(max_position={L: Decimal("0.005")})  # 5 lots
    limits = RiskLimits(portfolio=limit) if scope == "portfolio" else RiskLimits(default_strategy=limit)
    oms = make_oms(limits)
    accepted(oms, submit("a", lots=3))
    accepted(oms, submit("b", lots=2, price=599_000))  # 3 + 2 = 5: at the limit
    rejected = refused(oms, submit("c", lots=1, price=598_000), R.MAX_POSITION)
    assert "worst-case position 6 lots" in rejected.message
    # The sell side is separate: selling 5 from flat is at the limit, 6 past it.
    accepted(oms, submit("d", side=Side.SELL, lots=5, price=601_000))
    refused(oms, submit("e", side=Side.SELL, lots=1, price=602_000), R.MAX_POSITION)


def test_position_limit_counts_fills_and_frees_room_when_orders_close():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_position={L: Decimal("0.005")})))
    place(oms, "a", lots=5)
    oms.on_venue_event(fill("a", 5))
    refused(oms, submit("b", lots=1), R.MAX_POSITION)
    accepted(oms, submit("c", side=Side.SELL, lots=10, price=601_000))  # long 5 -> short 5 worst case
    refused(oms, submit("d", side=Side.SELL, lots=1, price=601_000), R.MAX_POSITION)
    oms.on_venue_event(cancelled("c"))
    accepted(oms, submit("e", side=Side.SELL, lots=1, price=601_000))


def test_reduce_only_order_skips_the_position_limit():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_position={L: Decimal("0.005")})))
    place(oms, "a", lots=5)
    oms.on_venue_event(fill("a", 5))
    accepted(oms, submit("b", side=Side.SELL, lots=20, price=601_000, reduce_only=True))


def test_amend_up_past_the_position_limit_is_rejected_as_an_amend():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_position={L: Decimal("0.005")})))
    place(oms, "a", lots=3)
    assert to_venue(oms.on_command(AmendOrder(client_order_id="a", quantity_lots=5), CLIENT))
    oms.on_venue_event(VenueAmended(client_order_id="a", quantity_lots=5, price_ticks=None))
    rejected = rejection(oms.on_command(AmendOrder(client_order_id="a", quantity_lots=6), CLIENT))
    assert rejected.reason is R.MAX_POSITION and rejected.request is RequestKind.AMEND


# -- max gross exposure ---------------------------------------------------------------------------


def test_gross_exposure_across_instruments_and_venues_at_limit_accepted_one_lot_more_rejected():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_gross_exposure=Decimal(120_000))))
    place(oms, "lin", lots=1000)  # 1 BTC at the 60,000 mid: 60,000 USD
    place(oms, "inv", lots=570, instrument=INVERSE, side=Side.SELL, price=600_100)  # 57,000 USD face
    assert oms.risk.exposure() == Decimal(117_000)
    accepted(oms, submit("spot", lots=10_000, instrument=SPOT, price=300_000))  # 1 ETH at 3,000.00: 120,000
    assert oms.risk.exposure() == Decimal(120_000)
    refused(oms, submit("spot2", lots=10, instrument=SPOT, price=300_000), R.MAX_GROSS_EXPOSURE)  # +3 USD
    refused(oms, submit("inv2", lots=1, instrument=INVERSE, side=Side.SELL, price=600_100), R.MAX_GROSS_EXPOSURE)
    accepted(oms, submit("lin-sell", side=Side.SELL, lots=1000, price=600_100))  # other side: worst case unchanged
    oms.on_market_data(quote(LINEAR.id, 600_990, 601_010))  # linear marks to 60,100: +100
    assert oms.risk.exposure() == Decimal(120_100)
    oms.on_venue_event(cancelled("spot"))
    assert oms.risk.exposure() == Decimal(117_100)


def test_gross_exposure_of_positions_is_marked_to_the_reference():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_gross_exposure=Decimal(61_000))))
    place(oms, "a", lots=1000)
    oms.on_venue_event(fill("a", 1000))
    assert oms.risk.exposure() == Decimal(60_000)
    oms.on_market_data(
        Trade(
            instrument_id=LINEAR.id,
            price_ticks=610_000,
            size_lots=1,
            aggressor=Side.BUY,
            trade_id="x",
            ts_event=1,
            ts_recv=1,
        )
    )
    assert oms.risk.exposure() == Decimal(61_000)
    refused(oms, submit("b", lots=1, price=610_000), R.MAX_GROSS_EXPOSURE)


def test_strategy_gross_exposure_is_separate_from_other_strategies():
    oms = make_oms(RiskLimits(default_strategy=LimitSet(max_gross_exposure=Decimal(60_000))))
    accepted(oms, submit("a", lots=1000, strategy="a"))
    refused(oms, submit("a2", lots=1, strategy="a"), R.MAX_GROSS_EXPOSURE)
    accepted(oms, submit("b", lots=1000, strategy="b"))


# -- price band and reference price -----------------------------------------------------------------


@pytest.mark.parametrize(("price", "ok"), [(606_000, True), (606_001, False), (594_000, True), (593_999, False)])
def test_price_band_accepts_exactly_one_percent_and_rejects_one_tick_beyond(price, ok):
    oms = make_oms(RiskLimits(price_band_bps=100))  # mid 600,000 ticks
    cmd = submit("a", lots=1, price=price, side=Side.BUY if price < 600_000 else Side.SELL)
    if ok:
        accepted(oms, cmd)
    else:
        assert "100 bps" in refused(oms, cmd, R.PRICE_BAND).message


def test_price_band_uses_the_last_trade_when_it_is_newer():
    oms = make_oms(RiskLimits(price_band_bps=100))
    oms.on_market_data(
        Trade(
            instrument_id=LINEAR.id,
            price_ticks=700_000,
            size_lots=1,
            aggressor=Side.BUY,
            trade_id="x",
            ts_event=1,
            ts_recv=1,
        )
    )
    accepted(oms, submit("a", lots=1, price=707_000))
    refused(oms, submit("b", lots=1, price=600_000), R.PRICE_BAND)


def test_no_reference_price_rejects_by_default():
    oms = make_oms(quotes=False)
    rejected = refused(oms, submit("a"), R.NO_REFERENCE_PRICE)
    assert "wait for market data" in rejected.message


def test_no_reference_allow_accepts_limit_orders_but_not_market_orders():
    oms = make_oms(RiskLimits(no_reference="allow", price_band_bps=100), quotes=False)
    accepted(oms, submit("a", lots=1, price=900_000))  # no band without a reference
    refused(oms, submit("b", lots=1, order_type=OrderType.MARKET), R.NO_REFERENCE_PRICE)


def test_stale_reference_counts_as_none():
    clock = Clock()
    oms = make_oms(RiskLimits(reference_max_age_ns=5 * SECOND), clock=clock)  # quotes stamped at T0
    clock.advance(5 * SECOND)
    accepted(oms, submit("a", lots=1))
    clock.advance(1)
    refused(oms, submit("b", lots=1, price=599_000), R.NO_REFERENCE_PRICE)


# -- self-trade prevention ---------------------------------------------------------------------------------


def test_order_crossing_our_own_resting_order_is_rejected_self_trade():
    oms = make_oms()
    place(oms, "ask", side=Side.SELL, lots=1, price=600_100, strategy="maker")
    accepted(oms, submit("below", lots=1, price=600_099))
    assert "600100" in refused(oms, submit("at", lots=1, price=600_100), R.SELF_TRADE).message
    refused(oms, submit("mkt", lots=1, order_type=OrderType.MARKET, tif=TimeInForce.IOC), R.SELF_TRADE)
    refused(oms, submit("sell", side=Side.SELL, lots=1, price=600_099), R.SELF_TRADE)  # crosses our bid "below"
    oms.on_venue_event(cancelled("ask"))
    accepted(oms, submit("at2", lots=1, price=600_100))


def test_ioc_orders_do_not_rest_so_they_are_not_self_trade_targets():
    oms = make_oms()
    place(oms, "ioc", side=Side.SELL, lots=1, price=600_100, tif=TimeInForce.IOC)
    accepted(oms, submit("buy", lots=1, price=600_200))


def test_self_trade_prevention_can_be_turned_off():
    oms = make_oms(RiskLimits(self_trade_prevention=False))
    place(oms, "ask", side=Side.SELL, lots=1, price=600_100)
    accepted(oms, submit("buy", lots=1, price=600_100))


def test_own_best_price_moves_to_the_next_level_when_the_best_closes():
    oms = make_oms()
    place(oms, "ask1", side=Side.SELL, lots=1, price=600_100)
    place(oms, "ask2", side=Side.SELL, lots=1, price=600_200)
    place(oms, "ask1b", side=Side.SELL, lots=1, price=600_100)
    oms.on_venue_event(cancelled("ask1"))
    refused(oms, submit("b1", lots=1, price=600_150), R.SELF_TRADE)  # ask1b still rests at 600,100
    oms.on_venue_event(fill("ask1b", 1, price=600_100, side=Side.SELL))
    accepted(oms, submit("b2", lots=1, price=600_150))
    refused(oms, submit("b3", lots=1, price=600_200), R.SELF_TRADE)


# -- duplicate orders ---------------------------------------------------------------------------------------


def test_same_order_within_the_duplicate_window_is_rejected_and_accepted_after_it():
    clock = Clock()
    oms = make_oms(RiskLimits(duplicate_window_ns=1_000_000), clock=clock)
    accepted(oms, submit("a", lots=1))
    clock.advance(999_999)
    refused(oms, submit("b", lots=1), R.DUPLICATE_ORDER)
    accepted(oms, submit("c", lots=2))  # different size
    accepted(oms, submit("d", lots=1, price=599_999))  # different price
    accepted(oms, submit("e", lots=1, strategy="s2"))  # different strategy
    clock.advance(1)
    accepted(oms, submit("f", lots=1))


def test_same_price_and_size_on_another_instrument_or_side_is_not_a_duplicate():
    oms = make_oms(RiskLimits(duplicate_window_ns=1_000_000, self_trade_prevention=False), clock=Clock())
    accepted(oms, submit("a", lots=1))
    accepted(oms, submit("b", lots=1, instrument=INVERSE))
    accepted(oms, submit("c", lots=1, side=Side.SELL))
    refused(oms, submit("d", lots=1, instrument=INVERSE), R.DUPLICATE_ORDER)
    refused(oms, submit("e", lots=1, side=Side.SELL), R.DUPLICATE_ORDER)


# -- rate limits ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["portfolio", "strategy"])
def test_order_rate_allows_the_limit_per_window_and_rejects_one_more(scope):
    clock = Clock()
    limit = LimitSet(max_orders_per_window=3)
    limits = RiskLimits(portfolio=limit) if scope == "portfolio" else RiskLimits(default_strategy=limit)
    oms = make_oms(limits, clock=clock)
    for i in range(3):
        accepted(oms, submit(f"a{i}", lots=1, price=599_000 - i))
        clock.advance(100_000_000)
    refused(oms, submit("x", lots=1, price=598_000), R.ORDER_RATE)
    clock.advance(SECOND - 300_000_000)  # the first order leaves the sliding window exactly now
    accepted(oms, submit("y", lots=1, price=598_000))
    refused(oms, submit("z", lots=1, price=597_000), R.ORDER_RATE)


def test_cancel_rate_allows_the_limit_per_window_and_rejects_one_more():
    clock = Clock()
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_cancels_per_window=2)), clock=clock)
    for i in range(4):
        place(oms, f"o{i}", lots=1, price=599_000 - i)
    assert to_venue(oms.on_command(CancelOrder(client_order_id="o0"), CLIENT))
    assert to_venue(oms.on_command(MassCancel(instrument_id=SPOT.id), CLIENT)) == []  # nothing to cancel: free
    assert to_venue(oms.on_command(CancelOrder(client_order_id="o1"), CLIENT))
    rejected = rejection(oms.on_command(CancelOrder(client_order_id="o2"), CLIENT))
    assert rejected.reason is R.CANCEL_RATE and rejected.request is RequestKind.CANCEL
    clock.advance(SECOND)
    assert to_venue(oms.on_command(CancelOrder(client_order_id="o2"), CLIENT))


# -- daily loss limit and the kill switch -------------------------------------------------------------------------


def _long_one_btc(oms, fee="0"):
    place(oms, "long", lots=1000)
    oms.on_venue_event(fill("long", 1000, fee=fee))


def test_loss_equal_to_the_daily_limit_is_allowed_and_beyond_it_trips_the_kill_switch():
    oms = make_oms(RiskLimits(daily_loss_limit=Decimal(100)))
    _long_one_btc(oms, fee="10")
    place(oms, "resting", lots=1, price=590_000)
    assert oms.on_market_data(quote(LINEAR.id, 599_090, 599_110)) == []  # mid 59,910: -90 - 10 fee = -100
    assert not oms.risk.killed and oms.risk.day_pnl == Decimal(-100)
    out = oms.on_market_data(quote(LINEAR.id, 599_089, 599_109))  # mid 59,909.9: -100.1
    assert oms.risk.killed and "daily loss limit" in oms.risk.kill_reason
    assert [c.client_order_id for c in to_venue(out) if isinstance(c, VenueCancel)] == ["resting"]
    assert published(out, TOPIC_RISK) == [
        RiskStateUpdate(ts=published(out, TOPIC_RISK)[0].ts, killed=True, reason=oms.risk.kill_reason)
    ]
    rejected = refused(oms, submit("new", lots=1, price=590_000), R.KILL_SWITCH)
    assert "reset" in rejected.message


def test_kill_switch_stays_latched_until_an_operator_reset():
    clock = Clock()
    oms = make_oms(RiskLimits(daily_loss_limit=Decimal(100)), clock=clock)
    _long_one_btc(oms)
    oms.on_market_data(quote(LINEAR.id, 598_000, 598_020))  # -199
    assert oms.risk.killed
    oms.on_market_data(quote(LINEAR.id, 605_000, 605_020))  # back in profit: still killed
    clock.advance(3600 * SECOND)
    refused(oms, submit("a", lots=1, side=Side.SELL, price=605_010), R.KILL_SWITCH)
    oms.on_command(ControlRequest(command="reset", operator="alice"), b"ops")
    accepted(oms, submit("b", lots=1, side=Side.SELL, price=605_010))


def test_cancels_pass_while_killed_and_shrinking_amends_pass_but_growing_ones_do_not():
    oms = make_oms()
    place(oms, "a", lots=5)
    oms.on_command(ControlRequest(command="kill"), b"ops")
    oms.on_venue_event(VenueReject(client_order_id="a", reason=R.VENUE_REJECT, request=RequestKind.CANCEL))
    assert to_venue(oms.on_command(AmendOrder(client_order_id="a", quantity_lots=4), CLIENT))
    oms.on_venue_event(VenueAmended(client_order_id="a", quantity_lots=4, price_ticks=None))
    assert rejection(oms.on_command(AmendOrder(client_order_id="a", quantity_lots=6), CLIENT)).reason is (R.KILL_SWITCH)
    assert to_venue(oms.on_command(CancelOrder(client_order_id="a"), CLIENT))


def test_new_day_restarts_the_daily_pnl_from_the_current_total():
    from jtrader.oms import NS_PER_DAY

    clock = Clock()
    oms = make_oms(RiskLimits(daily_loss_limit=Decimal(150)), clock=clock)
    _long_one_btc(oms)
    oms.on_market_data(quote(LINEAR.id, 598_990, 599_010))  # -100 today
    assert oms.risk.day_pnl == Decimal(-100)
    clock.now = (clock.now // NS_PER_DAY + 1) * NS_PER_DAY  # UTC midnight
    oms.on_timer(clock.now)
    assert oms.risk.day_pnl == 0
    oms.on_market_data(quote(LINEAR.id, 597_990, 598_010))  # -100 more: -200 in total, -100 today
    assert not oms.risk.killed


def test_inverse_pnl_counts_against_the_daily_loss_in_usd_at_the_mark():
    oms = make_oms(RiskLimits(daily_loss_limit=Decimal(100)))
    place(oms, "inv", lots=100, instrument=INVERSE, price=600_000)  # 10,000 USD face
    oms.on_venue_event(fill("inv", 100, instrument=INVERSE))
    # In USD at mark m: 10,000 * (1/60,000 - 1/m) * m = 10,000 * (m/60,000 - 1).
    oms.on_market_data(quote(INVERSE.id, 594_000, 594_020))  # m = 59,401: -99.8333...
    assert abs(oms.risk.day_pnl - Decimal(10_000) * (Decimal(59_401) / 60_000 - 1)) < Decimal("1e-20")
    assert not oms.risk.killed
    oms.on_market_data(quote(INVERSE.id, 593_980, 594_000))  # m = 59,399: -100.1666...
    assert oms.risk.killed


# -- config ----------------------------------------------------------------------------------------------


def test_unknown_limit_key_is_refused_naming_it():
    with pytest.raises(RiskConfigError, match="max_positon"):
        load_limits({"portfolio": {"max_positon": {L: "1"}}})


def test_limits_load_from_toml_numbers_exactly():
    limits = load_limits({"daily_loss_limit": 0.1, "portfolio": {"max_order_quantity": {L: 1.5}}})
    assert limits.daily_loss_limit == Decimal("0.1")
    assert limits.portfolio.max_order_quantity[L] == Decimal("1.5")


def test_limits_naming_an_unknown_instrument_are_refused():
    with pytest.raises(RiskConfigError, match=r"unknown instrument 'XRPUSDT\.binance'"):
        RiskEngine(RiskLimits(portfolio=LimitSet(max_position={"XRPUSDT.binance": Decimal(1)})), registry())


@pytest.mark.parametrize(
    "data",
    [
        {"rate_window_ns": 0},
        {"daily_loss_limit": -1},
        {"portfolio": {"max_order_notional": -5}},
        {"currency_rates": {"USDT": 0}},
        {"no_reference": "maybe"},
    ],
)
def test_bad_limit_values_are_refused(data):
    with pytest.raises(RiskConfigError):
        load_limits(data)


def test_limits_are_frozen():
    with pytest.raises(AttributeError):
        RiskLimits().daily_loss_limit = Decimal(1)  # type: ignore[misc]


def test_reduce_only_order_amended_up_skips_the_position_limit():
    oms = make_oms(RiskLimits(portfolio=LimitSet(max_position={L: Decimal("0.005")})))
    place(oms, "a", lots=5)
    oms.on_venue_event(fill("a", 5))
    place(oms, "r", side=Side.SELL, lots=5, price=601_000, reduce_only=True)
    assert to_venue(oms.on_command(AmendOrder(client_order_id="r", quantity_lots=20), CLIENT))
