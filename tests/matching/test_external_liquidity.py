"""Replayed L2 levels as anonymous liquidity: consumed by our aggressive orders, queued ahead of our passive ones.

Rules under test: an increase joins the back of the level's queue; a decrease
removes anonymous size from the back first; a replayed level that crosses our
resting orders fills them (the market traded through them).
"""

from __future__ import annotations

import numpy as np

from jtrader.domain import OrderType, Side
from jtrader.matching import ANONYMOUS_OWNER, CommandKind, Filled, SideCode, new_commands
from tests.matching.builders import fills, kinds, make_engine, taker_fills

BUY, SELL = Side.BUY, Side.SELL


def test_aggressive_order_walks_the_replayed_levels_and_pays_the_impact():
    engine = make_engine()
    engine.set_level(SELL, 1000, 2)
    engine.set_level(SELL, 1001, 3)
    engine.set_level(SELL, 1003, 10)
    events = engine.submit(1, 7, BUY, 7, order_type=OrderType.MARKET)
    assert taker_fills(events) == [(0, 1000, 2), (0, 1001, 3), (0, 1003, 2)]
    makers = [e for e in events if isinstance(e, Filled) and e.liquidity.value == "maker"]
    assert {(e.order_id, e.owner) for e in makers} == {(0, ANONYMOUS_OWNER)}
    assert engine.best_ask() == (1003, 8)
    assert engine.level(SELL, 1003) == (8, 8)


def test_our_passive_order_rests_behind_the_anonymous_size_already_there():
    engine = make_engine()
    engine.set_level(BUY, 1000, 6)
    engine.submit(1, 7, BUY, 2, 1000)
    assert engine.queue_position(1) == 6
    events = engine.submit(2, 8, SELL, 7, 1000)
    assert taker_fills(events) == [(0, 1000, 6), (1, 1000, 1)]


def test_anonymous_increase_joins_behind_our_order():
    engine = make_engine()
    engine.set_level(BUY, 1000, 6)
    engine.submit(1, 7, BUY, 2, 1000)
    engine.set_level(BUY, 1000, 10)  # 4 more arrive after us
    assert engine.queue_position(1) == 6
    assert engine.level(BUY, 1000) == (12, 10)


def test_anonymous_decrease_comes_out_of_the_back_first_so_we_keep_our_place():
    engine = make_engine()
    engine.set_level(BUY, 1000, 6)
    engine.submit(1, 7, BUY, 2, 1000)
    engine.set_level(BUY, 1000, 10)  # 6 ahead of us, 4 behind
    engine.set_level(BUY, 1000, 7)  # -3: all from behind us
    assert engine.queue_position(1) == 6
    engine.set_level(BUY, 1000, 4)  # -3: the last 1 behind, then 2 from ahead
    assert engine.queue_position(1) == 4
    assert engine.level(BUY, 1000) == (6, 4)
    engine.set_level(BUY, 1000, 0)
    assert engine.queue_position(1) == 0
    assert engine.level(BUY, 1000) == (2, 0)
    assert engine.verify() == []


def test_set_level_zero_removes_anonymous_size_and_leaves_our_orders():
    engine = make_engine()
    engine.set_level(SELL, 1005, 5)
    engine.submit(1, 7, SELL, 1, 1005)
    assert engine.set_level(SELL, 1005, 0) == []
    assert engine.depth() == ([], [(1005, 1)])
    assert engine.set_level(SELL, 2_000_000, 0) == []  # far outside the ladder: nothing to remove, no growth


def test_replayed_level_crossing_our_resting_order_fills_it_as_maker():
    engine = make_engine()
    engine.submit(1, 7, SELL, 3, 1005)
    engine.set_level(SELL, 1006, 4)
    events = engine.set_level(BUY, 1005, 9)  # the market now bids our ask's price: it traded
    assert kinds(events) == ["Filled", "Filled"]
    assert fills(events) == [(0, 1005, 3, "taker"), (1, 1005, 3, "maker")]
    assert events[1].counterparty_owner == ANONYMOUS_OWNER
    assert engine.depth() == ([(1005, 9)], [(1006, 4)])
    assert engine.last_trade_ticks == 1005


def test_replayed_level_crossing_only_anonymous_size_replaces_it_without_trades():
    engine = make_engine()
    engine.set_level(SELL, 1005, 3)
    assert engine.set_level(BUY, 1006, 2) == []
    assert engine.depth() == ([(1006, 2)], [])


def test_batch_replay_of_levels_between_our_orders():
    engine = make_engine()
    cmds = new_commands(4)
    cmds[0] = (CommandKind.SET_LEVEL, 1, 0, 0, SideCode.SELL, 0, 0, 1000, 0, 5)
    cmds[1] = (CommandKind.SUBMIT, 2, 1, 7, SideCode.SELL, 1, 1, 1000, 0, 2)
    cmds[2] = (CommandKind.SET_LEVEL, 3, 0, 0, SideCode.SELL, 0, 0, 1000, 0, 1)  # 4 fewer: from ahead of us
    cmds[3] = (CommandKind.SUBMIT, 4, 2, 8, SideCode.BUY, 2, 1, 0, 0, 2)  # market buy 2
    events = engine.process_batch(cmds)
    fill_rows = events[events["kind"] == 3]
    assert fill_rows[["order_id", "lots", "liquidity"]].tolist() == [(2, 1, 2), (0, 1, 1), (2, 1, 2), (1, 1, 1)]
    assert np.array_equal(fill_rows["ts"], [4, 4, 4, 4])
    assert engine.queue_position(1) == 0 and engine.order(1).leaves_lots == 1
