"""The compiled kernel against the plain-Python ReferenceBook on random command sequences.

Same events, field for field, after every command; the same book (levels,
anonymous sizes, live orders, queue positions, last trade); the kernel's own
structures consistent (``verify``). Prices cluster so orders cross, rest,
trigger and amend often; ids are few so duplicates and unknown ids happen;
the engine starts with a tiny ladder and pool so growth and recentring happen.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from jtrader.domain import Side
from jtrader.matching import COMMAND_DTYPE, MatchingEngine, ReferenceBook, new_commands
from jtrader.matching import _core as k
from jtrader.matching.messages import ORDER_TYPE_TO_CODE, SIDE_TO_CODE, TIF_TO_CODE, OrderView
from tests.matching.builders import make_instrument

_INSTRUMENT = make_instrument()


@st.composite
def commands(draw: st.DrawFn) -> tuple[int, ...]:
    kind = draw(
        st.sampled_from([k.CMD_SUBMIT] * 5 + [k.CMD_CANCEL] * 2 + [k.CMD_AMEND] * 2 + [k.CMD_SET_LEVEL] * 2 + [0])
    )
    oid = draw(st.integers(1, 12) | st.sampled_from([0, -1]))
    owner = oid % 3 + 1 if draw(st.integers(0, 9)) else draw(st.integers(1, 3))
    side = draw(st.sampled_from([k.BUY, k.SELL] * 8 + [0, 3]))
    order_type = draw(st.sampled_from([k.LIMIT] * 6 + [k.MARKET, k.MARKET, k.STOP_MARKET, k.STOP_LIMIT, 0]))
    tif = draw(st.sampled_from([k.GTC] * 5 + [k.IOC, k.FOK, k.POST_ONLY, 0]))
    near = st.integers(95, 105)
    price = draw(near | st.sampled_from([0, -1, 40, 400]) if kind != k.CMD_AMEND else near | st.just(0))
    trigger = draw(near | st.sampled_from([0, -2]))
    lots = draw(st.integers(1, 6) | st.sampled_from([0, -1, k.MAX_LOTS + 1]))
    if kind == k.CMD_SET_LEVEL:
        lots = draw(st.integers(0, 9))
    ts = draw(st.integers(0, 2**40))
    return (kind, ts, oid, owner, side, order_type, tif, price, trigger, lots)


def _as_row(view: OrderView) -> tuple[int, ...]:
    return (
        view.order_id,
        view.owner,
        int(SIDE_TO_CODE[view.side]),
        int(ORDER_TYPE_TO_CODE[view.order_type]),
        int(TIF_TO_CODE[view.time_in_force]),
        view.price_ticks,
        view.trigger_ticks,
        view.leaves_lots,
        view.filled_lots,
        int(view.pending_stop),
        view.lots_ahead,
    )


def _batch(rows: list[tuple[int, ...]]) -> np.ndarray:
    cmds = new_commands(len(rows))
    for i, row in enumerate(rows):
        cmds[i] = row
    return cmds


_SIDES = st.sampled_from([k.BUY, k.SELL] * 10 + [0])
_TYPES = st.sampled_from([k.LIMIT] * 6 + [k.MARKET] * 2 + [k.STOP_MARKET] * 2 + [k.STOP_LIMIT] * 2 + [9])
_TIFS = st.sampled_from([k.GTC] * 6 + [k.IOC, k.FOK, k.POST_ONLY, 0])
_NEAR = st.integers(99, 101)
_PRICES = st.one_of(_NEAR, _NEAR, _NEAR, st.integers(94, 106), st.sampled_from([0, -1, 3, 300]))
_LOTS = st.integers(1, 5) | st.sampled_from([0, -1, k.MAX_LOTS + 1])


class EngineAgainstReference(RuleBasedStateMachine):
    """Drive both books with the same commands; after each, compare events, book and invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = MatchingEngine(_INSTRUMENT, initial_levels=4, initial_orders=2)
        self.reference = ReferenceBook()
        self.next_id = 1
        self.ts = 0

    def _apply(self, row: tuple[int, ...]) -> None:
        self.ts += 1
        row = (row[0], self.ts, *row[2:])
        got = [tuple(e) for e in self.engine.process_batch(_batch([row])).tolist()]
        assert got == self.reference.apply(row), row

    def _live(self, data: st.DataObject) -> tuple[int, int]:
        """A live order's (id, owner), or now and then an unknown id or the wrong owner."""
        live = sorted((e.order_id, e.owner) for e in self.reference.live.values())
        if not live or data.draw(st.integers(0, 9)) == 0:
            return data.draw(st.integers(-1, self.next_id + 1)), data.draw(st.integers(1, 3))
        return data.draw(st.sampled_from(live))

    @rule(
        data=st.data(),
        owner=st.integers(1, 3),
        side=_SIDES,
        order_type=_TYPES,
        tif=_TIFS,
        price=_PRICES,
        trigger=_PRICES,
        lots=_LOTS,
    )
    def submit(self, data, owner, side, order_type, tif, price, trigger, lots):
        if self.reference.live and data.draw(st.integers(0, 19)) == 0:
            oid = data.draw(st.sampled_from(sorted(self.reference.live)))  # duplicate
        else:
            oid, self.next_id = self.next_id, self.next_id + 1
        self._apply((k.CMD_SUBMIT, 0, oid, owner, side, order_type, tif, price, trigger, lots))

    @rule(data=st.data(), owner=st.integers(1, 3), lots=st.integers(1, 5), tif=st.sampled_from([k.GTC, k.POST_ONLY]))
    def join_a_level(self, data, owner, lots, tif):
        """Queue behind whatever rests at an existing level (ours or replayed)."""
        levels = [(side, price) for side in (k.BUY, k.SELL) for price, _, _ in self.reference.levels(side)]
        if levels:
            side, price = data.draw(st.sampled_from(levels))
            oid, self.next_id = self.next_id, self.next_id + 1
            self._apply((k.CMD_SUBMIT, 0, oid, owner, side, k.LIMIT, tif, price, 0, lots))

    @rule(data=st.data())
    def cancel(self, data):
        oid, owner = self._live(data)
        self._apply((k.CMD_CANCEL, 0, oid, owner, 0, 0, 0, 0, 0, 0))

    @rule(data=st.data(), price=st.just(0) | _PRICES, trigger=st.just(0) | _PRICES)
    def amend(self, data, price, trigger):
        oid, owner = self._live(data)
        entry = self.reference.live.get(oid)
        total = entry.filled + entry.leaves if entry else 5
        qty = data.draw(st.sampled_from([total, total, total - 1, total + 1, total - 2, 0, -1]))
        if entry and data.draw(st.booleans()):
            price = entry.price  # same price, explicitly
        self._apply((k.CMD_AMEND, 0, oid, owner, 0, 0, 0, price, trigger, qty))

    @rule(side=_SIDES, price=_PRICES, lots=st.integers(0, 9) | st.just(-1))
    def set_level(self, side, price, lots):
        self._apply((k.CMD_SET_LEVEL, 0, 0, 0, side, 0, 0, price, 0, lots))

    @rule(data=st.data(), lots=st.integers(0, 9))
    def set_level_where_we_rest(self, data, lots):
        resting = sorted((e.side, e.price) for e in self.reference.live.values() if not e.pending)
        if resting:
            side, price = data.draw(st.sampled_from(resting))
            self._apply((k.CMD_SET_LEVEL, 0, 0, 0, side, 0, 0, price, 0, lots))

    @rule(kind=st.sampled_from([0, 5, -1]))
    def bad_command(self, kind):
        self._apply((kind, 0, 1, 1, k.BUY, k.LIMIT, k.GTC, 100, 0, 1))

    @invariant()
    def same_book(self):
        assert self.engine.levels(Side.BUY) == self.reference.levels(k.BUY)
        assert self.engine.levels(Side.SELL) == self.reference.levels(k.SELL)
        assert [_as_row(v) for v in self.engine.open_orders()] == self.reference.open_orders()
        assert (self.engine.last_trade_ticks or 0) == self.reference.last
        assert self.engine.verify() == []


EngineAgainstReference.TestCase.settings = settings(
    max_examples=250, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_compiled_engine_matches_the_reference_book_command_for_command = EngineAgainstReference.TestCase


@settings(max_examples=60, deadline=None)
@given(st.lists(commands(), min_size=1, max_size=120))
def test_one_batch_gives_the_same_events_as_one_command_at_a_time(rows):
    whole = MatchingEngine(_INSTRUMENT, initial_levels=4, initial_orders=2).process_batch(_batch(rows))
    one_by_one = MatchingEngine(_INSTRUMENT, initial_levels=4, initial_orders=2)
    pieces = [one_by_one.process_batch(_batch([row])) for row in rows]
    assert whole.tolist() == np.concatenate(pieces).tolist()
    assert [tuple(e) for e in whole.tolist()] == ReferenceBook().process_batch(_batch(rows))


def test_same_commands_give_identical_events_every_time():
    from bench.matching import make_mix

    cmds = make_mix(20_000, seed=11)
    runs = [MatchingEngine(_INSTRUMENT).process_batch(cmds) for _ in range(2)]
    assert runs[0].dtype.names == runs[1].dtype.names
    assert np.array_equal(runs[0].view(np.int64), runs[1].view(np.int64))


def test_benchmark_mix_matches_the_reference_book():
    from bench.matching import make_mix

    cmds = make_mix(5_000, seed=5)
    assert cmds.dtype == COMMAND_DTYPE
    got = [tuple(e) for e in MatchingEngine(_INSTRUMENT, initial_levels=8).process_batch(cmds).tolist()]
    assert got == ReferenceBook().process_batch(cmds)


def test_per_call_events_decode_the_same_rows_as_the_batch():
    from bench.matching import make_mix

    cmds = make_mix(500, seed=2)
    batch_engine = MatchingEngine(_INSTRUMENT)
    decoded = batch_engine.decode(batch_engine.process_batch(cmds))
    call_engine = MatchingEngine(_INSTRUMENT)
    called = []
    for row in cmds.tolist():
        called.extend(call_engine.decode(call_engine.process_batch(_batch([row]))))
    assert decoded == called
