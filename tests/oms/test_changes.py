"""Incremental reads of the OMS state (what the runtime copies to the SQL store): only what moved, each once."""

from __future__ import annotations

from decimal import Decimal

from jtrader.bus.messages import CancelOrder
from jtrader.domain import OrderStatus
from jtrader.oms import ChangeCursor
from jtrader.oms import engine as engine_module
from tests.oms.builders import CLIENT, LINEAR, Clock, ack, fill, history, make_oms, place, recover


def ids(orders) -> list[str]:
    return [o.client_order_id for o in orders]


def test_without_a_cursor_every_order_fill_and_position_is_returned():
    clock = Clock()
    oms = make_oms(clock=clock)
    history(oms, clock, range(0, 12))
    changes = oms.changes_since(None)
    state = oms.snapshot()
    assert changes.full
    assert sorted(ids(changes.orders)) == ids(state.orders)
    assert changes.fills == state.fills
    assert sorted(changes.positions, key=lambda p: str(p.instrument_id)) == sorted(
        state.positions, key=lambda p: str(p.instrument_id)
    )


def test_after_a_cursor_only_the_orders_fills_and_positions_that_moved_are_returned_once_each():
    oms = make_oms()
    for cid in ("a", "b", "c", "d"):
        place(oms, cid, acked=cid != "b", lots=3, price=599_000)
    cursor = oms.changes_since().cursor
    nothing = oms.changes_since(cursor)
    assert (nothing.orders, nothing.fills, nothing.positions, nothing.full) == ([], [], [], False)

    oms.on_venue_event(ack("b"))
    oms.on_venue_event(fill("c", 1, price=599_000, trade_id="t1"))
    oms.on_venue_event(fill("c", 2, price=599_000, trade_id="t2"))
    oms.on_command(CancelOrder(client_order_id="d"), CLIENT)  # a cancel in flight changes no order field yet
    changes = oms.changes_since(cursor)
    assert ids(changes.orders) == ["b", "c"] and not changes.full
    assert changes.orders[0].status is OrderStatus.ACKED and changes.orders[1].status is OrderStatus.FILLED
    assert [f.trade_id for f in changes.fills] == ["t1", "t2"]
    assert [(str(p.instrument_id), p.net_lots) for p in changes.positions] == [(str(LINEAR.id), 3)]
    # and from the new cursor on, nothing again
    later = oms.changes_since(changes.cursor)
    assert (later.orders, later.fills, later.positions) == ([], [], [])


def test_funding_moves_the_position_it_is_booked_on():
    oms = make_oms()
    place(oms, "a", lots=3)
    oms.on_venue_event(fill("a", 3))
    cursor = oms.changes_since().cursor
    oms.apply_funding(LINEAR.id, Decimal("0.0001"), 600_000)
    (position,) = oms.changes_since(cursor).positions
    assert position.realised_pnl == oms.position(LINEAR.id).realised_pnl < 0


def test_the_changes_are_copies_the_reader_may_keep_or_modify():
    oms = make_oms()
    place(oms, "a", lots=3)
    (order,) = oms.changes_since().orders
    order.status = OrderStatus.CANCELLED
    assert oms.order("a").status is OrderStatus.ACKED


def test_applying_every_increment_to_a_copy_rebuilds_the_full_state():
    clock = Clock()
    oms = make_oms(clock=clock)
    store_orders: dict[str, object] = {}
    store_fills: dict[str, object] = {}
    store_positions: dict[str, object] = {}
    cursor: ChangeCursor | None = None
    for start in range(0, 40, 3):
        history(oms, clock, range(start, start + 3))
        changes = oms.changes_since(cursor)
        store_orders.update((o.client_order_id, o) for o in changes.orders)
        store_fills.update((f.trade_id, f) for f in changes.fills)
        store_positions.update((str(p.instrument_id), p) for p in changes.positions)
        cursor = changes.cursor
    state = oms.snapshot()
    assert [store_orders[o.client_order_id] for o in state.orders] == state.orders
    assert sorted(store_fills) == sorted(f.trade_id for f in state.fills)
    assert [store_positions[str(p.instrument_id)] for p in state.positions] == state.positions


def test_each_read_costs_the_changes_not_the_state():
    clock = Clock()
    oms = make_oms(clock=clock)
    history(oms, clock, range(0, 300))
    cursor = oms.changes_since().cursor
    oms.on_venue_event(ack("c297"))  # accepted, not yet acknowledged
    changes = oms.changes_since(cursor)
    assert ids(changes.orders) == ["c297"] and changes.fills == [] and changes.positions == []


def test_a_reader_further_behind_than_the_change_log_gets_everything_again(monkeypatch):
    monkeypatch.setattr(engine_module, "_CHANGE_LOG_LIMIT", 10)
    clock = Clock()
    oms = make_oms(clock=clock)
    history(oms, clock, range(0, 2))
    cursor = oms.changes_since().cursor
    history(oms, clock, range(2, 20))  # more changes than the log keeps
    changes = oms.changes_since(cursor)
    assert changes.full and len(changes.orders) == 20
    assert [f.trade_id for f in changes.fills] == [f.trade_id for f in oms.fills()[cursor.fills :]]
    assert not oms.changes_since(changes.cursor).full


def test_a_recovered_oms_starts_a_new_change_log(tmp_path):
    path = tmp_path / "oms.journal"
    clock = Clock()
    oms = make_oms(journal=path, clock=clock)
    history(oms, clock, range(0, 5))
    oms.journal.close()
    restarted = recover(path)
    first = restarted.changes_since()
    assert first.full and ids(first.orders) == ids(oms.changes_since().orders)
    assert restarted.changes_since(first.cursor).orders == []
