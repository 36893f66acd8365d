"""The order state machine: every transition, late/duplicate/out-of-order reports, ids, amend, cancels."""

from __future__ import annotations

import msgspec
import pytest

from jtrader.bus.messages import (
    AmendOrder,
    CancelOrder,
    ExecutionReport,
    MassCancel,
    OrderRejected,
    RejectReason,
    RequestKind,
    VenueAmend,
    VenueAmended,
    VenueCancel,
    VenueExpired,
    VenueSubmit,
)
from jtrader.domain import InstrumentId, OrderStatus, OrderType, TimeInForce, Venue
from jtrader.oms import TOPIC_EXECUTION, TOPIC_POSITION, OmsConfig
from tests.oms.builders import (
    CLIENT,
    INVERSE,
    LINEAR,
    SPOT,
    ack,
    cancelled,
    fill,
    make_oms,
    place,
    published,
    rejection,
    submit,
    to_client,
    to_venue,
    venue_reject,
)

S = OrderStatus
QTY = 3

# How to bring a fresh order (3 lots) into each starting state.
SETUP = {
    S.NEW: [],
    S.ACKED: [ack("o")],
    S.PARTIALLY_FILLED: [ack("o"), fill("o", 1, trade_id="t0")],
    S.FILLED: [ack("o"), fill("o", 3, trade_id="t0")],
    S.CANCELLED: [ack("o"), cancelled("o")],
    S.REJECTED: [venue_reject("o")],
    S.EXPIRED: [ack("o"), VenueExpired(client_order_id="o")],
}
EVENTS = {
    "ack": lambda: ack("o"),
    "fill_one": lambda: fill("o", 1, trade_id="t1"),
    "fill_two": lambda: fill("o", 2, trade_id="t2"),
    "fill_three": lambda: fill("o", 3, trade_id="t3"),
    "cancelled": lambda: cancelled("o"),
    "expired": lambda: VenueExpired(client_order_id="o"),
    "reject": lambda: venue_reject("o"),
}
# (start, event) -> (status, filled lots). Terminal states never reopen; fills always count; a fill
# that completes the quantity makes any order filled; a fill beyond it raises the quantity.
TABLE = {
    (S.NEW, "ack"): (S.ACKED, 0),
    (S.NEW, "fill_one"): (S.PARTIALLY_FILLED, 1),  # fill before ack
    (S.NEW, "fill_three"): (S.FILLED, 3),
    (S.NEW, "cancelled"): (S.CANCELLED, 0),  # cancelled before ack
    (S.NEW, "expired"): (S.EXPIRED, 0),
    (S.NEW, "reject"): (S.REJECTED, 0),
    (S.ACKED, "ack"): (S.ACKED, 0),  # duplicate ack
    (S.ACKED, "fill_one"): (S.PARTIALLY_FILLED, 1),
    (S.ACKED, "fill_three"): (S.FILLED, 3),
    (S.ACKED, "cancelled"): (S.CANCELLED, 0),
    (S.ACKED, "expired"): (S.EXPIRED, 0),
    (S.ACKED, "reject"): (S.REJECTED, 0),
    (S.PARTIALLY_FILLED, "ack"): (S.PARTIALLY_FILLED, 1),
    (S.PARTIALLY_FILLED, "fill_one"): (S.PARTIALLY_FILLED, 2),
    (S.PARTIALLY_FILLED, "fill_two"): (S.FILLED, 3),
    (S.PARTIALLY_FILLED, "cancelled"): (S.CANCELLED, 1),
    (S.PARTIALLY_FILLED, "expired"): (S.EXPIRED, 1),
    (S.PARTIALLY_FILLED, "reject"): (S.CANCELLED, 1),  # a reject after fills can only mean the rest is gone
    (S.FILLED, "ack"): (S.FILLED, 3),
    (S.FILLED, "fill_one"): (S.FILLED, 4),  # overfill: quantity raised to 4
    (S.FILLED, "cancelled"): (S.FILLED, 3),
    (S.FILLED, "expired"): (S.FILLED, 3),
    (S.FILLED, "reject"): (S.FILLED, 3),
    (S.CANCELLED, "ack"): (S.CANCELLED, 0),
    (S.CANCELLED, "fill_one"): (S.CANCELLED, 1),  # late fill
    (S.CANCELLED, "fill_three"): (S.FILLED, 3),  # the cancel lost the race entirely
    (S.CANCELLED, "cancelled"): (S.CANCELLED, 0),
    (S.CANCELLED, "expired"): (S.CANCELLED, 0),
    (S.CANCELLED, "reject"): (S.CANCELLED, 0),
    (S.REJECTED, "ack"): (S.REJECTED, 0),
    (S.REJECTED, "fill_one"): (S.REJECTED, 1),
    (S.REJECTED, "fill_three"): (S.FILLED, 3),
    (S.REJECTED, "cancelled"): (S.REJECTED, 0),
    (S.REJECTED, "expired"): (S.REJECTED, 0),
    (S.REJECTED, "reject"): (S.REJECTED, 0),
    (S.EXPIRED, "ack"): (S.EXPIRED, 0),
    (S.EXPIRED, "fill_one"): (S.EXPIRED, 1),
    (S.EXPIRED, "fill_three"): (S.FILLED, 3),
    (S.EXPIRED, "cancelled"): (S.EXPIRED, 0),
    (S.EXPIRED, "expired"): (S.EXPIRED, 0),
    (S.EXPIRED, "reject"): (S.EXPIRED, 0),
}


def _open_lots_in_risk(oms):
    aggregates = {(scope, iid): (net, ob, os) for scope, iid, net, ob, os in oms.risk.state()["aggregates"]}
    return aggregates.get(("*portfolio*", str(LINEAR.id)), (0, 0, 0))


@pytest.mark.parametrize(("start", "event"), sorted(TABLE, key=str), ids=lambda v: str(v))
def test_transition_table(start, event):
    oms = make_oms()
    place(oms, "o", acked=False, lots=QTY)
    for setup_event in SETUP[start]:
        oms.on_venue_event(setup_event)
    assert oms.order("o").status is start
    filled_before = oms.order("o").filled_lots
    oms.on_venue_event(EVENTS[event]())
    order = oms.order("o")
    expected_status, expected_filled = TABLE[(start, event)]
    assert (order.status, order.filled_lots) == (expected_status, expected_filled)
    # The position always carries every fill, and risk's open lots always match the order.
    position = oms.position(LINEAR.id)
    assert (position.net_lots if position else 0) == expected_filled
    assert order.filled_lots <= order.quantity_lots
    net, open_buy, open_sell = _open_lots_in_risk(oms)
    assert (net, open_buy, open_sell) == (expected_filled, order.leaves_lots, 0)
    assert (order in oms.open_orders()) == order.is_open
    assert expected_filled >= filled_before


def test_every_status_pair_is_covered_by_the_table():
    starts = {start for start, _ in TABLE}
    assert starts == set(OrderStatus)


def test_fill_after_cancel_is_applied_and_position_updated():
    oms = make_oms()
    place(oms, "o", lots=3)
    out = oms.on_command(CancelOrder(client_order_id="o"), CLIENT)
    assert to_venue(out) == [VenueCancel(client_order_id="o", instrument_id=LINEAR.id, ts=out[0].command.ts)]
    oms.on_venue_event(cancelled("o"))
    out = oms.on_venue_event(fill("o", 2))
    order = oms.order("o")
    assert order.status is S.CANCELLED and order.filled_lots == 2
    assert oms.position(LINEAR.id).net_lots == 2
    report = to_client(out, CLIENT)[0]
    assert isinstance(report, ExecutionReport) and report.last_fill.size_lots == 2
    assert published(out, TOPIC_POSITION)[0].net_lots == 2
    assert oms.counters["late_fill"] == 1


def test_fill_while_cancel_is_pending_fills_the_order():
    oms = make_oms()
    place(oms, "o", lots=3)
    oms.on_command(CancelOrder(client_order_id="o"), CLIENT)
    oms.on_venue_event(fill("o", 3))
    assert oms.order("o").status is S.FILLED
    assert oms.snapshot().pending == {}  # the pending cancel died with the order
    oms.on_venue_event(venue_reject("o", RequestKind.CANCEL))  # "too late to cancel"
    assert oms.order("o").status is S.FILLED


def test_duplicate_fill_is_applied_once():
    oms = make_oms()
    place(oms, "o", lots=3)
    oms.on_venue_event(fill("o", 1, trade_id="t1"))
    out = oms.on_venue_event(fill("o", 1, trade_id="t1"))
    assert out == []
    assert oms.order("o").filled_lots == 1 and oms.position(LINEAR.id).net_lots == 1
    assert len(oms.fills()) == 1 and oms.counters["duplicate_fill"] == 1


def test_same_trade_id_on_another_instrument_is_a_different_fill():
    oms = make_oms()
    place(oms, "a", lots=3)
    place(oms, "b", lots=3, instrument=INVERSE, price=600_000)
    oms.on_venue_event(fill("a", 1, trade_id="t1"))
    oms.on_venue_event(fill("b", 1, trade_id="t1", instrument=INVERSE))
    assert len(oms.fills()) == 2


def test_duplicate_ack_is_ignored_without_a_report():
    oms = make_oms()
    place(oms, "o")
    assert oms.on_venue_event(ack("o")) == []
    assert oms.order("o").status is S.ACKED and oms.counters["duplicate_ack"] == 1


def test_ack_after_fill_keeps_the_fill_and_records_the_venue_id():
    oms = make_oms()
    place(oms, "o", acked=False, lots=3)
    oms.on_venue_event(fill("o", 1))
    oms.on_venue_event(ack("o"))
    order = oms.order("o")
    assert order.status is S.PARTIALLY_FILLED and order.venue_order_id == "v-o"


def test_ack_after_cancelled_does_not_reopen_the_order():
    oms = make_oms()
    place(oms, "o", acked=False)
    oms.on_venue_event(cancelled("o"))
    assert oms.on_venue_event(ack("o")) == []
    assert oms.order("o").status is S.CANCELLED and oms.order("o").venue_order_id == "v-o"


def test_ack_of_an_order_we_rejected_sends_a_cancel():
    oms = make_oms()
    place(oms, "o", acked=False)
    oms.on_venue_event(venue_reject("o"))
    out = oms.on_venue_event(ack("o"))
    assert [type(c) for c in to_venue(out)] == [VenueCancel]


def test_events_for_unknown_orders_are_counted_and_change_nothing():
    oms = make_oms()
    before = oms.snapshot()
    for event in (ack("x"), cancelled("x"), VenueExpired(client_order_id="x"), venue_reject("x")):
        assert oms.on_venue_event(event) == []
    assert oms.snapshot() == before
    assert oms.counters["venue_event_for_unknown_order"] == 4


def test_fill_for_unknown_order_still_moves_the_position():
    oms = make_oms()
    out = oms.on_venue_event(fill("manual", 2))
    assert oms.position(LINEAR.id).net_lots == 2
    assert published(out, TOPIC_POSITION) and oms.counters["fill_for_unknown_order"] == 1


def test_venue_reject_reaches_the_owner_with_the_venue_reason():
    oms = make_oms()
    place(oms, "o", acked=False)
    out = oms.on_venue_event(venue_reject("o"))
    rejected = rejection(out)
    assert rejected.reason is RejectReason.VENUE_REJECT and rejected.request is RequestKind.SUBMIT
    assert published(out, TOPIC_EXECUTION)[0].status is S.REJECTED
    assert oms.counters["venue_rejected.venue_reject"] == 1


# -- idempotent client order ids -------------------------------------------------------------


def test_resubmitting_the_same_order_answers_with_its_current_state_and_creates_no_second_order():
    oms = make_oms()
    place(oms, "o", lots=3)
    oms.on_venue_event(fill("o", 1))
    out = oms.on_command(submit("o", lots=3), CLIENT)
    assert to_venue(out) == []
    (report,) = to_client(out)
    assert isinstance(report, ExecutionReport)
    assert report.status is S.PARTIALLY_FILLED and report.filled_lots == 1 and report.leaves_lots == 2
    assert len(oms.snapshot().orders) == 1 and oms.counters["duplicate_submit_answered"] == 1


def test_reusing_an_id_for_a_different_order_is_rejected_duplicate_client_order_id():
    oms = make_oms()
    place(oms, "o", lots=3)
    out = oms.on_command(submit("o", lots=4), CLIENT)
    assert rejection(out).reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert oms.order("o").quantity_lots == 3
    assert oms.counters["rejected.duplicate_client_order_id"] == 1


def test_id_of_a_refused_order_can_be_used_again():
    oms = make_oms()
    out = oms.on_command(submit("o", lots=0), CLIENT)
    assert rejection(out).reason is RejectReason.INVALID_ORDER
    place(oms, "o", lots=1)


# -- validation and routing -------------------------------------------------------------------


def test_order_for_a_venue_without_route_is_rejected_no_route():
    oms = make_oms(routes={Venue.BINANCE_USDM: "gw"})
    out = oms.on_command(submit("o", instrument=SPOT, price=300_000, lots=10), CLIENT)
    assert rejection(out).reason is RejectReason.NO_ROUTE
    assert oms.counters["rejected.no_route"] == 1


def test_order_goes_to_the_gateway_routed_for_its_venue():
    oms = make_oms()
    out = oms.on_command(submit("o", instrument=SPOT, price=300_000, lots=10), CLIENT)
    (venue_out,) = [o for o in out if type(o).__name__ == "ToVenue"]
    assert (venue_out.venue, venue_out.gateway) == (Venue.BINANCE, "gw-spot")
    assert isinstance(venue_out.command, VenueSubmit) and venue_out.command.account_id == "acct-1"
    oms.remove_route(Venue.BINANCE)
    assert rejection(oms.on_command(submit("p", instrument=SPOT, price=300_000, lots=10), CLIENT)).reason is (
        RejectReason.NO_ROUTE
    )


def test_unknown_instrument_is_rejected():
    oms = make_oms()
    cmd = msgspec.structs.replace(submit("o"), instrument_id=InstrumentId("DOGEUSDT", Venue.BINANCE))
    assert rejection(oms.on_command(cmd, CLIENT)).reason is RejectReason.UNKNOWN_INSTRUMENT


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"lots": 0}, "quantity must be positive"),
        ({"price": None}, "needs a positive price"),
        ({"tif": TimeInForce.POST_ONLY, "order_type": OrderType.MARKET}, "post-only"),
        ({"cid": ""}, "client_order_id must not be empty"),
    ],
)
def test_malformed_order_is_rejected_invalid_order_with_the_reason(changes, words):
    oms = make_oms()
    cid = changes.pop("cid", "o")
    out = oms.on_command(submit(cid, **changes), CLIENT)
    rejected = rejection(out)
    assert rejected.reason is RejectReason.INVALID_ORDER and words in rejected.message


def test_quantity_off_the_order_lot_is_rejected_invalid_order():
    oms = make_oms()
    out = oms.on_command(submit("o", instrument=SPOT, price=300_000, lots=15), CLIENT)  # order lot is 10 lots
    assert rejection(out).reason is RejectReason.INVALID_ORDER


def test_every_rejection_is_journaled_and_counted(tmp_path):
    from jtrader.oms import CommandRejected, replay

    oms = make_oms(journal=tmp_path / "j")
    oms.on_command(submit("o", lots=0), CLIENT)
    oms.on_command(CancelOrder(client_order_id="nope"), CLIENT)
    oms.journal.flush()
    records = [r for r in replay(tmp_path / "j") if type(r) is CommandRejected]
    assert [(r.reason, r.request) for r in records] == [
        (RejectReason.INVALID_ORDER, RequestKind.SUBMIT),
        (RejectReason.UNKNOWN_ORDER, RequestKind.CANCEL),
    ]
    assert oms.counters["rejected.invalid_order"] == 1 and oms.counters["rejected.unknown_order"] == 1


def test_rejections_are_counted_on_an_injected_prometheus_registry():
    from prometheus_client import CollectorRegistry

    metrics = CollectorRegistry()
    oms = make_oms(metrics_registry=metrics)
    oms.on_command(submit("o", lots=0), CLIENT)
    assert metrics.get_sample_value("jtrader_oms_events_total", {"event": "rejected.invalid_order"}) == 1


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_of_filled_order_is_rejected_order_not_open():
    oms = make_oms()
    place(oms, "o", lots=1)
    oms.on_venue_event(fill("o", 1))
    rejected = rejection(oms.on_command(CancelOrder(client_order_id="o"), CLIENT))
    assert rejected.reason is RejectReason.ORDER_NOT_OPEN and rejected.request is RequestKind.CANCEL


def test_cancel_of_unknown_order_is_rejected_unknown_order():
    oms = make_oms()
    assert rejection(oms.on_command(CancelOrder(client_order_id="x"), CLIENT)).reason is RejectReason.UNKNOWN_ORDER


def test_cancel_by_another_strategy_is_rejected_not_authorised():
    oms = make_oms()
    place(oms, "o")
    out = oms.on_command(CancelOrder(client_order_id="o", strategy_id="other"), CLIENT)
    assert rejection(out).reason is RejectReason.NOT_AUTHORISED
    assert oms.order("o").is_open


def test_cancel_before_ack_is_sent_and_venue_cancelled_closes_the_order():
    oms = make_oms()
    place(oms, "o", acked=False)
    out = oms.on_command(CancelOrder(client_order_id="o"), CLIENT)
    assert [type(c) for c in to_venue(out)] == [VenueCancel]
    out = oms.on_venue_event(cancelled("o"))
    assert oms.order("o").status is S.CANCELLED
    assert to_client(out, CLIENT)[0].status is S.CANCELLED


def test_refused_cancel_reaches_the_owner_and_leaves_the_order_open():
    oms = make_oms()
    place(oms, "o")
    oms.on_command(CancelOrder(client_order_id="o"), CLIENT)
    out = oms.on_venue_event(venue_reject("o", RequestKind.CANCEL))
    rejected = rejection(out)
    assert rejected.request is RequestKind.CANCEL
    assert oms.order("o").status is S.ACKED and oms.snapshot().pending == {}


def test_cancelled_order_releases_its_open_lots_in_risk():
    oms = make_oms()
    place(oms, "o", lots=3)
    assert _open_lots_in_risk(oms) == (0, 3, 0)
    oms.on_venue_event(cancelled("o"))
    assert _open_lots_in_risk(oms) == (0, 0, 0)
    assert oms.risk.state()["books"] == []


# -- amend -----------------------------------------------------------------------------------


def test_amend_waits_for_the_venue_then_changes_quantity_and_price():
    oms = make_oms()
    place(oms, "o", lots=3)
    out = oms.on_command(AmendOrder(client_order_id="o", quantity_lots=5, price_ticks=599_000), CLIENT)
    (command,) = to_venue(out)
    assert isinstance(command, VenueAmend) and (command.quantity_lots, command.price_ticks) == (5, 599_000)
    order = oms.order("o")
    assert (order.quantity_lots, order.price_ticks) == (3, 600_000)
    assert _open_lots_in_risk(oms) == (0, 5, 0)  # worst case while in flight
    oms.on_venue_event(VenueAmended(client_order_id="o", quantity_lots=5, price_ticks=599_000))
    assert (order.quantity_lots, order.price_ticks) == (5, 599_000)
    assert _open_lots_in_risk(oms) == (0, 5, 0)
    assert oms.risk.state()["books"] == [(str(LINEAR.id), [(599_000, 1)], [], 599_000, 0)]


def test_amend_down_keeps_the_larger_size_in_risk_until_confirmed():
    oms = make_oms()
    place(oms, "o", lots=5)
    oms.on_command(AmendOrder(client_order_id="o", quantity_lots=2), CLIENT)
    assert _open_lots_in_risk(oms) == (0, 5, 0)
    oms.on_venue_event(VenueAmended(client_order_id="o", quantity_lots=2, price_ticks=None))
    assert _open_lots_in_risk(oms) == (0, 2, 0) and oms.order("o").price_ticks == 600_000


def test_amend_below_filled_is_rejected():
    oms = make_oms()
    place(oms, "o", lots=5)
    oms.on_venue_event(fill("o", 3))
    out = oms.on_command(AmendOrder(client_order_id="o", quantity_lots=3), CLIENT)
    rejected = rejection(out)
    assert rejected.reason is RejectReason.INVALID_ORDER and rejected.request is RequestKind.AMEND
    assert "not above the 3 lots already filled" in rejected.message
    place_ok = oms.on_command(AmendOrder(client_order_id="o", quantity_lots=4), CLIENT)
    assert to_venue(place_ok)


@pytest.mark.parametrize(
    ("amend", "reason"),
    [
        (AmendOrder(client_order_id="o"), RejectReason.INVALID_ORDER),  # changes nothing
        (AmendOrder(client_order_id="zz", quantity_lots=4), RejectReason.UNKNOWN_ORDER),
        (AmendOrder(client_order_id="o", price_ticks=-5), RejectReason.INVALID_ORDER),
        (AmendOrder(client_order_id="o", quantity_lots=4, strategy_id="other"), RejectReason.NOT_AUTHORISED),
    ],
)
def test_bad_amend_is_rejected_with_its_reason(amend, reason):
    oms = make_oms()
    place(oms, "o", lots=3)
    assert rejection(oms.on_command(amend, CLIENT)).reason is reason


def test_second_amend_while_one_is_in_flight_is_rejected():
    oms = make_oms()
    place(oms, "o", lots=3)
    oms.on_command(AmendOrder(client_order_id="o", quantity_lots=4), CLIENT)
    out = oms.on_command(AmendOrder(client_order_id="o", quantity_lots=6), CLIENT)
    assert "in flight" in rejection(out).message


def test_amend_of_a_closed_order_is_rejected_order_not_open():
    oms = make_oms()
    place(oms, "o", lots=3)
    oms.on_venue_event(cancelled("o"))
    assert rejection(oms.on_command(AmendOrder(client_order_id="o", quantity_lots=4), CLIENT)).reason is (
        RejectReason.ORDER_NOT_OPEN
    )


def test_refused_amend_reaches_the_owner_and_restores_risk():
    oms = make_oms()
    place(oms, "o", lots=3)
    oms.on_command(AmendOrder(client_order_id="o", quantity_lots=6), CLIENT)
    out = oms.on_venue_event(venue_reject("o", RequestKind.AMEND))
    assert rejection(out).request is RequestKind.AMEND
    assert _open_lots_in_risk(oms) == (0, 3, 0) and oms.order("o").quantity_lots == 3


def test_fill_beyond_quantity_during_amend_up_is_kept_and_the_amend_confirms_it():
    oms = make_oms()
    place(oms, "o", lots=3)
    oms.on_command(AmendOrder(client_order_id="o", quantity_lots=6), CLIENT)
    oms.on_venue_event(fill("o", 4))
    order = oms.order("o")
    assert order.filled_lots == 4 and order.quantity_lots == 4 and order.status is S.FILLED
    oms.on_venue_event(VenueAmended(client_order_id="o", quantity_lots=6, price_ticks=None))
    assert order.quantity_lots == 4  # late amend of a filled order changes nothing


# -- mass cancel and cancel-on-disconnect ---------------------------------------------------------


def test_mass_cancel_by_strategy_cancels_only_that_strategys_open_orders():
    oms = make_oms()
    place(oms, "a1", strategy="a", lots=1)
    place(oms, "a2", strategy="a", lots=1, instrument=INVERSE)
    place(oms, "b1", strategy="b", lots=1)
    place(oms, "a3", strategy="a", lots=1)
    oms.on_venue_event(fill("a3", 1))  # already filled: not cancelled
    out = oms.on_command(MassCancel(strategy_id="a"), CLIENT)
    assert sorted(c.client_order_id for c in to_venue(out)) == ["a1", "a2"]


def test_mass_cancel_by_instrument_cancels_only_that_instrument():
    oms = make_oms()
    place(oms, "a1", strategy="a", lots=1)
    place(oms, "a2", strategy="a", lots=1, instrument=INVERSE)
    place(oms, "b1", strategy="b", lots=1)
    out = oms.on_command(MassCancel(instrument_id=LINEAR.id), CLIENT)
    assert sorted(c.client_order_id for c in to_venue(out)) == ["a1", "b1"]


def test_client_disconnect_cancels_its_open_orders_only():
    oms = make_oms()
    place(oms, "mine", lots=1)
    oms.on_command(submit("theirs", lots=1, strategy="s2"), b"other-host")
    out = oms.on_client_disconnected(CLIENT)
    assert [c.client_order_id for c in to_venue(out)] == ["mine"]
    assert oms.counters["cancel_on_disconnect"] == 1


def test_client_disconnect_with_policy_off_cancels_nothing():
    oms = make_oms(config=OmsConfig(cancel_on_disconnect=False))
    place(oms, "mine", lots=1)
    assert oms.on_client_disconnected(CLIENT) == []


# -- reports ----------------------------------------------------------------------------------


def test_accepted_order_gets_a_new_report_and_a_publication():
    oms = make_oms()
    out = oms.on_command(submit("o"), CLIENT)
    (report,) = to_client(out, CLIENT)
    assert isinstance(report, ExecutionReport) and report.status is S.NEW and report.leaves_lots == 3
    assert published(out, TOPIC_EXECUTION) == [report]


def test_publication_of_execution_reports_can_be_turned_off():
    oms = make_oms(config=OmsConfig(publish_execution_reports=False))
    out = oms.on_command(submit("o"), CLIENT)
    assert published(out) == []


def test_rejected_order_is_not_remembered_and_sender_gets_order_rejected():
    oms = make_oms()
    out = oms.on_command(submit("o", lots=0), CLIENT)
    (only,) = out
    assert only.sender == CLIENT and isinstance(only.report, OrderRejected)
    assert oms.order("o") is None


@pytest.mark.parametrize(("start", "event"), sorted(TABLE, key=str), ids=lambda v: str(v))
def test_every_transition_recovers_exactly_from_the_journal(tmp_path, start, event):
    from tests.oms.builders import recover

    path = tmp_path / "oms.journal"
    oms = make_oms(journal=path)
    place(oms, "o", acked=False, lots=QTY)
    oms.on_command(AmendOrder(client_order_id="o", quantity_lots=QTY + 1), CLIENT)  # a pending amend rides along
    for setup_event in SETUP[start]:
        oms.on_venue_event(setup_event)
    oms.on_venue_event(EVENTS[event]())
    oms.journal.close()
    assert recover(path).snapshot() == oms.snapshot()
