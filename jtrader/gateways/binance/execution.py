"""Binance order entry (spot, USD-M and COIN-M futures): the venue half of
:class:`~jtrader.gateways.ccxt_execution.CcxtExecutionClient`.

Requests go through ccxt's implicit REST methods (``privatePostOrder``,
``fapiPrivatePutOrder``, ...): ccxt signs them, spaces them (``enableRateLimit``)
and raises its typed errors; the requests are built here from ticks and lots as
exact decimal strings and the raw answers are parsed back exactly (no float on
the way, no ``load_markets``: the instrument definitions are ours).

=============  ===============================  ==========================  ==========================
call           spot (``ccxt.binance``)          USD-M (``binanceusdm``)     COIN-M (``binancecoinm``)
=============  ===============================  ==========================  ==========================
place          POST /api/v3/order               POST /fapi/v1/order         POST /dapi/v1/order
cancel         DELETE /api/v3/order             DELETE /fapi/v1/order       DELETE /dapi/v1/order
look up        GET /api/v3/order                GET /fapi/v1/order          GET /dapi/v1/order
open orders    GET /api/v3/openOrders           GET /fapi/v1/openOrders     GET /dapi/v1/openOrders
trades         GET /api/v3/myTrades             GET /fapi/v1/userTrades     GET /dapi/v1/userTrades
balances       GET /api/v3/account              GET /fapi/v3/balance        GET /dapi/v1/balance
amend          POST /api/v3/order/cancelReplace PUT /fapi/v1/order (native) PUT /dapi/v1/order (native)
server time    GET /api/v3/time                 GET /fapi/v1/time           GET /dapi/v1/time
=============  ===============================  ==========================  ==========================

Our client order id is Binance's ``newClientOrderId`` (at most 36 characters of
``[.A-Z:/a-z0-9_-]``); orders are cancelled and looked up by it
(``origClientOrderId``). Order types: limit (GTC, IOC, FOK; post-only is spot
``LIMIT_MAKER`` and futures ``timeInForce=GTX``), market, and on spot
stop-market/stop-limit (``STOP_LOSS``/``STOP_LOSS_LIMIT``). Futures stop orders
moved to Binance's algo-order API, which this gateway does not speak: they are
refused as invalid.

Amend: USD-M and COIN-M modify the order in place (limit orders; the client id
stays). Spot has no in-place amend of price: Binance's cancel-replace endpoint
(``cancelReplaceMode=STOP_ON_FAILURE``) cancels and places the replacement
(client id ``<id>_r<n>``) in one request; the replacement's quantity is what is
left after the fills known just before it.

Sources: https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints,
https://developers.binance.com/docs/binance-spot-api-docs/errors,
https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Modify-Order,
https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
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
    ReplacementRefused,
    SubmitResult,
    UnsupportedOrder,
    VenueFailure,
    VenueOrder,
    VenueTrade,
    price_text,
)

__all__ = ["BinanceExecution"]

_NS_PER_MS = 1_000_000
_PAGE = 1000

_STATUS = {
    "NEW": OrderStatus.ACKED,
    "PENDING_NEW": OrderStatus.ACKED,
    "PENDING_CANCEL": OrderStatus.ACKED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # self-trade prevention
}


@dataclass(frozen=True)
class _Market:
    ccxt_class: str
    label: str
    place: str
    cancel: str
    get: str
    open_orders: str
    trades: str
    balance: str
    modify: str | None  # futures: native amend
    futures: bool


_MARKETS = {
    Venue.BINANCE: _Market(
        "binance",
        "binance spot",
        "privatePostOrder",
        "privateDeleteOrder",
        "privateGetOrder",
        "privateGetOpenOrders",
        "privateGetMyTrades",
        "privateGetAccount",
        None,
        False,
    ),
    Venue.BINANCE_USDM: _Market(
        "binanceusdm",
        "binance usd-m",
        "fapiPrivatePostOrder",
        "fapiPrivateDeleteOrder",
        "fapiPrivateGetOrder",
        "fapiPrivateGetOpenOrders",
        "fapiPrivateGetUserTrades",
        "fapiPrivateV3GetBalance",
        "fapiPrivatePutOrder",
        True,
    ),
    Venue.BINANCE_COINM: _Market(
        "binancecoinm",
        "binance coin-m",
        "dapiPrivatePostOrder",
        "dapiPrivateDeleteOrder",
        "dapiPrivateGetOrder",
        "dapiPrivateGetOpenOrders",
        "dapiPrivateGetUserTrades",
        "dapiPrivateGetBalance",
        "dapiPrivatePutOrder",
        True,
    ),
}

_AUTH_CODES = {-1002, -1022, -2008, -2014, -2015}
_RATE_CODES = {-1003, -1008, -1015}
_UNKNOWN_CODES = {-1000, -1001, -1006, -1007}
_INSUFFICIENT_CODES = {-2018, -2019, -4050, -4051}


class BinanceExecution:
    """The Binance market ``venue`` (spot, USD-M or COIN-M) for :class:`CcxtExecutionClient`."""

    max_client_id_length = 36

    def __init__(self, venue: Venue) -> None:
        self.venue = Venue(venue)
        self._m = _MARKETS[self.venue]
        self.label = self._m.label
        self.amend_mode = "native" if self._m.modify else "venue cancel-replace"

    # -- session ----------------------------------------------------------------------------

    def create_exchange(self, config: dict[str, Any]) -> Any:
        return getattr(ccxt, self._m.ccxt_class)(config)

    def prepare(self, exchange: Any) -> None:
        """Nothing to set up: orders carry symbols, the key carries the account."""

    # -- requests ---------------------------------------------------------------------------

    def _call(self, exchange: Any, method: str, params: dict[str, Any]) -> Any:
        return getattr(exchange, method)(params)

    def order_params(self, command: VenueSubmit, instrument: Instrument, venue_client_id: str) -> dict[str, Any]:
        """The new-order request for ``command`` (exact decimal strings)."""
        futures = self._m.futures
        params: dict[str, Any] = {
            "symbol": instrument.id.symbol,
            "side": "BUY" if command.side is Side.BUY else "SELL",
            "quantity": str(instrument.lots_to_size(command.quantity_lots)),
            "newClientOrderId": venue_client_id,
            "newOrderRespType": "RESULT" if futures else "FULL",
        }
        kind, tif = command.order_type, command.time_in_force
        if kind is OrderType.LIMIT:
            params["price"] = price_text(instrument, command.price_ticks)
            if tif is TimeInForce.POST_ONLY:
                if futures:
                    params |= {"type": "LIMIT", "timeInForce": "GTX"}
                else:
                    params["type"] = "LIMIT_MAKER"
            else:
                params |= {"type": "LIMIT", "timeInForce": tif.value.upper()}
        elif kind is OrderType.MARKET:
            params["type"] = "MARKET"
        elif futures:
            raise UnsupportedOrder(
                f"{kind.value} orders on Binance futures go through the algo-order API, which this gateway "
                "does not speak: use a limit or market order"
            )
        elif kind is OrderType.STOP_MARKET:
            params |= {"type": "STOP_LOSS", "stopPrice": price_text(instrument, command.trigger_ticks)}
        else:  # STOP_LIMIT
            params |= {
                "type": "STOP_LOSS_LIMIT",
                "price": price_text(instrument, command.price_ticks),
                "stopPrice": price_text(instrument, command.trigger_ticks),
                "timeInForce": "GTC" if tif is TimeInForce.POST_ONLY else tif.value.upper(),
            }
        return params

    def submit(self, exchange: Any, command: VenueSubmit, instrument: Instrument, venue_client_id: str) -> SubmitResult:
        raw = self._call(exchange, self._m.place, self.order_params(command, instrument, venue_client_id))
        order = self._order(raw, instrument)
        return SubmitResult(order, self._response_fills(raw, order, instrument))

    def cancel(self, exchange: Any, instrument: Instrument, venue_client_id: str) -> VenueOrder:
        raw = self._call(
            exchange, self._m.cancel, {"symbol": instrument.id.symbol, "origClientOrderId": venue_client_id}
        )
        return self._order(raw, instrument, client_id_key="origClientOrderId")

    def fetch_order(
        self,
        exchange: Any,
        instrument: Instrument,
        *,
        venue_client_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        params: dict[str, Any] = {"symbol": instrument.id.symbol}
        if venue_client_id is not None:
            params["origClientOrderId"] = venue_client_id
        else:
            params["orderId"] = venue_order_id
        return self._order(self._call(exchange, self._m.get, params), instrument)

    def fetch_open_orders(self, exchange: Any, instrument: Instrument) -> list[VenueOrder]:
        raw = self._call(exchange, self._m.open_orders, {"symbol": instrument.id.symbol})
        return [self._order(item, instrument) for item in raw]

    def fetch_trades(
        self, exchange: Any, instrument: Instrument, *, since_ms: int | None, after_cursor: int | None
    ) -> list[VenueTrade]:
        params: dict[str, Any] = {"symbol": instrument.id.symbol, "limit": _PAGE}
        if after_cursor is not None:
            params["fromId"] = after_cursor + 1
        elif since_ms is not None:
            params["startTime"] = since_ms
        trades: list[VenueTrade] = []
        while True:
            page = self._call(exchange, self._m.trades, params)
            parsed = [self._trade(item, instrument) for item in page]
            trades += parsed
            if len(page) < _PAGE or not parsed:
                break
            params = {"symbol": instrument.id.symbol, "limit": _PAGE, "fromId": max(t.cursor for t in parsed) + 1}
        return sorted(trades, key=lambda t: t.cursor)

    def fetch_balances(self, exchange: Any) -> dict[str, Decimal]:
        balances: dict[str, Decimal] = {}
        if self._m.futures:
            for item in self._call(exchange, self._m.balance, {}):
                amount = Decimal(str(item["balance"]))
                if amount:
                    balances[str(item["asset"])] = amount
        else:
            raw = self._call(exchange, self._m.balance, {"omitZeroBalances": "true"})
            for item in raw["balances"]:
                amount = Decimal(str(item["free"])) + Decimal(str(item["locked"]))
                if amount:
                    balances[str(item["asset"])] = amount
        return balances

    # -- amend ------------------------------------------------------------------------------

    def amend(self, exchange: Any, request: AmendRequest) -> AmendResult | None:
        if request.order_type is not OrderType.LIMIT:
            raise UnsupportedOrder(f"Binance amends limit orders only, not {request.order_type.value} orders")
        instrument = request.instrument
        if self._m.modify is not None:
            return self._modify(exchange, request)
        # Spot: one cancel-replace request; the replacement carries what is left after the known fills.
        current = self.fetch_order(exchange, instrument, venue_client_id=request.venue_client_id)
        if current.status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED):
            raise VenueFailure(
                Failure(
                    FailureKind.REJECTED,
                    RejectReason.ORDER_NOT_OPEN,
                    f"{self.label}: order {request.venue_client_id} is {current.status.value}",
                )
            )
        leaves = request.new_quantity_lots - current.filled_lots
        if leaves <= 0:  # down to what is filled: cancel, and the order is complete
            cancelled = self.cancel(exchange, instrument, request.venue_client_id)
            done = dataclasses.replace(cancelled, quantity_lots=cancelled.filled_lots, status=OrderStatus.FILLED)
            return AmendResult(done)
        params = {
            "symbol": instrument.id.symbol,
            "side": "BUY" if request.side is Side.BUY else "SELL",
            "type": "LIMIT_MAKER" if request.time_in_force is TimeInForce.POST_ONLY else "LIMIT",
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrigClientOrderId": request.venue_client_id,
            "newClientOrderId": request.replacement_client_id,
            "quantity": str(instrument.lots_to_size(leaves)),
            "price": price_text(instrument, request.new_price_ticks),
            "newOrderRespType": "FULL",
        }
        if request.time_in_force is not TimeInForce.POST_ONLY:
            params["timeInForce"] = request.time_in_force.value.upper()
        try:
            raw = exchange.privatePostOrderCancelReplace(params)
        except ccxt.BaseError:
            self._cancel_replace_failed(exchange.last_json_response, instrument)
            raise
        cancelled = self._order(raw["cancelResponse"], instrument, client_id_key="origClientOrderId")
        new = self._order(raw["newOrderResponse"], instrument)
        return AmendResult(
            new,
            filled_before_lots=cancelled.filled_lots,
            trades=self._response_fills(raw["newOrderResponse"], new, instrument),
        )

    def _cancel_replace_failed(self, body: Any, instrument: Instrument) -> None:
        """Read a failed cancel-replace (-2021/-2022): which half failed and why."""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return
        if data.get("cancelResult") == "SUCCESS":
            cancelled = self._order(data["cancelResponse"], instrument, client_id_key="origClientOrderId")
            new = data.get("newOrderResponse") or {}
            failure = self._failure(new.get("code"), str(new.get("msg", ""))) or Failure(
                FailureKind.REJECTED, RejectReason.VENUE_REJECT, f"{self.label}: replacement refused"
            )
            raise ReplacementRefused(
                Failure(FailureKind.REJECTED, failure.reason, f"{failure.message} (replacement refused)"), cancelled
            )
        answer = data.get("cancelResponse") or {}
        refused = self._failure(answer.get("code"), str(answer.get("msg", "")))
        if refused is not None and refused.kind is FailureKind.NOT_FOUND:
            raise VenueFailure(
                Failure(
                    FailureKind.REJECTED, RejectReason.ORDER_NOT_OPEN, f"{refused.message}: the order is no longer open"
                )
            )
        if refused is not None:
            raise VenueFailure(Failure(FailureKind.REJECTED, refused.reason, refused.message))

    def _modify(self, exchange: Any, request: AmendRequest) -> AmendResult:
        instrument = request.instrument
        params = {
            "symbol": instrument.id.symbol,
            "side": "BUY" if request.side is Side.BUY else "SELL",
            "origClientOrderId": request.venue_client_id,
            "quantity": str(instrument.lots_to_size(request.new_quantity_lots)),
            "price": price_text(instrument, request.new_price_ticks),
        }
        try:
            raw = self._call(exchange, self._m.modify or "", params)
        except ccxt.BaseError:
            body = exchange.last_json_response
            if isinstance(body, dict) and body.get("code") == -5027:  # "No need to modify the order."
                return AmendResult(self.fetch_order(exchange, instrument, venue_client_id=request.venue_client_id))
            raise
        return AmendResult(self._order(raw, instrument))

    # -- answers ----------------------------------------------------------------------------

    def _order(self, raw: dict[str, Any], instrument: Instrument, client_id_key: str = "clientOrderId") -> VenueOrder:
        price = instrument.parse_price_ticks(str(raw.get("price") or "0"))
        ts = raw.get("updateTime") or raw.get("transactTime") or raw.get("time") or 0
        return VenueOrder(
            venue_client_id=str(raw[client_id_key]),
            venue_order_id=str(raw["orderId"]),
            instrument_id=instrument.id,
            side=Side.BUY if raw["side"] == "BUY" else Side.SELL,
            quantity_lots=instrument.parse_size_lots(str(raw["origQty"])),
            filled_lots=instrument.parse_size_lots(str(raw["executedQty"])),
            price_ticks=price if price > 0 else None,
            status=_STATUS.get(str(raw["status"]), OrderStatus.ACKED),
            ts_event=int(ts) * _NS_PER_MS,
        )

    def _response_fills(self, raw: dict[str, Any], order: VenueOrder, instrument: Instrument) -> tuple[VenueTrade, ...]:
        """Spot ``FULL`` answers list the executions of the placement itself (taker, by definition)."""
        ts = int(raw.get("transactTime") or 0) * _NS_PER_MS
        return tuple(
            VenueTrade(
                trade_id=str(item["tradeId"]),
                cursor=int(item["tradeId"]),
                venue_order_id=order.venue_order_id,
                instrument_id=instrument.id,
                side=order.side,
                price_ticks=instrument.parse_price_ticks(str(item["price"])),
                size_lots=instrument.parse_size_lots(str(item["qty"])),
                liquidity=LiquiditySide.TAKER,
                fee=Decimal(str(item["commission"])),
                fee_currency=str(item["commissionAsset"]),
                ts_event=ts,
                venue_client_id=order.venue_client_id,
            )
            for item in raw.get("fills") or ()
        )

    def _trade(self, raw: dict[str, Any], instrument: Instrument) -> VenueTrade:
        if self._m.futures:
            side = Side.BUY if raw["side"] == "BUY" else Side.SELL
            maker = bool(raw["maker"])
        else:
            side = Side.BUY if raw["isBuyer"] else Side.SELL
            maker = bool(raw["isMaker"])
        return VenueTrade(
            trade_id=str(raw["id"]),
            cursor=int(raw["id"]),
            venue_order_id=str(raw["orderId"]),
            instrument_id=instrument.id,
            side=side,
            price_ticks=instrument.parse_price_ticks(str(raw["price"])),
            size_lots=instrument.parse_size_lots(str(raw["qty"])),
            liquidity=LiquiditySide.MAKER if maker else LiquiditySide.TAKER,
            fee=Decimal(str(raw["commission"])),
            fee_currency=str(raw["commissionAsset"]),
            ts_event=int(raw["time"]) * _NS_PER_MS,
        )

    # -- errors -----------------------------------------------------------------------------

    def classify(self, exc: Exception, body: Any) -> Failure | None:
        if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded | ccxt.RequestTimeout):
            return None
        if not isinstance(body, dict) or "code" not in body:
            return None
        return self._failure(body.get("code"), str(body.get("msg", "")))

    def _failure(self, code: Any, msg: str) -> Failure | None:
        try:
            number = int(code)
        except (TypeError, ValueError):
            return None
        text = f"{self.label} error {number}: {msg}"
        lowered = msg.lower()
        if number == -1021:
            return Failure(FailureKind.CLOCK, message=text)
        if number in _RATE_CODES:
            return Failure(FailureKind.RATE_LIMITED, message=text)
        if number in _UNKNOWN_CODES:
            return Failure(FailureKind.UNKNOWN_OUTCOME, message=text)
        if number in _AUTH_CODES:
            return Failure(
                FailureKind.AUTH,
                RejectReason.NOT_AUTHORISED,
                f"{text}: check the API key, its permissions and IP whitelist",
            )
        if number in _INSUFFICIENT_CODES or "insufficient balance" in lowered:
            return Failure(FailureKind.REJECTED, RejectReason.INSUFFICIENT_FUNDS, text)
        if number == -2010:
            if "immediately match and take" in lowered:
                return Failure(FailureKind.REJECTED, RejectReason.POST_ONLY_WOULD_TAKE, text)
            if "duplicate order" in lowered:
                return Failure(FailureKind.DUPLICATE, RejectReason.DUPLICATE_CLIENT_ORDER_ID, text)
            return Failure(FailureKind.REJECTED, RejectReason.VENUE_REJECT, text)
        if number == -2013 or (number == -2011 and "unknown order" in lowered):
            return Failure(FailureKind.NOT_FOUND, RejectReason.UNKNOWN_ORDER, text)
        if number == -5022:
            return Failure(FailureKind.REJECTED, RejectReason.POST_ONLY_WOULD_TAKE, text)
        if number == -5021:
            return Failure(FailureKind.REJECTED, RejectReason.FOK_NOT_FILLABLE, text)
        if number == -1013 or -1199 <= number <= -1100 or -4999 <= number <= -4000:
            return Failure(FailureKind.REJECTED, RejectReason.INVALID_ORDER, text)
        return Failure(FailureKind.REJECTED, RejectReason.VENUE_REJECT, text)
