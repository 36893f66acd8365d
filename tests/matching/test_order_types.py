"""Each order type and time in force, through the per-call API a venue uses."""

from __future__ import annotations

from jtrader.domain import OrderType, Side, TimeInForce
from jtrader.matching import Accepted, Cancelled, Filled, Reason, Rejected, Triggered
from tests.matching.builders import fills, kinds, make_engine, taker_fills

BUY, SELL = Side.BUY, Side.SELL
MARKET, STOP_MARKET, STOP_LIMIT = OrderType.MARKET, OrderType.STOP_MARKET, OrderType.STOP_LIMIT
IOC, FOK, POST_ONLY = TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY


def test_limit_order_that_does_not_cross_rests_at_its_price():
    engine = make_engine()
    events = engine.submit(1, owner=7, side=BUY, quantity_lots=5, price_ticks=1000, ts=11)
    assert events == [
        Accepted(command=0, ts=11, order_id=1, owner=7, side=BUY, price_ticks=1000, quantity_lots=5, trigger_ticks=0)
    ]
    assert engine.best_bid() == (1000, 5)
    assert engine.best_ask() is None
    assert engine.order(1).leaves_lots == 5


def test_crossing_limit_order_fills_at_the_makers_price_and_rests_the_rest():
    engine = make_engine()
    engine.submit(1, 7, SELL, 3, 1000)
    events = engine.submit(2, 8, BUY, 5, 1005)
    assert kinds(events) == ["Accepted", "Filled", "Filled"]
    assert fills(events) == [(2, 1000, 3, "taker"), (1, 1000, 3, "maker")]
    taker, maker = events[1], events[2]
    assert (taker.owner, taker.counterparty_owner, maker.owner, maker.counterparty_owner) == (8, 7, 7, 8)
    assert taker.trade_id == maker.trade_id
    assert (taker.leaves_lots, maker.leaves_lots) == (2, 0)
    assert engine.best_bid() == (1005, 2)
    assert engine.best_ask() is None
    assert engine.order(1) is None


def test_market_order_sweeps_levels_and_expires_what_is_left():
    engine = make_engine()
    engine.submit(1, 7, SELL, 2, 1000)
    engine.submit(2, 7, SELL, 2, 1001)
    events = engine.submit(3, 8, BUY, 6, order_type=MARKET)
    assert taker_fills(events) == [(1, 1000, 2), (2, 1001, 2)]
    assert events[-1] == Cancelled(
        command=2, ts=0, order_id=3, owner=8, side=BUY, price_ticks=0, lots=2, reason=Reason.IOC_REMAINDER
    )
    assert engine.best_ask() is None
    assert engine.open_orders() == []


def test_market_order_on_an_empty_side_is_rejected_no_liquidity():
    engine = make_engine()
    engine.submit(1, 7, BUY, 2, 1000)
    (event,) = engine.submit(2, 8, BUY, 1, order_type=MARKET)
    assert isinstance(event, Rejected) and event.reason is Reason.NO_LIQUIDITY
    assert engine.best_bid() == (1000, 2)


def test_ioc_limit_fills_what_crosses_and_cancels_the_remainder():
    engine = make_engine()
    engine.submit(1, 7, SELL, 2, 1000)
    engine.submit(2, 7, SELL, 2, 1002)
    events = engine.submit(3, 8, BUY, 5, 1001, time_in_force=IOC)
    assert taker_fills(events) == [(1, 1000, 2)]
    assert isinstance(events[-1], Cancelled) and events[-1].lots == 3 and events[-1].reason is Reason.IOC_REMAINDER
    assert engine.best_bid() is None  # nothing rests
    assert engine.best_ask() == (1002, 2)


def test_ioc_that_crosses_nothing_is_accepted_then_expires_whole():
    engine = make_engine()
    events = engine.submit(1, 8, BUY, 5, 1001, time_in_force=IOC)
    assert kinds(events) == ["Accepted", "Cancelled"]
    assert events[1].lots == 5


def test_fok_fills_completely_across_levels_when_enough_is_available():
    engine = make_engine()
    engine.submit(1, 7, SELL, 2, 1000)
    engine.submit(2, 7, SELL, 3, 1001)
    events = engine.submit(3, 8, BUY, 5, 1001, time_in_force=FOK)
    assert taker_fills(events) == [(1, 1000, 2), (2, 1001, 3)]
    assert kinds(events)[-1] == "Filled"
    assert engine.best_ask() is None


def test_fok_that_cannot_fill_completely_is_rejected_and_takes_nothing():
    engine = make_engine()
    engine.submit(1, 7, SELL, 2, 1000)
    engine.submit(2, 7, SELL, 3, 1002)  # beyond the FOK's limit
    (event,) = engine.submit(3, 8, BUY, 5, 1001, time_in_force=FOK)
    assert isinstance(event, Rejected) and event.reason is Reason.FOK_NOT_FILLABLE
    assert engine.depth() == ([], [(1000, 2), (1002, 3)])


def test_fok_market_order_is_all_or_nothing_too():
    engine = make_engine()
    engine.submit(1, 7, SELL, 2, 1000)
    (event,) = engine.submit(2, 8, BUY, 3, order_type=MARKET, time_in_force=FOK)
    assert event.reason is Reason.FOK_NOT_FILLABLE
    assert kinds(engine.submit(3, 8, BUY, 2, order_type=MARKET, time_in_force=FOK)) == ["Accepted", "Filled", "Filled"]


def test_post_only_that_would_take_is_rejected():
    engine = make_engine()
    engine.submit(1, 7, SELL, 2, 1000)
    (event,) = engine.submit(2, 8, BUY, 1, 1000, time_in_force=POST_ONLY)
    assert isinstance(event, Rejected) and event.reason is Reason.POST_ONLY_WOULD_TAKE
    assert engine.best_bid() is None and engine.best_ask() == (1000, 2)


def test_post_only_that_does_not_cross_rests_as_a_maker():
    engine = make_engine()
    engine.submit(1, 7, SELL, 2, 1000)
    assert kinds(engine.submit(2, 8, BUY, 1, 999, time_in_force=POST_ONLY)) == ["Accepted"]
    events = engine.submit(3, 9, SELL, 1, 999, time_in_force=IOC)
    assert fills(events) == [(3, 999, 1, "taker"), (2, 999, 1, "maker")]


def test_post_only_on_a_market_or_stop_order_is_rejected():
    engine = make_engine()
    for order_type in (MARKET, STOP_MARKET, STOP_LIMIT):
        (event,) = engine.submit(1, 8, BUY, 1, 1000, order_type=order_type, trigger_ticks=1000, time_in_force=POST_ONLY)
        assert event.reason is Reason.BAD_TIME_IN_FORCE


def test_stop_market_waits_until_a_trade_prints_through_its_trigger():
    engine = make_engine()
    engine.submit(1, 7, SELL, 10, 1000)
    engine.submit(2, 7, SELL, 10, 1005)
    assert kinds(engine.submit(3, 8, BUY, 4, order_type=STOP_MARKET, trigger_ticks=1003)) == ["Accepted"]
    assert engine.order(3).pending_stop
    # A trade at 1000 is below the buy stop's trigger: nothing happens.
    assert kinds(engine.submit(4, 9, BUY, 10, 1000)) == ["Accepted", "Filled", "Filled"]
    assert engine.order(3).pending_stop
    # A trade at 1005 trades through 1003: the stop enters as a market order.
    events = engine.submit(5, 9, BUY, 1, 1005)
    assert kinds(events) == ["Accepted", "Filled", "Filled", "Triggered", "Filled", "Filled"]
    assert isinstance(events[3], Triggered) and events[3].order_id == 3
    assert taker_fills(events[4:]) == [(2, 1005, 4)]
    assert engine.order(3) is None


def test_sell_stop_triggers_on_a_trade_at_or_below_its_trigger():
    engine = make_engine()
    engine.submit(1, 7, BUY, 5, 1000)
    engine.submit(2, 8, SELL, 2, order_type=STOP_MARKET, trigger_ticks=1000)
    events = engine.submit(3, 9, SELL, 1, 1000)
    assert [e.order_id for e in events if isinstance(e, Triggered)] == [2]
    assert engine.best_bid() == (1000, 2)


def test_stop_limit_triggers_into_a_limit_order_that_rests():
    engine = make_engine()
    engine.submit(1, 7, SELL, 1, 1000)
    engine.submit(2, 8, BUY, 3, 1001, order_type=STOP_LIMIT, trigger_ticks=1000)
    events = engine.submit(3, 9, BUY, 1, 1000)
    assert kinds(events) == ["Accepted", "Filled", "Filled", "Triggered"]
    view = engine.order(2)
    assert view is not None and not view.pending_stop and view.order_type is STOP_LIMIT
    assert engine.best_bid() == (1001, 3)


def test_stop_whose_trigger_the_last_trade_already_reached_triggers_at_once():
    engine = make_engine()
    engine.submit(1, 7, SELL, 5, 1000)
    engine.submit(2, 8, BUY, 1, 1000)  # last trade 1000
    events = engine.submit(3, 9, BUY, 2, order_type=STOP_MARKET, trigger_ticks=990)
    assert kinds(events) == ["Accepted", "Triggered", "Filled", "Filled"]


def test_triggered_stops_cascade_in_trigger_order_within_one_command():
    engine = make_engine()
    engine.submit(1, 7, BUY, 1, 1000)
    engine.submit(2, 7, BUY, 1, 999)
    engine.submit(3, 7, BUY, 1, 998)
    engine.submit(10, 8, SELL, 1, order_type=STOP_MARKET, trigger_ticks=999)  # fires second (further from market)
    engine.submit(11, 8, SELL, 1, order_type=STOP_MARKET, trigger_ticks=1000)  # fires first
    engine.submit(12, 8, SELL, 1, order_type=STOP_MARKET, trigger_ticks=998)  # reached only by the cascade
    events = engine.submit(4, 9, SELL, 1, 1000, time_in_force=IOC)
    triggered = [e.order_id for e in events if isinstance(e, Triggered)]
    assert triggered == [11, 10, 12]
    assert taker_fills(events) == [(1, 1000, 1), (2, 999, 1), (3, 998, 1)]
    assert engine.best_bid() is None
    assert engine.open_orders() == []


def test_triggered_stop_market_with_nothing_to_hit_is_cancelled_no_liquidity():
    engine = make_engine()
    engine.submit(1, 7, SELL, 1, 1000)
    engine.submit(2, 8, BUY, 1, order_type=STOP_MARKET, trigger_ticks=1000)
    events = engine.submit(3, 9, BUY, 1, 1000)  # takes the only ask; the stop finds none
    assert kinds(events)[-2:] == ["Triggered", "Cancelled"]
    assert events[-1].reason is Reason.NO_LIQUIDITY
    assert engine.order(2) is None


def test_stop_can_be_cancelled_while_pending():
    engine = make_engine()
    engine.submit(1, 8, BUY, 1, order_type=STOP_MARKET, trigger_ticks=1000)
    (event,) = engine.cancel(1, owner=8)
    assert isinstance(event, Cancelled) and event.reason is Reason.REQUESTED and event.lots == 1
    assert engine.open_orders() == []


def test_gtc_order_rests_across_many_calls_and_partially_fills():
    engine = make_engine()
    engine.submit(1, 7, SELL, 10, 1000)
    for i in range(4):
        events = engine.submit(100 + i, 8, BUY, 2, 1000)
        maker = next(e for e in events if isinstance(e, Filled) and e.order_id == 1)
        assert maker.leaves_lots == 10 - 2 * (i + 1)
    assert engine.order(1).filled_lots == 8
    assert engine.best_ask() == (1000, 2)
