"""HTX (Huobi) spot order entry over ccxt against a loopback emulator of the documented v1 endpoints.

The emulator checks signature version 2 (AccessKeyId, HmacSHA256 of the
canonical request, Timestamp) and answers with the shapes of
https://huobiapi.github.io/docs/spot/v1/en/ (see ``emulators.HtxEmulator``).
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
    VenueFill,
    VenueQuery,
    VenueReject,
    VenueSnapshot,
)
from jtrader.domain import LiquiditySide, TimeInForce, Venue
from tests.gateways.execution.builders import HTX_BTC, cancel, submit

LOTS_0_01 = 10_000  # 0.01 BTC in 0.000001 lots
PRICE = 3_000_000  # 30000.00 in 0.01 ticks


def test_order_is_placed_with_our_client_id_and_acked_with_htx_order_id(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(submit("h-1", HTX_BTC, LOTS_0_01, PRICE + 5))
    s.wait_for(lambda ev: bool(s.of(VenueAck)))

    [place] = htx.calls("POST", "/v1/order/orders/place")
    assert place.params["client-order-id"] == "h-1" and place.params["type"] == "buy-limit"
    assert (place.params["amount"], place.params["price"]) == ("0.010000", "30000.05")
    assert place.params["account-id"] == str(htx.ACCOUNT_ID)  # found once through /v1/account/accounts
    assert s.of(VenueAck)[0].venue_order_id == str(next(iter(htx.orders)))


def test_fills_from_match_results_arrive_once_each(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(submit("h-2", HTX_BTC, LOTS_0_01, PRICE))
    s.wait_for(lambda ev: bool(s.of(VenueAck)))
    first = htx.fill("h-2", "0.004")
    second = htx.fill("h-2", "0.006", role="taker", fee="0.000012")
    s.wait_for(lambda ev: len(s.of(VenueFill)) == 2)
    s.wait_idle(0.3)

    fills = [e.fill for e in s.of(VenueFill)]
    assert [(f.trade_id, f.size_lots) for f in fills] == [(str(first), 4_000), (str(second), 6_000)]
    assert (fills[1].fee, fills[1].fee_currency, fills[1].liquidity) == (
        Decimal("0.000012"),
        "BTC",
        LiquiditySide.TAKER,
    )
    assert not s.of(VenueCancelled)


def test_cancel_is_confirmed_once_htx_reports_the_order_canceled(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(submit("h-3", HTX_BTC, LOTS_0_01, PRICE))
    s.send(cancel("h-3", HTX_BTC))
    s.wait_for(lambda ev: bool(s.of(VenueCancelled)))

    assert htx.calls("POST", "/v1/order/orders/submitCancelClientOrder")[0].params["client-order-id"] == "h-3"
    assert [type(e).__name__ for e in s.events] == ["VenueAck", "VenueCancelled"]


def test_cancel_of_an_unknown_order_is_rejected_with_request_cancel(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(cancel("nobody", HTX_BTC))
    s.wait_for(lambda ev: bool(s.of(VenueReject)))

    [reject] = s.of(VenueReject)
    assert (reject.reason, reject.request) == (RejectReason.UNKNOWN_ORDER, RequestKind.CANCEL)


def test_amend_cancels_and_places_a_replacement_for_what_is_left(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(submit("h-4", HTX_BTC, LOTS_0_01, PRICE))
    s.wait_for(lambda ev: bool(s.of(VenueAck)))
    htx.fill("h-4", "0.004")
    s.wait_for(lambda ev: bool(s.of(VenueFill)))
    s.send(VenueAmend(client_order_id="h-4", instrument_id=HTX_BTC, quantity_lots=8_000, price_ticks=PRICE + 100))
    s.wait_for(lambda ev: bool(s.of(VenueAmended)))

    [amended] = s.of(VenueAmended)
    assert (amended.quantity_lots, amended.price_ticks) == (8_000, PRICE + 100)
    replacement = htx.calls("POST", "/v1/order/orders/place")[1]
    assert replacement.params["client-order-id"] == "h-4_r1"
    assert (replacement.params["amount"], replacement.params["price"]) == ("0.004000", "30001.00")
    assert htx._by_client("h-4").state == "partial-canceled"
    htx.fill("h-4_r1", "0.001")
    s.wait_for(lambda ev: len(s.of(VenueFill)) == 2)
    assert s.of(VenueFill)[1].fill.client_order_id == "h-4"


def test_refused_replacement_rejects_the_amend_and_reports_the_order_cancelled(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(submit("h-5", HTX_BTC, LOTS_0_01, PRICE))
    s.wait_for(lambda ev: bool(s.of(VenueAck)))
    s.send(VenueAmend(client_order_id="h-5", instrument_id=HTX_BTC, quantity_lots=1_000_000, price_ticks=PRICE))
    s.wait_for(lambda ev: bool(s.of(VenueCancelled)))

    reject, cancelled = s.events[1:]
    assert (reject.reason, reject.request) == (RejectReason.INSUFFICIENT_FUNDS, RequestKind.AMEND)
    assert isinstance(cancelled, VenueCancelled) and "original is cancelled" in cancelled.reason


def test_post_only_order_removed_by_htx_unfilled_is_rejected_as_would_take(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(submit("h-6", HTX_BTC, LOTS_0_01, PRICE, tif=TimeInForce.POST_ONLY))
    s.wait_for(lambda ev: bool(s.of(VenueAck)))
    htx.cancel_by_venue("h-6")
    s.wait_for(lambda ev: bool(s.of(VenueReject)))

    assert htx.calls("POST", "/v1/order/orders/place")[0].params["type"] == "buy-limit-maker"
    [reject] = s.of(VenueReject)
    assert (reject.reason, reject.request) == (RejectReason.POST_ONLY_WOULD_TAKE, RequestKind.SUBMIT)


def test_insufficient_balance_is_rejected_as_insufficient_funds(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(submit("h-7", HTX_BTC, 1_000_000, PRICE))  # 1 BTC at 30000 with 10000 USDT
    s.wait_for(lambda ev: bool(s.of(VenueReject)))

    [reject] = s.of(VenueReject)
    assert reject.reason is RejectReason.INSUFFICIENT_FUNDS
    assert "account-frozen-balance-insufficient-error" in reject.message


def test_query_answers_open_orders_fills_and_summed_balances(htx, session_factory):
    s = session_factory(Venue.HUOBI, htx.url)
    s.send(submit("h-8", HTX_BTC, LOTS_0_01, PRICE))
    s.wait_for(lambda ev: bool(s.of(VenueAck)))
    trade = htx.fill("h-8", "0.002")
    s.send(VenueQuery(fills_since_ns=0))
    s.wait_for(lambda ev: bool(s.of(VenueSnapshot)))

    [snapshot] = s.of(VenueSnapshot)
    [order] = snapshot.open_orders
    assert (order.client_order_id, order.quantity_lots, order.filled_lots) == ("h-8", LOTS_0_01, 2_000)
    assert [f.trade_id for f in snapshot.fills] == [str(trade)]
    assert snapshot.balances == {"USDT": Decimal("10000"), "BTC": Decimal("1")}
