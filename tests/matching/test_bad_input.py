"""Bad commands get one Rejected event with a reason and leave the book exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest

from jtrader.domain import OrderType, Side, TimeInForce
from jtrader.matching import (
    MAX_LOTS,
    MAX_PRICE_TICKS,
    CommandKind,
    EventKind,
    MatchingEngine,
    Reason,
    Rejected,
    new_commands,
)
from tests.matching.builders import make_engine, make_instrument

BUY, SELL = Side.BUY, Side.SELL


def _book(engine: MatchingEngine) -> tuple:
    return engine.depth(100), [v for v in engine.open_orders()], engine.last_trade_ticks


@pytest.fixture
def engine() -> MatchingEngine:
    engine = make_engine()
    engine.submit(1, 1, BUY, 5, 1000)
    engine.submit(2, 2, SELL, 5, 1010)
    engine.submit(3, 3, SELL, 1, order_type=OrderType.STOP_MARKET, trigger_ticks=990)
    return engine


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"order_id": 0}, Reason.BAD_ORDER_ID),
        ({"order_id": -5}, Reason.BAD_ORDER_ID),
        ({"order_id": 2**70}, Reason.BAD_ORDER_ID),
        ({"side": "sideways"}, Reason.BAD_SIDE),
        ({"order_type": "iceberg"}, Reason.BAD_ORDER_TYPE),
        ({"time_in_force": "gtd"}, Reason.BAD_TIME_IN_FORCE),
        ({"quantity_lots": 0}, Reason.BAD_QUANTITY),
        ({"quantity_lots": -3}, Reason.BAD_QUANTITY),
        ({"quantity_lots": MAX_LOTS + 1}, Reason.BAD_QUANTITY),
        ({"price_ticks": 0}, Reason.BAD_PRICE),
        ({"price_ticks": -1000}, Reason.BAD_PRICE),
        ({"price_ticks": MAX_PRICE_TICKS + 1}, Reason.BAD_PRICE),
        ({"order_type": OrderType.STOP_LIMIT, "trigger_ticks": 0}, Reason.BAD_TRIGGER),
        ({"order_type": OrderType.STOP_MARKET, "trigger_ticks": -2}, Reason.BAD_TRIGGER),
        ({"order_id": 1}, Reason.DUPLICATE_ORDER_ID),
        ({"order_id": 3}, Reason.DUPLICATE_ORDER_ID),  # a pending stop is live too
    ],
)
def test_bad_submit_is_rejected_with_its_reason_and_changes_nothing(engine, kwargs, reason):
    before = _book(engine)
    order = {"order_id": 10, "owner": 9, "side": BUY, "quantity_lots": 1, "price_ticks": 1005} | kwargs
    events = engine.submit(**order)
    assert len(events) == 1 and isinstance(events[0], Rejected)
    assert events[0].reason is reason
    assert _book(engine) == before
    assert engine.verify() == []


def test_reject_echoes_the_command_fields(engine):
    (event,) = engine.submit(10, 9, BUY, -3, 1005, ts=77)
    assert (event.order_id, event.owner, event.side, event.price_ticks, event.lots, event.ts) == (
        10,
        9,
        BUY,
        1005,
        -3,
        77,
    )


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"order_id": 99}, Reason.UNKNOWN_ORDER),
        ({"owner": 2}, Reason.UNKNOWN_ORDER),
        ({"quantity_lots": 0}, Reason.BAD_QUANTITY),
        ({"quantity_lots": -1}, Reason.BAD_QUANTITY),
        ({"price_ticks": -1}, Reason.BAD_PRICE),
        ({"price_ticks": MAX_PRICE_TICKS + 1}, Reason.BAD_PRICE),
    ],
)
def test_bad_amend_is_rejected_and_changes_nothing(engine, kwargs, reason):
    before = _book(engine)
    (event,) = engine.amend(**({"order_id": 1, "owner": 1, "quantity_lots": 4} | kwargs))
    assert event.reason is reason
    assert _book(engine) == before


def test_bad_trigger_on_a_stop_amend_is_rejected(engine):
    (event,) = engine.amend(3, 3, 1, trigger_ticks=-4)
    assert event.reason is Reason.BAD_TRIGGER


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("up", 1000, 5), Reason.BAD_SIDE),
        ((BUY, 0, 5), Reason.BAD_PRICE),
        ((BUY, -7, 5), Reason.BAD_PRICE),
        ((BUY, 1000, -1), Reason.BAD_QUANTITY),
    ],
)
def test_bad_set_level_is_rejected(engine, args, reason):
    before = _book(engine)
    (event,) = engine.set_level(*args)
    assert event.reason is reason
    assert _book(engine) == before


def test_order_too_far_from_the_book_for_the_ladder_is_rejected_bad_price():
    engine = MatchingEngine(make_instrument(), initial_levels=16, max_levels=1024)
    engine.submit(1, 1, BUY, 1, 100_000)
    (event,) = engine.submit(2, 1, SELL, 1, 100_000 + 5_000)
    assert event.reason is Reason.BAD_PRICE
    # An IOC never rests, so it may carry any price.
    assert [type(e).__name__ for e in engine.submit(3, 1, SELL, 1, 100_000 + 5_000, time_in_force=TimeInForce.IOC)] == [
        "Accepted",
        "Cancelled",
    ]
    assert engine.verify() == []


def test_zeroed_or_unknown_command_rows_are_rejected_bad_command():
    engine = make_engine()
    cmds = new_commands(2)
    cmds[1]["kind"] = 99
    events = engine.process_batch(cmds)
    assert events["kind"].tolist() == [EventKind.REJECTED] * 2
    assert events["reason"].tolist() == [Reason.BAD_COMMAND] * 2


def test_batch_with_every_kind_of_bad_row_never_raises_and_keeps_the_book_consistent():
    engine = make_engine()
    rng = np.random.default_rng(3)
    cmds = new_commands(5_000)
    for name in cmds.dtype.names:
        cmds[name] = rng.integers(-3, 8, len(cmds))
    cmds["kind"] = rng.integers(0, 6, len(cmds))
    cmds["price_ticks"] = rng.integers(-5, 40, len(cmds))
    cmds["trigger_ticks"] = rng.integers(-5, 40, len(cmds))
    engine.process_batch(cmds)
    assert engine.verify() == []


def test_non_integer_fields_raise_type_error_at_the_python_edge():
    engine = make_engine()
    with pytest.raises(TypeError, match="lots: expected an int"):
        engine.submit(1, 1, BUY, 1.5, 1000)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="COMMAND_DTYPE"):
        engine.process_batch(np.zeros(3, np.int64))
    assert engine.open_orders() == []


def test_command_kinds_are_stable_codes():
    assert [int(c) for c in CommandKind] == [1, 2, 3, 4]
