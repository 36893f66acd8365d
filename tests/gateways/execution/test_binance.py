"""Binance order entry over ccxt against a loopback emulator of the documented REST endpoints.

The emulator (``emulators.BinanceEmulator``) answers with the response bodies
of Binance's API documentation (pages cited there) and checks the key header,
the HMAC signature and the request timestamp the way Binance does.
"""

from __future__ import annotations

from decimal import Decimal

from jtrader.bus.messages import (
    RejectReason,
    RequestKind,
    VenueAck,
    VenueAmend,
    VenueAmended,
    VenueCancelled,
    VenueExpired,
    VenueFill,
    VenueQuery,
    VenueReject,
    VenueSnapshot,
)
from jtrader.domain import LiquiditySide, OrderStatus, Side, TimeInForce, Venue
from tests.gateways.execution.builders import SPOT_BTC, USDM_BTC, cancel, submit
from tests.gateways.execution.emulators import Fault

MILLI_BTC = 100_000  # spot lots of 0.00000001 BTC
PRICE = 6_000_000  # 60000.00 in 0.01 ticks


def _acked(events: list) -> bool:
    return any(isinstance(e, VenueAck) for e in events)


def test_limit_order_is_acked_and_sent_as_exact_decimal_strings(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("mm-1", SPOT_BTC, MILLI_BTC, PRICE + 12))
    s.wait_for(_acked)

    [ack] = s.of(VenueAck)
    assert ack.client_order_id == "mm-1" and ack.venue_order_id == str(spot.order("mm-1").order_id)
    [post] = spot.calls("POST", "/api/v3/order")
    assert post.params["newClientOrderId"] == "mm-1"
    assert (post.params["quantity"], post.params["price"]) == ("0.00100000", "60000.12")
    assert (post.params["type"], post.params["timeInForce"], post.params["side"]) == ("LIMIT", "GTC", "BUY")


def test_partial_and_full_fills_arrive_once_each_with_exact_lots_and_fees(spot, session_factory):
    spot.ignore_cursor = True  # every poll lists all trades again: only the client's dedupe keeps them single
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("mm-2", SPOT_BTC, MILLI_BTC, PRICE))
    s.wait_for(_acked)
    first = spot.fill("mm-2", "0.0004", commission="0.00000040")
    s.wait_for(lambda ev: len(s.of(VenueFill)) == 1)
    second = spot.fill("mm-2", "0.0006", "59999.99", maker=False, commission="0.06", commission_asset="USDT")
    s.wait_for(lambda ev: len(s.of(VenueFill)) == 2)
    polls = len(spot.calls("GET", "/api/v3/myTrades"))
    s.wait_idle(0.3)

    fills = [e.fill for e in s.of(VenueFill)]
    assert [(f.trade_id, f.size_lots, f.price_ticks) for f in fills] == [
        (str(first), 40_000, PRICE),
        (str(second), 60_000, PRICE - 1),
    ]
    assert (fills[0].fee, fills[0].fee_currency, fills[0].liquidity) == (
        Decimal("0.00000040"),
        "BTC",
        LiquiditySide.MAKER,
    )
    assert (fills[1].fee, fills[1].fee_currency, fills[1].liquidity) == (Decimal("0.06"), "USDT", LiquiditySide.TAKER)
    assert all(f.client_order_id == "mm-2" and f.side is Side.BUY for f in fills)
    assert polls >= 2 and not s.of(VenueCancelled) and not s.of(VenueExpired)


def test_cancel_removes_the_order_and_reports_it_cancelled(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("mm-3", SPOT_BTC, MILLI_BTC, PRICE))
    s.send(cancel("mm-3", SPOT_BTC))
    s.wait_for(lambda ev: bool(s.of(VenueCancelled)))

    assert [type(e).__name__ for e in s.events] == ["VenueAck", "VenueCancelled"]
    assert spot.order("mm-3").status == "CANCELED"
    assert spot.calls("DELETE", "/api/v3/order")[0].params["origClientOrderId"] == "mm-3"


def test_cancel_of_an_unknown_order_is_rejected_with_request_cancel(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(cancel("ghost-1", SPOT_BTC))
    s.wait_for(lambda ev: bool(s.of(VenueReject)))

    [reject] = s.of(VenueReject)
    assert (reject.client_order_id, reject.reason, reject.request) == (
        "ghost-1",
        RejectReason.UNKNOWN_ORDER,
        RequestKind.CANCEL,
    )
    assert "ghost-1" in reject.message


def test_cancel_of_a_filled_order_delivers_the_fill_then_says_not_open(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url, poll_interval=30.0)  # no polling: the cancel path finds the fill
    s.send(submit("mm-4", SPOT_BTC, MILLI_BTC, PRICE))
    s.wait_for(_acked)
    trade = spot.fill("mm-4", "0.001")
    s.send(cancel("mm-4", SPOT_BTC))
    s.wait_for(lambda ev: bool(s.of(VenueReject)))

    fill, reject = s.events[1:]
    assert isinstance(fill, VenueFill) and fill.fill.trade_id == str(trade) and fill.fill.size_lots == MILLI_BTC
    assert (reject.reason, reject.request) == (RejectReason.ORDER_NOT_OPEN, RequestKind.CANCEL)


def test_ioc_remainder_removed_by_the_venue_is_reported_expired_after_its_fill(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("ioc-1", SPOT_BTC, MILLI_BTC, PRICE, tif=TimeInForce.IOC))
    s.wait_for(_acked)
    with spot.lock:
        spot.fill("ioc-1", "0.0003")
        spot.order("ioc-1").status = "EXPIRED"
    s.wait_for(lambda ev: bool(s.of(VenueExpired)))

    assert [type(e).__name__ for e in s.events] == ["VenueAck", "VenueFill", "VenueExpired"]
    assert spot.calls("POST", "/api/v3/order")[0].params["timeInForce"] == "IOC"


def test_spot_amend_is_one_cancel_replace_request_and_fills_keep_our_client_id(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("mm-5", SPOT_BTC, MILLI_BTC, PRICE))
    s.wait_for(_acked)
    spot.fill("mm-5", "0.0004")
    s.wait_for(lambda ev: bool(s.of(VenueFill)))
    s.send(VenueAmend(client_order_id="mm-5", instrument_id=SPOT_BTC, quantity_lots=80_000, price_ticks=PRICE + 100))
    s.wait_for(lambda ev: bool(s.of(VenueAmended)))

    [amended] = s.of(VenueAmended)
    assert (amended.client_order_id, amended.quantity_lots, amended.price_ticks) == ("mm-5", 80_000, PRICE + 100)
    [replace] = spot.calls("POST", "/api/v3/order/cancelReplace")
    assert replace.params["cancelOrigClientOrderId"] == "mm-5" and replace.params["newClientOrderId"] == "mm-5_r1"
    assert (replace.params["quantity"], replace.params["price"]) == ("0.00040000", "60001.00")  # 0.0008 - 0.0004 filled
    assert replace.params["cancelReplaceMode"] == "STOP_ON_FAILURE"

    spot.fill("mm-5_r1", "0.0001")
    s.wait_for(lambda ev: len(s.of(VenueFill)) == 2)
    assert s.of(VenueFill)[1].fill.client_order_id == "mm-5"  # the replacement's fills belong to our order
    s.send(cancel("mm-5", SPOT_BTC))
    s.wait_for(lambda ev: bool(s.of(VenueCancelled)))
    assert spot.calls("DELETE", "/api/v3/order")[0].params["origClientOrderId"] == "mm-5_r1"


def test_usdm_amend_modifies_the_order_in_place(usdm, session_factory):
    s = session_factory(Venue.BINANCE_USDM, usdm.url)
    s.send(submit("f-1", USDM_BTC, 5, 600_000))  # 0.005 BTC at 60000.0
    s.wait_for(_acked)
    s.send(VenueAmend(client_order_id="f-1", instrument_id=USDM_BTC, quantity_lots=3, price_ticks=600_010))
    s.wait_for(lambda ev: bool(s.of(VenueAmended)))

    [amended] = s.of(VenueAmended)
    assert (amended.quantity_lots, amended.price_ticks) == (3, 600_010)
    [put] = usdm.calls("PUT", "/fapi/v1/order")
    assert (put.params["origClientOrderId"], put.params["quantity"], put.params["price"]) == (
        "f-1",
        "0.003",
        "60001.00",
    )  # tick 0.10
    assert len(usdm.calls("POST", "/fapi/v1/order")) == 1 and not usdm.calls("DELETE", "/fapi/v1/order")
    order = usdm.order("f-1")
    assert (order.orig_qty, order.price, order.status) == (Decimal("0.003"), Decimal("60001.0"), "NEW")


def test_resubmitting_a_known_client_order_id_creates_no_second_order(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    order = submit("mm-6", SPOT_BTC, MILLI_BTC, PRICE)
    s.send(order)
    s.send(order)
    s.wait_for(lambda ev: len(s.of(VenueAck)) == 2)
    s.send(order)
    s.wait_for(lambda ev: len(s.of(VenueAck)) == 3)

    assert len(spot.calls("POST", "/api/v3/order")) == 1 and len(spot.orders) == 1
    assert {a.venue_order_id for a in s.of(VenueAck)} == {str(spot.order("mm-6").order_id)}


def test_timeout_after_submit_looks_the_order_up_and_sends_nothing_twice(spot, session_factory):
    spot.inject("POST", "/api/v3/order", Fault(hang=1.2))  # placed, but the answer comes after the client gave up
    s = session_factory(Venue.BINANCE, spot.url, timeout=0.4)
    s.send(submit("mm-7", SPOT_BTC, MILLI_BTC, PRICE))
    s.wait_for(_acked, timeout=8.0)

    assert len(spot.calls("POST", "/api/v3/order")) == 1 and len(spot.orders) == 1
    lookups = spot.calls("GET", "/api/v3/order")
    assert lookups and lookups[0].params["origClientOrderId"] == "mm-7"
    assert s.of(VenueAck)[0].venue_order_id == str(spot.order("mm-7").order_id)


def test_timeout_of_a_submit_the_venue_never_saw_is_resent_once_after_the_lookup(spot, session_factory):
    lost = Fault(status=504, body={"code": -1007, "msg": "Timeout waiting for response from backend server."}, hang=1.0)
    spot.inject("POST", "/api/v3/order", lost)
    s = session_factory(Venue.BINANCE, spot.url, timeout=0.4)
    s.send(submit("mm-8", SPOT_BTC, MILLI_BTC, PRICE))
    s.wait_for(_acked, timeout=8.0)

    first, second = spot.calls("POST", "/api/v3/order")
    lookup = spot.calls("GET", "/api/v3/order")[0]
    assert first.at < lookup.at < second.at and len(spot.orders) == 1
    assert second.params["newClientOrderId"] == "mm-8"


def test_rate_limit_answers_back_off_then_the_order_is_placed(spot, session_factory):
    too_many = {
        "code": -1003,
        "msg": "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per "
        "minute. Please use the websocket for live updates to avoid polling the API.",
    }
    spot.inject("POST", "/api/v3/order", Fault(429, too_many), Fault(429, too_many, {"Retry-After": "0.3"}))
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("mm-9", SPOT_BTC, MILLI_BTC, PRICE))
    s.wait_for(_acked)

    first, second, third = spot.calls("POST", "/api/v3/order")
    assert second.at - first.at >= 0.02  # backed off (base 0.05 s, jittered down to half)
    assert third.at - second.at >= 0.29  # honoured Retry-After
    assert len(spot.orders) == 1 and not s.of(VenueReject)


def test_timestamp_error_resyncs_the_clock_then_the_order_goes_through(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    assert s.client.ready.wait(5)
    spot.clock_offset_ms = -20_000  # the venue's clock is 20 s behind: our timestamps are in its future
    s.send(submit("mm-10", SPOT_BTC, MILLI_BTC, PRICE))
    s.wait_for(_acked)

    refused, accepted = spot.calls("POST", "/api/v3/order")
    times = spot.calls("GET", "/api/v3/time")
    assert len(times) == 2 and refused.at < times[1].at < accepted.at  # -1021, resync, retry
    assert abs(int(accepted.params["timestamp"]) - (int(refused.params["timestamp"]) - 20_000)) < 2_000


def test_insufficient_balance_is_rejected_as_insufficient_funds(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("big-1", SPOT_BTC, 100_000_000, PRICE))  # 1 BTC at 60000 with 10000 USDT
    s.wait_for(lambda ev: bool(s.of(VenueReject)))

    [reject] = s.of(VenueReject)
    assert (reject.reason, reject.request) == (RejectReason.INSUFFICIENT_FUNDS, RequestKind.SUBMIT)
    assert "-2010" in reject.message and "insufficient balance" in reject.message


def test_post_only_that_would_take_is_rejected_as_such_on_spot_and_futures(spot, usdm, session_factory):
    spot.best_ask = usdm.best_ask = Decimal("60000")
    s = session_factory(Venue.BINANCE, spot.url)
    f = session_factory(Venue.BINANCE_USDM, usdm.url)
    s.send(submit("po-1", SPOT_BTC, MILLI_BTC, PRICE, tif=TimeInForce.POST_ONLY))
    f.send(submit("po-2", USDM_BTC, 1, 600_000, tif=TimeInForce.POST_ONLY))
    s.wait_for(lambda ev: bool(s.of(VenueReject)))
    f.wait_for(lambda ev: bool(f.of(VenueReject)))

    assert s.of(VenueReject)[0].reason is RejectReason.POST_ONLY_WOULD_TAKE
    assert f.of(VenueReject)[0].reason is RejectReason.POST_ONLY_WOULD_TAKE
    assert spot.calls("POST", "/api/v3/order")[0].params["type"] == "LIMIT_MAKER"
    assert usdm.calls("POST", "/fapi/v1/order")[0].params["timeInForce"] == "GTX"


def test_query_answers_a_snapshot_of_open_orders_fills_and_balances(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("q-1", SPOT_BTC, MILLI_BTC, PRICE))
    s.send(submit("q-2", SPOT_BTC, 2 * MILLI_BTC, PRICE - 500, side=Side.SELL))
    s.wait_for(lambda ev: len(s.of(VenueAck)) == 2)
    trade = spot.fill("q-1", "0.00025")
    s.send(VenueQuery(fills_since_ns=0))
    s.wait_for(lambda ev: bool(s.of(VenueSnapshot)))

    [snapshot] = s.of(VenueSnapshot)
    orders = {o.client_order_id: o for o in snapshot.open_orders}
    assert set(orders) == {"q-1", "q-2"}
    assert (orders["q-1"].quantity_lots, orders["q-1"].filled_lots, orders["q-1"].price_ticks) == (
        MILLI_BTC,
        25_000,
        PRICE,
    )
    assert orders["q-1"].status is OrderStatus.PARTIALLY_FILLED and orders["q-2"].side is Side.SELL
    assert [(f.trade_id, f.client_order_id, f.size_lots) for f in snapshot.fills] == [(str(trade), "q-1", 25_000)]
    assert snapshot.balances == {"USDT": Decimal("10000"), "BTC": Decimal("1")}


def test_spot_amend_whose_replacement_is_refused_reports_the_order_cancelled(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url)
    s.send(submit("mm-11", SPOT_BTC, MILLI_BTC, PRICE))
    s.wait_for(_acked)
    s.send(VenueAmend(client_order_id="mm-11", instrument_id=SPOT_BTC, quantity_lots=100_000_000, price_ticks=PRICE))
    s.wait_for(lambda ev: bool(s.of(VenueCancelled)))

    reject, cancelled = s.events[1:]
    assert (reject.reason, reject.request) == (RejectReason.INSUFFICIENT_FUNDS, RequestKind.AMEND)
    assert "replacement refused" in reject.message and "original is cancelled" in cancelled.reason
    assert spot.order("mm-11").status == "CANCELED" and len(spot.orders) == 1


def test_fills_in_a_placement_answer_do_not_hide_earlier_trades_of_other_orders(spot, session_factory):
    s = session_factory(Venue.BINANCE, spot.url, poll_interval=30.0)  # trades are fetched only by the cancel below
    s.send(submit("rest-1", SPOT_BTC, MILLI_BTC, PRICE - 100_000))
    s.wait_for(_acked)
    earlier = spot.fill("rest-1", "0.0004")  # not polled yet
    spot.best_ask = Decimal("60000")
    s.send(submit("take-1", SPOT_BTC, MILLI_BTC, PRICE, tif=TimeInForce.IOC))  # filled in its own answer
    s.wait_for(lambda ev: len(s.of(VenueFill)) == 1)
    taken = s.of(VenueFill)[0].fill
    s.send(cancel("rest-1", SPOT_BTC))
    s.wait_for(lambda ev: bool(s.of(VenueCancelled)))

    assert taken.client_order_id == "take-1" and taken.liquidity is LiquiditySide.TAKER
    fills = {e.fill.trade_id: e.fill.client_order_id for e in s.of(VenueFill)}
    assert fills == {taken.trade_id: "take-1", str(earlier): "rest-1"}
