"""Price-time priority, partial fills across makers and levels, amend (cancel/replace) and cancel."""

from __future__ import annotations

from jtrader.domain import OrderType, Side, TimeInForce
from jtrader.matching import Amended, Cancelled, Reason, Rejected
from tests.matching.builders import kinds, make_engine, taker_fills

BUY, SELL = Side.BUY, Side.SELL


def test_aggressive_order_fills_several_makers_across_levels_in_price_then_time_order():
    engine = make_engine()
    engine.submit(1, 1, SELL, 2, 1001)
    engine.submit(2, 2, SELL, 3, 1000)
    engine.submit(3, 3, SELL, 4, 1000)
    engine.submit(4, 4, SELL, 5, 1002)
    events = engine.submit(9, 9, BUY, 10, 1002)
    assert taker_fills(events) == [(2, 1000, 3), (3, 1000, 4), (1, 1001, 2), (4, 1002, 1)]
    assert [e.trade_id for e in events if getattr(e, "liquidity", None) and e.liquidity.value == "taker"] == [
        1,
        2,
        3,
        4,
    ]
    assert engine.best_ask() == (1002, 4)
    assert engine.order(4).filled_lots == 1


def test_earlier_order_at_a_level_fills_first_and_later_ones_wait():
    engine = make_engine()
    for oid in (1, 2, 3):
        engine.submit(oid, oid, BUY, 2, 1000)
    assert [engine.queue_position(oid) for oid in (1, 2, 3)] == [0, 2, 4]
    events = engine.submit(9, 9, SELL, 3, 1000)
    assert taker_fills(events) == [(1, 1000, 2), (2, 1000, 1)]
    assert [engine.queue_position(oid) for oid in (2, 3)] == [0, 1]


def test_better_price_fills_before_earlier_time():
    engine = make_engine()
    engine.submit(1, 1, BUY, 2, 1000)
    engine.submit(2, 2, BUY, 2, 1001)
    assert taker_fills(engine.submit(9, 9, SELL, 2, 990))[0] == (2, 1001, 2)


def test_amend_reducing_quantity_at_the_same_price_keeps_queue_priority():
    engine = make_engine()
    engine.submit(1, 1, BUY, 5, 1000)
    engine.submit(2, 2, BUY, 5, 1000)
    (event,) = engine.amend(1, owner=1, quantity_lots=3)
    assert isinstance(event, Amended) and event.priority_kept and event.leaves_lots == 3
    assert engine.queue_position(1) == 0 and engine.queue_position(2) == 3
    assert engine.best_bid() == (1000, 8)
    assert taker_fills(engine.submit(9, 9, SELL, 1, 1000)) == [(1, 1000, 1)]


def test_amend_increasing_quantity_loses_queue_priority():
    engine = make_engine()
    engine.submit(1, 1, BUY, 5, 1000)
    engine.submit(2, 2, BUY, 5, 1000)
    (event,) = engine.amend(1, owner=1, quantity_lots=6)
    assert not event.priority_kept
    assert engine.queue_position(2) == 0 and engine.queue_position(1) == 5
    assert taker_fills(engine.submit(9, 9, SELL, 1, 1000)) == [(2, 1000, 1)]


def test_amend_changing_price_loses_priority_even_when_moving_back():
    engine = make_engine()
    engine.submit(1, 1, BUY, 5, 1000)
    engine.submit(2, 2, BUY, 5, 1001)
    engine.amend(1, 1, 5, price_ticks=1001)
    engine.amend(1, 1, 5, price_ticks=1000)
    engine.amend(1, 1, 5, price_ticks=1001)
    assert engine.queue_position(1) == 5  # behind order 2 at 1001


def test_amend_to_a_crossing_price_takes_liquidity_then_rests():
    engine = make_engine()
    engine.submit(1, 1, SELL, 2, 1005)
    engine.submit(2, 2, BUY, 5, 1000)
    events = engine.amend(2, owner=2, quantity_lots=5, price_ticks=1005)
    assert kinds(events) == ["Amended", "Filled", "Filled"]
    assert taker_fills(events) == [(1, 1005, 2)]
    assert engine.best_bid() == (1005, 3)


def test_amend_of_a_post_only_order_to_a_crossing_price_is_rejected_and_changes_nothing():
    engine = make_engine()
    engine.submit(1, 1, SELL, 2, 1005)
    engine.submit(2, 2, BUY, 5, 1000, time_in_force=TimeInForce.POST_ONLY)
    (event,) = engine.amend(2, 2, 5, price_ticks=1005)
    assert isinstance(event, Rejected) and event.reason is Reason.POST_ONLY_WOULD_TAKE
    assert engine.order(2).price_ticks == 1000


def test_amend_sets_total_quantity_so_it_must_exceed_what_is_filled():
    engine = make_engine()
    engine.submit(1, 1, SELL, 5, 1000)
    engine.submit(2, 2, BUY, 3, 1000)  # order 1: 3 filled, 2 open
    (event,) = engine.amend(1, 1, 3)
    assert event.reason is Reason.BAD_QUANTITY
    (event,) = engine.amend(1, 1, 4)
    assert event.leaves_lots == 1 and event.quantity_lots == 4 and event.priority_kept


def test_amend_of_a_pending_stop_moves_its_trigger():
    engine = make_engine()
    engine.submit(1, 7, SELL, 5, 1000)
    engine.submit(2, 8, BUY, 1, 1000)  # last trade 1000
    engine.submit(3, 9, BUY, 1, order_type=OrderType.STOP_MARKET, trigger_ticks=1010)
    events = engine.amend(3, 9, 1, trigger_ticks=1000)  # already reached: triggers now
    assert kinds(events) == ["Amended", "Triggered", "Filled", "Filled"]


def test_cancel_removes_a_resting_order_and_reports_its_open_lots():
    engine = make_engine()
    engine.submit(1, 1, BUY, 5, 1000)
    engine.submit(2, 2, SELL, 2, 1000)
    (event,) = engine.cancel(1, owner=1)
    assert event == Cancelled(
        command=2, ts=0, order_id=1, owner=1, side=BUY, price_ticks=1000, lots=3, reason=Reason.REQUESTED
    )
    assert engine.best_bid() is None


def test_cancel_of_a_filled_order_is_rejected_unknown_order():
    engine = make_engine()
    engine.submit(1, 1, BUY, 2, 1000)
    engine.submit(2, 2, SELL, 2, 1000)
    (event,) = engine.cancel(1, owner=1)
    assert isinstance(event, Rejected) and event.reason is Reason.UNKNOWN_ORDER


def test_cancel_of_an_unknown_or_already_cancelled_order_is_rejected():
    engine = make_engine()
    assert engine.cancel(42, owner=1)[0].reason is Reason.UNKNOWN_ORDER
    engine.submit(1, 1, BUY, 2, 1000)
    engine.cancel(1, 1)
    assert engine.cancel(1, 1)[0].reason is Reason.UNKNOWN_ORDER


def test_cancel_or_amend_by_another_owner_is_rejected_as_unknown():
    engine = make_engine()
    engine.submit(1, 1, BUY, 2, 1000)
    assert engine.cancel(1, owner=2)[0].reason is Reason.UNKNOWN_ORDER
    assert engine.amend(1, owner=2, quantity_lots=1)[0].reason is Reason.UNKNOWN_ORDER
    assert engine.order(1).leaves_lots == 2


def test_id_of_a_finished_order_can_be_reused():
    engine = make_engine()
    engine.submit(1, 1, BUY, 2, 1000)
    engine.cancel(1, 1)
    assert kinds(engine.submit(1, 1, BUY, 2, 999)) == ["Accepted"]


def test_order_lookup_and_open_orders_show_live_state():
    engine = make_engine()
    engine.submit(1, 1, BUY, 2, 1000)
    engine.submit(2, 1, SELL, 1, 1010, order_type=OrderType.STOP_LIMIT, trigger_ticks=1005)
    views = engine.open_orders()
    assert [(v.order_id, v.pending_stop, v.lots_ahead) for v in views] == [(1, False, 0), (2, True, -1)]
    assert engine.queue_position(2) is None
    assert engine.order(99) is None
    assert engine.open_order_count == 2
