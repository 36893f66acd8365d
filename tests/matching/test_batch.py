"""The batch entry point used by the backtester and the benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from jtrader.matching import EVENT_DTYPE, CommandKind, EventKind, Filled, OrderTypeCode, SideCode, TimeInForceCode
from jtrader.matching import new_commands as commands
from tests.matching.builders import make_engine


def _orders(n: int) -> np.ndarray:
    """``n`` alternating sells and crossing buys at one price: every buy fills the sell before it."""
    cmds = commands(n)
    cmds["kind"] = CommandKind.SUBMIT
    cmds["ts"] = np.arange(n) * 10
    cmds["order_id"] = np.arange(1, n + 1)
    cmds["owner"] = 1
    cmds["side"] = np.where(np.arange(n) % 2, SideCode.BUY, SideCode.SELL)
    cmds["order_type"] = OrderTypeCode.LIMIT
    cmds["time_in_force"] = TimeInForceCode.GTC
    cmds["price_ticks"] = 1000
    cmds["lots"] = 2
    return cmds


def test_batch_events_carry_the_command_sequence_and_ts():
    events = make_engine().process_batch(_orders(4))
    assert events.dtype == EVENT_DTYPE
    assert events["kind"].tolist() == [EventKind.ACCEPTED, EventKind.ACCEPTED, EventKind.FILL, EventKind.FILL] * 2
    assert events["command"].tolist() == [0, 1, 1, 1, 2, 3, 3, 3]
    assert events["ts"].tolist() == [0, 10, 10, 10, 20, 30, 30, 30]


def test_reused_out_buffer_gives_the_same_events_and_grows_when_too_small():
    cmds = _orders(1_000)
    expected = make_engine().process_batch(cmds)
    engine = make_engine()
    out = np.zeros(8, EVENT_DTYPE)  # far too small: the kernel grows its own copy
    got = np.concatenate([engine.process_batch(cmds[i : i + 100], out=out).copy() for i in range(0, 1_000, 100)])
    assert np.array_equal(got, expected)


def test_out_buffer_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="out"):
        make_engine().process_batch(_orders(2), out=np.zeros(10, np.int64))


def test_decode_adds_exact_fees_and_domain_enums():
    engine = make_engine()
    decoded = engine.decode(engine.process_batch(_orders(2)))
    fills = [e for e in decoded if isinstance(e, Filled)]
    assert [(f.liquidity.value, f.side.value, f.fee) for f in fills] == [("taker", "buy", 0), ("maker", "sell", 0)]
