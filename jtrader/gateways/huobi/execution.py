"""HTX (Huobi) spot order entry: the venue half of :class:`~jtrader.gateways.ccxt_execution.CcxtExecutionClient`.

Requests go through ccxt's implicit REST methods of ``ccxt.htx`` (signature
version 2, ``enableRateLimit``, typed errors); requests are built here from
ticks and lots as exact decimal strings and the answers parsed back exactly.

============  ==============================================================
call          endpoint (https://huobiapi.github.io/docs/spot/v1/en/)
============  ==============================================================
account       GET  /v1/account/accounts (the ``spot`` account id, once)
place         POST /v1/order/orders/place (``client-order-id``)
cancel        POST /v1/order/orders/submitCancelClientOrder
look up       GET  /v1/order/orders/getClientOrder, GET /v1/order/orders/{order-id}
open orders   GET  /v1/order/openOrders
trades        GET  /v1/order/matchresults
balances      GET  /v1/account/accounts/{account-id}/balance
server time   GET  /v1/common/timestamp
============  ==============================================================

Our client order id is HTX's ``client-order-id``. Order types: limit
(``buy-limit``; IOC ``buy-ioc``; FOK ``buy-limit-fok``; post-only
``buy-limit-maker``), market sells, and stop-limit (``buy-stop-limit`` with
``operator`` gte for buys, lte for sells). A market buy is sized in quote
currency on HTX, so it cannot carry our base-lot quantity: refused as invalid.

HTX takes a cancel and confirms it later: the cancel polls the order until it
is final (``canceled``, ``partial-canceled`` or ``filled``), briefly; a later
poll sees it otherwise. HTX has no amend: the core cancels and places a
replacement (client id ``<id>_r<n>``). A post-only order that would take is
accepted and then cancelled by HTX; the core reports it as
``POST_ONLY_WOULD_TAKE`` when it sees the order gone unfilled.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import ccxt

from jtrader.bus.messages import RejectReason, VenueSubmit
from jtrader.domain import Instrument, LiquiditySide, OrderStatus, OrderType, Side, TimeInForce, Venue
from jtrader.gateways.ccxt_execution import (
    AmendRequest,
    AmendResult,
    Failure,
    FailureKind,
    SubmitResult,
    UnsupportedOrder,
    VenueOrder,
    VenueTrade,
    price_text,
)

__all__ = ["HtxExecution"]

_NS_PER_MS = 1_000_000
_PAGE = 500
_CANCEL_CONFIRM_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)

_STATE = {
    "created": OrderStatus.ACKED,
    "submitted": OrderStatus.ACKED,
    "partial-filled": OrderStatus.PARTIALLY_FILLED,
    "canceling": OrderStatus.PARTIALLY_FILLED,  # still working until HTX confirms; refined below
    "filled": OrderStatus.FILLED,
    "partial-canceled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}
_INSUFFICIENT = {
    "account-frozen-balance-insufficient-error",
    "account-balance-insufficient-error",
    "insufficient-balance",
    "order-accountbalance-error",
}
_NOT_FOUND = {"base-record-invalid", "order-queryorder-invalid", "order-orderstate-error", "base-not-found"}
_RATE = {"base-request-exceed-frequency-limit", "rate-too-many-requests", "api-request-exceed-limit"}
_UNKNOWN = {"timeout", "gateway-internal-error", "internal-error", "order-update-error"}
_AUTH = {
    "api-signature-check-failed",
    "api-key-invalid",
    "api-signature-not-valid",
    "login-required",
    "forbidden-trade-for-open-protect",
}


class HtxExecution:
    """HTX spot (``Venue.HUOBI``) for :class:`CcxtExecutionClient`."""

    venue = Venue.HUOBI
    label = "htx spot"
    amend_mode = "cancel-replace"
    max_client_id_length = 64

    def __init__(self) -> None:
        self.account_id: str | None = None

    # -- session ----------------------------------------------------------------------------

    def create_exchange(self, config: dict[str, Any]) -> Any:
        config = dict(config)
        config["options"] = {**config.get("options", {}), "defaultType": "spot"}
        return ccxt.htx(config)

    def prepare(self, exchange: Any) -> None:
        """Find the spot account id, which every order and balance request names."""
        raw = exchange.privateGetAccountAccounts({})
        for account in _data(raw):
            if account.get("type") == "spot" and account.get("state", "working") == "working":
                self.account_id = str(account["id"])
                return
        raise ccxt.AccountNotEnabled("htx: the API key has no working spot account")

    # -- requests ---------------------------------------------------------------------------

    def order_params(self, command: VenueSubmit, instrument: Instrument, venue_client_id: str) -> dict[str, Any]:
        side = "buy" if command.side is Side.BUY else "sell"
        kind, tif = command.order_type, command.time_in_force
        params: dict[str, Any] = {
            "account-id": self.account_id,
            "symbol": instrument.id.symbol,
            "amount": str(instrument.lots_to_size(command.quantity_lots)),
            "client-order-id": venue_client_id,
            "source": "spot-api",
        }
        if kind is OrderType.LIMIT:
            suffix = {
                TimeInForce.GTC: "limit",
                TimeInForce.IOC: "ioc",
                TimeInForce.FOK: "limit-fok",
                TimeInForce.POST_ONLY: "limit-maker",
            }[tif]
            params |= {"type": f"{side}-{suffix}", "price": price_text(instrument, command.price_ticks)}
        elif kind is OrderType.MARKET:
            if command.side is Side.BUY:
                raise UnsupportedOrder(
                    "an HTX market buy is sized in quote currency, not in base lots: use a limit IOC buy instead"
                )
            params["type"] = "sell-market"
        elif kind is OrderType.STOP_LIMIT:
            params |= {
                "type": f"{side}-stop-limit",
                "price": price_text(instrument, command.price_ticks),
                "stop-price": price_text(instrument, command.trigger_ticks),
                "operator": "gte" if command.side is Side.BUY else "lte",
            }
        else:
            raise UnsupportedOrder("HTX spot has no stop-market order: use a stop-limit order")
        return params

    def submit(self, exchange: Any, command: VenueSubmit, instrument: Instrument, venue_client_id: str) -> SubmitResult:
        raw = exchange.privatePostOrderOrdersPlace(self.order_params(command, instrument, venue_client_id))
        order_id = str(_data(raw))
        price = command.price_ticks if command.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
        return SubmitResult(
            VenueOrder(
                venue_client_id=venue_client_id,
                venue_order_id=order_id,
                instrument_id=instrument.id,
                side=command.side,
                quantity_lots=command.quantity_lots,
                filled_lots=0,
                price_ticks=price,
                status=OrderStatus.ACKED,
                ts_event=time.time_ns(),
            )
        )

    def cancel(self, exchange: Any, instrument: Instrument, venue_client_id: str) -> VenueOrder:
        exchange.privatePostOrderOrdersSubmitCancelClientOrder({"client-order-id": venue_client_id})
        state = self.fetch_order(exchange, instrument, venue_client_id=venue_client_id)
        for delay in _CANCEL_CONFIRM_DELAYS:  # HTX confirms cancels asynchronously
            if state.status in (OrderStatus.CANCELLED, OrderStatus.FILLED, OrderStatus.REJECTED):
                break
            time.sleep(delay)
            state = self.fetch_order(exchange, instrument, venue_client_id=venue_client_id)
        return state

    def fetch_order(
        self,
        exchange: Any,
        instrument: Instrument,
        *,
        venue_client_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        if venue_client_id is not None:
            raw = exchange.privateGetOrderOrdersGetClientOrder({"clientOrderId": venue_client_id})
        else:
            raw = exchange.privateGetOrderOrdersId({"id": venue_order_id})
        return self._order(_data(raw), instrument)

    def fetch_open_orders(self, exchange: Any, instrument: Instrument) -> list[VenueOrder]:
        raw = exchange.privateGetOrderOpenOrders(
            {"account-id": self.account_id, "symbol": instrument.id.symbol, "size": _PAGE}
        )
        return [self._order(item, instrument) for item in _data(raw)]

    def fetch_trades(
        self, exchange: Any, instrument: Instrument, *, since_ms: int | None, after_cursor: int | None
    ) -> list[VenueTrade]:
        params: dict[str, Any] = {"symbol": instrument.id.symbol, "size": _PAGE}
        if after_cursor is not None:
            params |= {"from": after_cursor, "direct": "next"}
        elif since_ms is not None:
            params["start-time"] = since_ms
        trades: dict[int, VenueTrade] = {}
        while True:
            page = _data(exchange.privateGetOrderMatchresults(params)) or []
            parsed = [self._trade(item, instrument) for item in page]
            fresh = [t for t in parsed if t.cursor not in trades and (after_cursor is None or t.cursor > after_cursor)]
            for trade in fresh:
                trades[trade.cursor] = trade
            if len(page) < _PAGE or not fresh:
                break
            params = {"symbol": instrument.id.symbol, "size": _PAGE, "from": max(trades), "direct": "next"}
        return sorted(trades.values(), key=lambda t: t.cursor)

    def fetch_balances(self, exchange: Any) -> dict[str, Decimal]:
        raw = exchange.privateGetAccountAccountsIdBalance({"id": self.account_id})
        balances: dict[str, Decimal] = {}
        for item in _data(raw).get("list", []):
            currency = str(item["currency"]).upper()
            balances[currency] = balances.get(currency, Decimal(0)) + Decimal(str(item["balance"]))
        return {currency: amount for currency, amount in balances.items() if amount}

    def amend(self, exchange: Any, request: AmendRequest) -> AmendResult | None:
        if request.order_type is not OrderType.LIMIT:
            raise UnsupportedOrder(f"HTX amends (by cancel-replace) limit orders only, not {request.order_type.value}")
        return None  # HTX has no amend: the core cancels and replaces

    # -- answers ----------------------------------------------------------------------------

    def _order(self, raw: dict[str, Any], instrument: Instrument) -> VenueOrder:
        kind = str(raw.get("type", ""))
        filled_text = raw.get("filled-amount", raw.get("field-amount", "0"))
        price = instrument.parse_price_ticks(str(raw.get("price") or "0")) if "market" not in kind else 0
        state = str(raw.get("state", "submitted"))
        filled = instrument.parse_size_lots(str(filled_text))
        status = _STATE.get(state, OrderStatus.ACKED)
        if status is OrderStatus.PARTIALLY_FILLED and filled == 0:
            status = OrderStatus.ACKED
        ts = raw.get("finished-at") or raw.get("canceled-at") or raw.get("created-at") or 0
        return VenueOrder(
            venue_client_id=str(raw.get("client-order-id", "")),
            venue_order_id=str(raw["id"]),
            instrument_id=instrument.id,
            side=Side.BUY if kind.startswith("buy") else Side.SELL,
            quantity_lots=instrument.parse_size_lots(str(raw["amount"])),
            filled_lots=filled,
            price_ticks=price if price > 0 else None,
            status=status,
            ts_event=int(ts) * _NS_PER_MS,
        )

    def _trade(self, raw: dict[str, Any], instrument: Instrument) -> VenueTrade:
        fee = Decimal(str(raw.get("filled-fees") or "0"))
        fee_currency = str(raw.get("fee-currency") or "").upper()
        points = Decimal(str(raw.get("filled-points") or "0"))
        if not fee and points:  # fee paid in HT or points
            fee, fee_currency = points, str(raw.get("fee-deduct-currency") or "").upper()
        return VenueTrade(
            trade_id=str(raw.get("trade-id") or raw["match-id"]),
            cursor=int(raw["id"]),
            venue_order_id=str(raw["order-id"]),
            instrument_id=instrument.id,
            side=Side.BUY if str(raw["type"]).startswith("buy") else Side.SELL,
            price_ticks=instrument.parse_price_ticks(str(raw["price"])),
            size_lots=instrument.parse_size_lots(str(raw["filled-amount"])),
            liquidity=LiquiditySide.MAKER if raw.get("role") == "maker" else LiquiditySide.TAKER,
            fee=fee,
            fee_currency=fee_currency,
            ts_event=int(raw["created-at"]) * _NS_PER_MS,
        )

    # -- errors -----------------------------------------------------------------------------

    def classify(self, exc: Exception, body: Any) -> Failure | None:
        if not isinstance(body, dict) or body.get("status") != "error":
            return None
        code = str(body.get("err-code", ""))
        msg = str(body.get("err-msg", ""))
        text = f"{self.label} error {code}: {msg}"
        lowered = f"{code} {msg}".lower()
        if code in _RATE:
            return Failure(FailureKind.RATE_LIMITED, message=text)
        if "timestamp" in lowered or ("expired" in lowered and "signature" in lowered):
            return Failure(FailureKind.CLOCK, message=text)
        if code in _AUTH:
            return Failure(
                FailureKind.AUTH,
                RejectReason.NOT_AUTHORISED,
                f"{text}: check the API key, its permissions and IP whitelist",
            )
        if code in _UNKNOWN:
            return Failure(FailureKind.UNKNOWN_OUTCOME, message=text)
        if code in _INSUFFICIENT or "insufficient" in lowered:
            return Failure(FailureKind.REJECTED, RejectReason.INSUFFICIENT_FUNDS, text)
        if code in _NOT_FOUND:
            return Failure(FailureKind.NOT_FOUND, RejectReason.UNKNOWN_ORDER, text)
        if "duplicate" in lowered or ("client-order-id" in lowered and "exist" in lowered):
            return Failure(FailureKind.DUPLICATE, RejectReason.DUPLICATE_CLIENT_ORDER_ID, text)
        if code.startswith(("order-", "invalid-", "base-symbol")) or code in ("bad-request", "validation-format-error"):
            return Failure(FailureKind.REJECTED, RejectReason.INVALID_ORDER, text)
        return Failure(FailureKind.REJECTED, RejectReason.VENUE_REJECT, text)


def _data(raw: Any) -> Any:
    return raw.get("data") if isinstance(raw, dict) else raw
