"""The ladder, the order pool and the id map grow by themselves; nothing is lost when they do."""

from __future__ import annotations

from jtrader.domain import OrderType, Side
from jtrader.matching import MatchingEngine
from tests.matching.builders import make_engine, make_instrument, taker_fills


def test_ladder_recentres_and_grows_when_prices_move_far_and_keeps_every_order():
    engine = make_engine(initial_levels=8)
    engine.submit(1, 1, Side.BUY, 1, 1000)
    engine.submit(2, 1, Side.SELL, 2, 1004)
    engine.submit(3, 1, Side.SELL, 3, 5000)  # far above
    engine.submit(4, 1, Side.BUY, 4, 10)  # far below
    base, size = engine.ladder
    assert base <= 10 and base + size > 5000
    assert engine.depth() == ([(1000, 1), (10, 4)], [(1004, 2), (5000, 3)])
    assert engine.verify() == []
    assert taker_fills(engine.submit(5, 2, Side.SELL, 5, 1)) == [(1, 1000, 1), (4, 10, 4)]


def test_pending_stop_limit_price_survives_ladder_recentring():
    engine = MatchingEngine(make_instrument(), initial_levels=8, max_levels=64)
    engine.submit(1, 1, Side.SELL, 1, 100)
    engine.submit(2, 2, Side.BUY, 2, 90, order_type=OrderType.STOP_LIMIT, trigger_ticks=100)
    engine.cancel(1, 1)
    engine.submit(3, 1, Side.SELL, 1, 140)  # recentres upwards (max 64 levels) but must keep 90
    engine.submit(4, 3, Side.BUY, 1, 140)  # trades at 140: the stop triggers and rests at 90
    assert engine.best_bid() == (90, 2)
    assert engine.verify() == []


def test_many_orders_grow_the_pool_and_id_map_and_all_stay_findable():
    engine = make_engine(initial_orders=2)
    for oid in range(1, 3_001):
        engine.submit(oid, oid % 7, Side.BUY, 1, 1000 - oid % 50)
    assert engine.open_order_count == 3_000
    assert all(engine.order(oid) is not None for oid in range(1, 3_001, 97))
    for oid in range(1, 3_001, 2):
        engine.cancel(oid, oid % 7)
    assert engine.open_order_count == 1_500
    assert engine.verify() == []
