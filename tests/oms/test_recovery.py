"""Recovery from the journal: exact state, the kill-switch latch across restarts, torn tails, random histories."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jtrader.bus.messages import (
    AmendOrder,
    CancelOrder,
    ControlRequest,
    ExecutionReport,
    MassCancel,
    RejectReason,
    RequestKind,
    VenueAck,
    VenueAmended,
    VenueCancelled,
    VenueExpired,
    VenueOrderState,
    VenueReject,
    VenueSnapshot,
)
from jtrader.domain import OrderStatus, OrderType, Side, TimeInForce
from jtrader.oms import NS_PER_DAY, OmsConfig
from jtrader.risk import LimitSet, RiskLimits
from tests.oms.builders import (
    CLIENT,
    INVERSE,
    LINEAR,
    SPOT,
    T0,
    Clock,
    fill,
    make_fill,
    make_oms,
    place,
    quote,
    recover,
    rejection,
    replay_everything,
    submit,
    to_client,
    to_venue,
)

LOSS = RiskLimits(daily_loss_limit=Decimal(100))


def test_recovered_oms_equals_the_live_one(tmp_path):
    path = tmp_path / "oms.journal"
    oms = make_oms(journal=path)
    place(oms, "a", lots=5)
    place(oms, "b", lots=7, instrument=INVERSE, side=Side.SELL, price=600_100)
    oms.on_venue_event(fill("a", 2, fee="0.5"))
    oms.on_command(AmendOrder(client_order_id="b", quantity_lots=9), CLIENT)
    oms.on_command(CancelOrder(client_order_id="a"), CLIENT)
    oms.apply_funding(LINEAR.id, Decimal("0.0001"), 600_000)
    oms.journal.flush()
    restarted = recover(path)
    assert restarted.snapshot() == oms.snapshot()
    assert restarted.state_digest() == oms.state_digest()
    assert restarted.recovery.records > 0 and restarted.recovery.ignored_bytes == 0
    assert restarted.snapshot().pending["a"].cancel and restarted.snapshot().pending["b"].amend_quantity_lots == 9


def test_kill_switch_latch_survives_restarts_until_reset(tmp_path):
    path = tmp_path / "oms.journal"
    oms = make_oms(LOSS, journal=path)
    place(oms, "long", lots=1000)
    oms.on_venue_event(fill("long", 1000))
    oms.on_market_data(quote(LINEAR.id, 598_000, 598_020))  # -199 USDT: trips
    assert oms.risk.killed
    oms.journal.close()

    restarted = recover(path, LOSS)  # no market data yet: the latch alone comes from the journal
    assert restarted.risk.killed and "daily loss limit" in restarted.risk.kill_reason
    out = restarted.on_command(submit("after", lots=1), CLIENT)
    assert rejection(out).reason is RejectReason.KILL_SWITCH
    restarted.on_command(ControlRequest(command="reset", operator="alice"), b"ops")
    assert not restarted.risk.killed
    restarted.journal.close()

    again = recover(path, LOSS)
    assert not again.risk.killed
    again.on_market_data(quote(LINEAR.id, 599_990, 600_010))  # back at the entry: no loss today
    assert not again.risk.killed
    assert to_venue(again.on_command(submit("later", lots=1, side=Side.SELL, price=600_100), CLIENT))
    assert again.snapshot().killed is False


def test_operator_kill_survives_a_restart(tmp_path):
    path = tmp_path / "oms.journal"
    oms = make_oms(journal=path)
    oms.on_command(ControlRequest(command="kill", args={"reason": "venue outage"}), b"ops")
    oms.journal.close()
    restarted = recover(path)
    assert restarted.risk.killed and restarted.risk.kill_reason == "venue outage"


def test_rebase_on_reset_survives_a_restart(tmp_path):
    path = tmp_path / "oms.journal"
    oms = make_oms(LOSS, journal=path)
    place(oms, "long", lots=1000)
    oms.on_venue_event(fill("long", 1000, fee="150"))  # -150 today: trips at once
    assert oms.risk.killed
    oms.on_command(ControlRequest(command="reset", args={"rebase": "1"}), b"ops")
    assert not oms.risk.killed and oms.risk.day_pnl == 0
    oms.journal.close()
    restarted = recover(path, LOSS)
    assert restarted.risk.day_baseline == oms.risk.day_baseline and not restarted.risk.killed


def test_torn_last_record_recovers_the_state_before_it(tmp_path):
    path = tmp_path / "oms.journal"
    oms = make_oms(journal=path)
    place(oms, "a", lots=5)
    oms.on_venue_event(fill("a", 1, trade_id="t1"))
    oms.journal.flush()
    before = oms.snapshot()
    start = path.stat().st_size
    oms.on_venue_event(fill("a", 2, trade_id="t2"))  # exactly one record
    oms.journal.flush()
    after = oms.snapshot()
    data = path.read_bytes()
    assert len(data) > start
    for cut in range(start, len(data) + 1):
        torn = tmp_path / f"torn-{cut}"
        torn.write_bytes(data[:cut])
        restarted = recover(torn)
        expected = after if cut == len(data) else before
        assert restarted.snapshot() == expected, cut
        assert restarted.recovery.ignored_bytes == (0 if cut == len(data) else cut - start)
        assert torn.stat().st_size == (len(data) if cut == len(data) else start)


def test_recovered_oms_keeps_journaling_to_the_same_file(tmp_path):
    path = tmp_path / "oms.journal"
    oms = make_oms(journal=path)
    place(oms, "a", lots=5)
    oms.journal.close()
    first = recover(path)
    first.on_venue_event(fill("a", 5))
    first.journal.close()
    second = recover(path)
    assert second.order("a").status is OrderStatus.FILLED
    assert second.snapshot() == first.snapshot()


def test_resubmitting_after_a_restart_creates_no_second_order(tmp_path):
    path = tmp_path / "oms.journal"
    oms = make_oms(journal=path)
    place(oms, "a", lots=5)
    oms.journal.close()
    restarted = recover(path)
    restarted.on_market_data(quote(LINEAR.id, 599_990, 600_010))
    out = restarted.on_command(submit("a", lots=5), CLIENT)
    assert to_venue(out) == [] and isinstance(to_client(out)[0], ExecutionReport)


def test_recovery_restores_risk_aggregates_so_limits_still_hold(tmp_path):
    path = tmp_path / "oms.journal"
    limits = RiskLimits(portfolio=LimitSet(max_position={str(LINEAR.id): Decimal("0.005")}))
    oms = make_oms(limits, journal=path)
    place(oms, "a", lots=3)
    oms.on_venue_event(fill("a", 2))
    oms.journal.close()
    restarted = recover(path, limits)
    restarted.on_market_data(quote(LINEAR.id, 599_990, 600_010))
    assert to_venue(restarted.on_command(submit("b", lots=2), CLIENT))  # 2 filled + 1 open + 2 = 5: at the limit
    assert rejection(restarted.on_command(submit("c", lots=1), CLIENT)).reason is RejectReason.MAX_POSITION


# -- random histories -----------------------------------------------------------------------------

CIDS = [f"c{i}" for i in range(6)]
INSTRUMENTS = [LINEAR, INVERSE, SPOT]
PRICES = {LINEAR.id: 600_000, INVERSE.id: 600_000, SPOT.id: 300_000}

cid = st.sampled_from(CIDS)
instrument = st.sampled_from(INSTRUMENTS)
lots = st.integers(1, 6)


@st.composite
def submits(draw):
    inst = draw(instrument)
    order_type = draw(st.sampled_from([OrderType.LIMIT, OrderType.LIMIT, OrderType.MARKET]))
    step = 10 if inst is SPOT else 1
    return (
        "submit",
        submit(
            draw(cid),
            side=draw(st.sampled_from(list(Side))),
            lots=draw(lots) * step,
            price=PRICES[inst.id] + draw(st.integers(-300, 300)),
            instrument=inst,
            order_type=order_type,
            tif=TimeInForce.IOC
            if order_type is OrderType.MARKET
            else draw(st.sampled_from([TimeInForce.GTC, TimeInForce.IOC])),
            strategy=draw(st.sampled_from(["s1", "s2"])),
            reduce_only=draw(st.booleans()),
        ),
        draw(st.sampled_from([CLIENT, b"host-2"])),
    )


@st.composite
def venue_fills(draw):
    inst = draw(instrument)
    return (
        "venue",
        fill(
            draw(cid),
            draw(lots) * (10 if inst is SPOT else 1),
            price=PRICES[inst.id] + draw(st.integers(-500, 500)),
            trade_id=f"t{draw(st.integers(0, 12))}",
            side=draw(st.sampled_from(list(Side))),
            instrument=inst,
            fee=draw(st.sampled_from(["0", "0.01", "-0.002"])),
            ts=T0 + draw(st.integers(-3, 3)) * 1_000_000,  # venues report fills out of execution order too
        ),
    )


def snapshot_state(draw):
    open_orders = [
        VenueOrderState(
            client_order_id=draw(cid),
            venue_order_id="v",
            instrument_id=LINEAR.id,
            side=Side.BUY,
            quantity_lots=draw(lots),
            filled_lots=0,
            price_ticks=600_000,
            status=OrderStatus.ACKED,
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    fills = [
        make_fill(draw(cid), draw(lots), trade_id=f"t{draw(st.integers(0, 12))}")
        for _ in range(draw(st.integers(0, 2)))
    ]
    balances = {"USDT": Decimal(draw(st.integers(0, 3)))} if draw(st.booleans()) else {}
    return VenueSnapshot(open_orders=open_orders, fills=fills, balances=balances)


# Events aimed at an existing order: ("order", index, what, lots, trade id, price offset), resolved at run time.
TARGETED = ["ack", "fill", "fill", "cancelled", "expired", "reject", "reject_cancel", "amended", "cancel", "amend"]


def targeted(what: str) -> st.SearchStrategy:
    # One strategy object per use: Hypothesis merges identical alternatives of one_of.
    return st.tuples(
        st.just("order"),
        st.integers(0, 3),
        st.just(what),
        st.integers(1, 3),
        st.integers(0, 12),
        st.integers(-300, 300),
    )


operation = st.one_of(
    submits(),
    submits(),
    submits(),
    *[targeted(what) for what in TARGETED],
    st.tuples(st.just("command"), st.builds(CancelOrder, client_order_id=cid), st.just(CLIENT)),
    st.tuples(st.just("command"), st.builds(MassCancel, strategy_id=st.sampled_from(["", "s1"])), st.just(CLIENT)),
    st.tuples(
        st.just("command"),
        st.builds(ControlRequest, command=st.sampled_from(["kill", "reset", "flatten", "status"])),
        st.just(b"ops"),
    ),
    st.tuples(st.just("disconnect"), st.sampled_from([CLIENT, b"host-2"])),
    venue_fills(),
    st.tuples(
        st.just("venue"),
        st.builds(
            VenueAmended,
            client_order_id=cid,
            quantity_lots=st.integers(1, 6),
            price_ticks=st.none() | st.integers(599_000, 601_000),
        ),
    ),
    st.tuples(st.just("quote"), instrument, st.integers(-3000, 3000)),
    st.tuples(st.just("funding"), instrument, st.sampled_from([Decimal("0.0001"), Decimal("-0.00025")])),
    st.tuples(st.just("time"), st.sampled_from([1, 1_000_000, 2_000_000_000, NS_PER_DAY // 3])),
    st.tuples(st.just("reconcile"), st.composite(lambda draw: snapshot_state(draw))()),
    st.tuples(st.just("checkpoint")),
)


def run_targeted(oms, op):
    """Apply an event aimed at the index-th known order (in id order); nothing if there is none."""
    _, index, what, lots, trade, offset = op
    orders = oms.snapshot().orders
    if not orders:
        return
    order = orders[index % len(orders)]
    cid = order.client_order_id
    step = 10 if order.instrument_id == SPOT.id else 1
    if what == "ack":
        oms.on_venue_event(VenueAck(client_order_id=cid, venue_order_id=f"v-{cid}"))
    elif what == "fill":
        price = (order.price_ticks or PRICES[order.instrument_id]) + offset
        oms.on_venue_event(
            fill(
                cid,
                lots * step,
                price=price,
                trade_id=f"t{trade}",
                side=order.side,
                instrument={i.id: i for i in INSTRUMENTS}[order.instrument_id],
                fee="0.01",
            )
        )
    elif what == "cancelled":
        oms.on_venue_event(VenueCancelled(client_order_id=cid))
    elif what == "expired":
        oms.on_venue_event(VenueExpired(client_order_id=cid))
    elif what == "reject":
        oms.on_venue_event(VenueReject(client_order_id=cid, reason=RejectReason.VENUE_REJECT))
    elif what == "reject_cancel":
        oms.on_venue_event(
            VenueReject(
                client_order_id=cid,
                reason=RejectReason.VENUE_REJECT,
                request=RequestKind.CANCEL if trade % 2 else RequestKind.AMEND,
            )
        )
    elif what == "amended":
        oms.on_venue_event(
            VenueAmended(
                client_order_id=cid,
                quantity_lots=lots * step,
                price_ticks=None if order.price_ticks is None else order.price_ticks + offset,
            )
        )
    elif what == "cancel":
        oms.on_command(CancelOrder(client_order_id=cid), CLIENT)
    else:
        oms.on_command(
            AmendOrder(
                client_order_id=cid,
                quantity_lots=order.filled_lots + lots * step,
                price_ticks=None if order.order_type is OrderType.MARKET else (order.price_ticks or 0) + offset,
            ),
            CLIENT,
        )


LIMITS = RiskLimits(
    portfolio=LimitSet(max_position={str(LINEAR.id): Decimal("0.008")}, max_gross_exposure=Decimal(2_000_000)),
    default_strategy=LimitSet(max_orders_per_window=6),
    daily_loss_limit=Decimal(3),
    price_band_bps=40,
    duplicate_window_ns=5_000_000,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=5, max_size=60), st.booleans())
def test_recovery_equals_live_state_after_any_history_and_checkpoints(operations, resubmit_lost):
    clock = Clock()
    # every segment kept: the state from checkpoints is also compared with a replay of everything
    config = OmsConfig(lost_order_policy="resubmit" if resubmit_lost else "reject", journal_keep_segments=1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "oms.journal"
        oms = make_oms(LIMITS, clock=clock, journal=path, config=config)
        for op in operations:
            kind = op[0]
            if kind in ("submit", "command"):
                oms.on_command(op[1], op[2])
            elif kind == "disconnect":
                oms.on_client_disconnected(op[1])
            elif kind == "venue":
                oms.on_venue_event(op[1])
            elif kind == "order":
                run_targeted(oms, op)
            elif kind == "quote":
                mid = PRICES[op[1].id] + op[2]
                oms.on_market_data(quote(op[1].id, mid - 10, mid + 10, ts=clock.now))
            elif kind == "funding":
                oms.apply_funding(op[1].id, op[2], PRICES[op[1].id])
            elif kind == "time":
                oms.on_timer(clock.advance(op[1]))
            elif kind == "reconcile":
                oms.reconcile(op[1], LINEAR.id.venue)
            elif kind == "checkpoint":
                oms.checkpoint()
            if len(operations) % 3 == 0:
                oms.journal.flush()  # flush points must not matter
        oms.journal.close()
        restarted = recover(path, LIMITS, clock=Clock(clock.now), config=config)
        assert restarted.snapshot() == oms.snapshot() == replay_everything(path, LIMITS).snapshot()
        # and the restarted process journals on: a second restart agrees too
        restarted.on_venue_event(fill("c0", 1, trade_id="after-restart"))
        restarted.journal.close()
        assert recover(path, LIMITS, config=config).snapshot() == restarted.snapshot()


def test_journal_with_an_instrument_the_registry_lacks_is_refused_with_advice(tmp_path):
    import pytest

    from jtrader.domain import InstrumentRegistry
    from jtrader.oms import OmsEngine, RecoveryError
    from jtrader.risk import RiskEngine

    path = tmp_path / "oms.journal"
    oms = make_oms(journal=path)
    place(oms, "spot", lots=10, instrument=SPOT, price=300_000)
    oms.journal.close()
    smaller = InstrumentRegistry([LINEAR, INVERSE])
    with pytest.raises(RecoveryError, match="start with the instruments that wrote the journal"):
        OmsEngine.from_journal(path, smaller, RiskEngine(RiskLimits(), smaller), Clock(), "acct-1")
