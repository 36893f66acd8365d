"""Operator commands over ControlRequest: status, orders, positions, kill, reset, flatten."""

from __future__ import annotations

import json
from decimal import Decimal

from jtrader.bus.messages import ControlReply, ControlRequest, RiskStateUpdate, VenueCancel, VenueSubmit
from jtrader.domain import OrderType, Side, TimeInForce, Venue
from jtrader.oms import TOPIC_RISK
from tests.oms.builders import INVERSE, LINEAR, SPOT, fill, make_oms, place, published, quote, to_client, to_venue

OPS = b"ops-console"


def control(oms, command, **args):
    out = oms.on_command(ControlRequest(command=command, operator="alice", args=args), OPS)
    (reply,) = [r for r in to_client(out, OPS) if isinstance(r, ControlReply)]
    json.dumps(reply.payload)  # every payload is JSON-able
    return reply, out


def test_status_reports_risk_orders_positions_pnl_and_counters():
    oms = make_oms()
    place(oms, "a", lots=3)
    oms.on_venue_event(fill("a", 1))
    reply, _ = control(oms, "status")
    assert reply.ok
    payload = reply.payload
    assert payload["open_orders"] == 1 and payload["positions"] == 1 and payload["risk"]["killed"] is False
    assert payload["routes"]["binance_usdm"] == "gw-usdm" and payload["counters"]["orders_accepted"] == 1


def test_orders_lists_open_orders_or_all_with_all():
    oms = make_oms()
    place(oms, "a", lots=3)
    place(oms, "b", lots=1)
    oms.on_venue_event(fill("b", 1))
    reply, _ = control(oms, "orders")
    assert [o["client_order_id"] for o in reply.payload] == ["a"]
    assert reply.payload[0]["instrument_id"] == "BTCUSDT.binance_usdm"
    reply, _ = control(oms, "orders", all="1")
    assert sorted(o["client_order_id"] for o in reply.payload) == ["a", "b"]


def test_positions_lists_pnl_as_decimal_strings():
    oms = make_oms()
    place(oms, "a", lots=1000)
    oms.on_venue_event(fill("a", 1000, fee="6"))
    reply, _ = control(oms, "positions")
    (row,) = reply.payload
    assert row["net_quantity"] == "1.000" and row["fees"] == "6" and Decimal(row["unrealised_pnl"]) == 0


def test_kill_cancels_everything_publishes_and_refuses_new_orders():
    oms = make_oms()
    place(oms, "a", lots=1)
    place(oms, "b", lots=1, instrument=INVERSE)
    reply, out = control(oms, "kill", reason="fat finger")
    assert reply.ok and reply.payload == {"cancels_sent": 2}
    assert sorted(c.client_order_id for c in to_venue(out) if isinstance(c, VenueCancel)) == ["a", "b"]
    (update,) = published(out, TOPIC_RISK)
    assert isinstance(update, RiskStateUpdate) and update.killed and update.reason == "fat finger"
    assert oms.risk.killed
    reply, _ = control(oms, "kill")
    assert "already killed" in reply.message


def test_reset_clears_the_latch_and_publishes():
    oms = make_oms()
    control(oms, "kill")
    reply, out = control(oms, "reset")
    assert reply.ok and not oms.risk.killed
    assert published(out, TOPIC_RISK)[0].killed is False
    reply, _ = control(oms, "reset")
    assert "nothing to reset" in reply.message


def test_flatten_cancels_and_sends_reduce_only_ioc_market_orders_even_when_killed():
    oms = make_oms()
    place(oms, "long", lots=1500)
    oms.on_venue_event(fill("long", 1000))  # long 1 BTC, 0.5 BTC still open
    place(oms, "short", lots=20, instrument=INVERSE, side=Side.SELL, price=600_100)
    oms.on_venue_event(fill("short", 20, instrument=INVERSE, side=Side.SELL, price=600_100))
    place(oms, "spot", lots=20, instrument=SPOT, price=300_000)
    oms.on_venue_event(fill("spot", 25, instrument=SPOT, price=300_000))  # 25 lots: order lot is 10
    control(oms, "kill")
    reply, out = control(oms, "flatten")
    commands = to_venue(out)
    assert [c.client_order_id for c in commands if isinstance(c, VenueCancel)] == ["long"]
    submits = {c.instrument_id: c for c in commands if isinstance(c, VenueSubmit)}
    linear, inverse, spot = submits[LINEAR.id], submits[INVERSE.id], submits[SPOT.id]
    assert (linear.side, linear.quantity_lots, linear.order_type, linear.time_in_force) == (
        Side.SELL,
        1000,
        OrderType.MARKET,
        TimeInForce.IOC,
    )
    assert (inverse.side, inverse.quantity_lots) == (Side.BUY, 20)
    assert spot.quantity_lots == 20  # whole order lots only; 5 lots remain
    assert oms.order(linear.client_order_id).reduce_only and not oms.order(spot.client_order_id).reduce_only
    assert reply.ok and len(reply.payload["orders"]) == 3
    # when the closing orders fill, the account is flat but for the odd lots
    for command in (linear, inverse, spot):
        instrument = {i.id: i for i in (LINEAR, INVERSE, SPOT)}[command.instrument_id]
        oms.on_venue_event(
            fill(
                command.client_order_id,
                command.quantity_lots,
                instrument=instrument,
                side=command.side,
                price=600_000 if instrument is not SPOT else 300_000,
            )
        )
    assert [oms.position(i.id).net_lots for i in (LINEAR, INVERSE, SPOT)] == [0, 0, 5]


def test_flatten_skips_positions_without_a_route_and_says_so():
    oms = make_oms()
    place(oms, "a", lots=1000)
    oms.on_venue_event(fill("a", 1000))
    oms.remove_route(Venue.BINANCE_USDM)
    reply, out = control(oms, "flatten")
    assert not reply.ok and reply.payload["skipped"][0]["why"] == "no route"
    assert to_venue(out) == []


def test_unknown_control_command_gets_a_failed_reply_naming_the_commands():
    oms = make_oms()
    reply, _ = control(oms, "explode")
    assert not reply.ok and "status, orders, positions, kill, reset, flatten" in reply.message
    assert oms.counters["control_unknown"] == 1


def test_reset_with_rebase_restarts_the_days_pnl():
    from jtrader.risk import RiskLimits

    oms = make_oms(RiskLimits(daily_loss_limit=Decimal(50)))
    place(oms, "a", lots=1000)
    oms.on_venue_event(fill("a", 1000, fee="60"))
    assert oms.risk.killed
    control(oms, "reset")
    oms.on_market_data(quote(LINEAR.id, 599_980, 600_000))
    assert oms.risk.killed  # still beyond the limit: trips again on the next update
    reply, _ = control(oms, "reset", rebase="true")
    assert "restarts at zero" in reply.message and oms.risk.day_pnl == 0 and not oms.risk.killed
