"""Reconciliation with a venue's own record after a restart: every kind of difference and what is done."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jtrader.bus.messages import (
    OrderRejected,
    RejectReason,
    VenueCancel,
    VenueOrderState,
    VenueSnapshot,
    VenueSubmit,
)
from jtrader.domain import OrderStatus, Side, Venue
from jtrader.oms import OmsConfig, OmsError
from tests.oms.builders import (
    CLIENT,
    INVERSE,
    LINEAR,
    Clock,
    fill,
    make_fill,
    make_oms,
    place,
    recover,
    to_client,
    to_venue,
)

USDM = Venue.BINANCE_USDM


def open_at_venue(cid: str, lots: int = 3, filled: int = 0, price: int = 600_000, instrument=LINEAR) -> VenueOrderState:
    return VenueOrderState(
        client_order_id=cid,
        venue_order_id=f"v-{cid}",
        instrument_id=instrument.id,
        side=Side.BUY,
        quantity_lots=lots,
        filled_lots=filled,
        price_ticks=price,
        status=OrderStatus.ACKED,
    )


def snapshot(open_orders=(), fills=(), ts: int = 0, balances=None) -> VenueSnapshot:
    return VenueSnapshot(ts=ts, open_orders=list(open_orders), fills=list(fills), balances=balances or {})


def kinds(report) -> list[tuple[str, str]]:
    return sorted((d.kind, d.client_order_id) for d in report.differences)


def test_matching_venue_state_reconciles_clean():
    oms = make_oms()
    place(oms, "a", lots=3)
    oms.on_venue_event(fill("a", 1, trade_id="t1"))
    report = oms.reconcile(snapshot([open_at_venue("a", filled=1)], [make_fill("a", 1, trade_id="t1")]), USDM)
    assert report.clean and report.outputs == []


def test_fills_the_journal_missed_are_applied_once():
    oms = make_oms()
    place(oms, "a", lots=3)
    venue = snapshot([open_at_venue("a", filled=2)], [make_fill("a", 2, trade_id="t-down")])
    report = oms.reconcile(venue, USDM)
    assert kinds(report) == [("missed_fill", "a")] and report.fills_applied == 1
    assert oms.order("a").filled_lots == 2 and oms.position(LINEAR.id).net_lots == 2
    assert oms.reconcile(venue, USDM).clean  # idempotent


def test_order_filled_entirely_while_down_is_filled():
    oms = make_oms()
    place(oms, "a", lots=3)
    report = oms.reconcile(snapshot([], [make_fill("a", 3, trade_id="t1")]), USDM)
    assert kinds(report) == [("missed_fill", "a")]
    assert oms.order("a").status is OrderStatus.FILLED


def test_acked_order_no_longer_open_at_the_venue_is_closed_as_cancelled():
    oms = make_oms()
    place(oms, "a", lots=3)
    report = oms.reconcile(snapshot(), USDM)
    assert kinds(report) == [("closed_at_venue", "a")] and report.orders_closed == 1
    assert oms.order("a").status is OrderStatus.CANCELLED
    assert to_client(report.outputs, CLIENT)[0].status is OrderStatus.CANCELLED


def test_order_the_venue_never_received_is_rejected_by_default():
    oms = make_oms()
    place(oms, "lost", lots=3, acked=False)
    report = oms.reconcile(snapshot(), USDM)
    assert kinds(report) == [("lost_order", "lost")] and report.orders_rejected == 1
    assert oms.order("lost").status is OrderStatus.REJECTED
    (rejected,) = [r for r in to_client(report.outputs, CLIENT) if isinstance(r, OrderRejected)]
    assert rejected.reason is RejectReason.VENUE_REJECT and "new id" in rejected.message


def test_order_the_venue_never_received_is_resubmitted_under_the_same_id_when_configured():
    oms = make_oms(config=OmsConfig(lost_order_policy="resubmit"))
    place(oms, "lost", lots=3, acked=False)
    report = oms.reconcile(snapshot(), USDM)
    (command,) = to_venue(report.outputs)
    assert isinstance(command, VenueSubmit) and command.client_order_id == "lost" and command.quantity_lots == 3
    assert oms.order("lost").status is OrderStatus.NEW and report.orders_resubmitted == 1


def test_order_open_at_the_venue_but_new_here_is_acked():
    oms = make_oms()
    place(oms, "a", lots=3, acked=False)
    report = oms.reconcile(snapshot([open_at_venue("a")]), USDM)
    assert kinds(report) == [("missed_ack", "a")]
    assert oms.order("a").status is OrderStatus.ACKED and oms.order("a").venue_order_id == "v-a"


def test_amend_the_journal_missed_is_taken_from_the_venue():
    oms = make_oms()
    place(oms, "a", lots=3)
    report = oms.reconcile(snapshot([open_at_venue("a", lots=5, price=599_000)]), USDM)
    assert kinds(report) == [("missed_amend", "a")]
    assert (oms.order("a").quantity_lots, oms.order("a").price_ticks) == (5, 599_000)


def test_venue_fill_count_the_fills_do_not_explain_is_reported_only():
    oms = make_oms()
    place(oms, "a", lots=3)
    report = oms.reconcile(snapshot([open_at_venue("a", filled=1)]), USDM)
    assert kinds(report) == [("filled_mismatch", "a")]
    assert oms.order("a").filled_lots == 0


def test_order_open_at_the_venue_but_closed_here_gets_a_cancel():
    oms = make_oms()
    place(oms, "a", lots=3)
    oms.on_venue_event(fill("a", 3))
    report = oms.reconcile(snapshot([open_at_venue("a")]), USDM)
    assert kinds(report) == [("open_at_venue_closed_locally", "a")]
    assert [type(c) for c in to_venue(report.outputs)] == [VenueCancel]


@pytest.mark.parametrize("cancel_unknown", [False, True])
def test_venue_order_unknown_here_is_reported_and_cancelled_only_if_configured(cancel_unknown):
    oms = make_oms(config=OmsConfig(cancel_unknown_venue_orders=cancel_unknown))
    report = oms.reconcile(snapshot([open_at_venue("manual")]), USDM)
    assert kinds(report) == [("unknown_venue_order", "manual")]
    assert len(to_venue(report.outputs)) == (1 if cancel_unknown else 0)


def test_orders_accepted_after_the_snapshot_are_left_alone():
    clock = Clock()
    oms = make_oms(clock=clock)
    clock.advance(10)
    place(oms, "fresh", lots=3, acked=False)
    report = oms.reconcile(snapshot(ts=clock.now - 5), USDM)
    assert kinds(report) == [("too_new", "fresh")]
    assert oms.order("fresh").status is OrderStatus.NEW


def test_reconcile_touches_only_the_snapshots_venue():
    oms = make_oms()
    place(oms, "usdm", lots=3)
    place(oms, "coinm", lots=3, instrument=INVERSE)
    report = oms.reconcile(snapshot(), Venue.BINANCE_COINM)
    assert kinds(report) == [("closed_at_venue", "coinm")]
    assert oms.order("usdm").is_open


def test_venue_snapshot_event_reconciles_with_the_venue_inferred_from_its_content():
    oms = make_oms()
    place(oms, "a", lots=3)
    out = oms.on_venue_event(snapshot([], [make_fill("a", 3, trade_id="t1")]))
    assert oms.order("a").status is OrderStatus.FILLED and out


def test_empty_snapshot_without_a_venue_is_refused():
    oms = make_oms()
    with pytest.raises(OmsError, match="pass the venue"):
        oms.reconcile(snapshot())
    assert oms.on_venue_event(snapshot()) == []
    assert oms.counters["reconcile_without_venue"] == 1


def test_balances_are_carried_in_the_report():
    oms = make_oms()
    report = oms.reconcile(snapshot(balances={"USDT": Decimal("1000.5")}), USDM)
    assert report.balances == {"USDT": Decimal("1000.5")}


def test_reconciliation_is_journaled_so_a_second_restart_agrees(tmp_path):
    path = tmp_path / "oms.journal"
    oms = make_oms(journal=path)
    place(oms, "a", lots=3)
    place(oms, "b", lots=3, acked=False, price=599_000)
    place(oms, "c", lots=3, price=598_000)
    oms.journal.close()
    restarted = recover(path)
    report = restarted.reconcile(
        snapshot([open_at_venue("c", lots=4, price=598_000)], [make_fill("a", 1, trade_id="down")]), USDM
    )
    assert kinds(report) == [("closed_at_venue", "a"), ("lost_order", "b"), ("missed_amend", "c"), ("missed_fill", "a")]
    restarted.journal.close()
    assert recover(path).snapshot() == restarted.snapshot()
