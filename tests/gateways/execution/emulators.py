"""Loopback emulators of the venues' REST order-entry endpoints, for ccxt pointed at 127.0.0.1.

Each emulator is a threading ``http.server`` holding orders, trades and balances
in memory. It checks what a venue checks before it acts (the API key, the
HMAC signature made with the secret, the request timestamp against its own
clock) and answers in the venue's documented shapes:

- Binance spot: https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints
  (new order ``FULL`` response, cancel, query order, cancel-replace),
  https://developers.binance.com/docs/binance-spot-api-docs/rest-api/account-endpoints
  (account, open orders, myTrades), https://developers.binance.com/docs/binance-spot-api-docs/rest-api/general-endpoints
  (server time), https://developers.binance.com/docs/binance-spot-api-docs/errors (-1021, -2010,
  -2011, -2013 and their messages) and the 429 rule in
  https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits
- Binance USD-M: https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api
  (New-Order, Modify-Order, Cancel-Order, Query-Order, Current-All-Open-Orders, Account-Trade-List),
  https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Futures-Account-Balance-V3
- HTX spot: https://huobiapi.github.io/docs/spot/v1/en/ (#place-a-new-order,
  #submit-cancel-for-an-order-based-on-client-order-id, #get-the-order-detail-of-an-order-based-on-client-order-id,
  #get-all-open-orders, #search-match-results, #get-all-accounts-of-the-current-user,
  #get-account-balance-of-a-specific-account, #get-current-timestamp, #signature-method)

Faults are queued per ``(method, path)`` with :meth:`LoopbackVenue.inject`: an
HTTP status and body to answer instead, or a ``hang`` that processes the
request but answers only after the client gave up (a timeout after submit).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # wait this long before answering (after processing it, unless ``status`` replaces it)


class LoopbackVenue:
    """The HTTP side: routing, recording, faults. Subclasses add the venue's endpoints and state."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: dict[tuple[str, str], deque[Fault]] = {}
        self.lock = threading.RLock()
        self.clock_offset_ms = 0  # the venue's clock minus ours
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = []
        venue = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                venue._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 (http.server's names)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def route(self, method: str, pattern: str, handler: Callable[..., tuple[int, Any]]) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def inject(self, method: str, path: str, *faults: Fault) -> None:
        with self.lock:
            self.faults.setdefault((method, path), deque()).extend(faults)

    def calls(self, method: str, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def authenticate(self, request: Request, raw_query: str, host: str) -> tuple[int, Any] | None:
        return None

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length).decode() if length else ""
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body and http.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params |= dict(parse_qsl(body, keep_blank_values=True))
        elif body and http.headers.get("Content-Type", "").startswith("application/json"):
            params |= {k: str(v) for k, v in json.loads(body).items()}
        request = Request(http.command, parts.path, params, dict(http.headers.items()), body)
        with self.lock:
            self.requests.append(request)
            queue = self.faults.get((request.method, request.path))
            fault = queue.popleft() if queue else None
        extra_headers: dict[str, str] = {}
        if fault is not None and fault.status:
            status, payload, extra_headers = fault.status, fault.body, fault.headers
            time.sleep(fault.hang)
        else:
            signed = parts.query if http.command in ("GET", "DELETE") else (body or parts.query)
            denied = self.authenticate(request, signed, http.headers.get("Host", ""))
            if denied is not None:
                status, payload = denied
            else:
                status, payload = self._dispatch(request)
            if fault is not None and fault.hang:
                time.sleep(fault.hang)
        data = json.dumps(payload).encode()
        try:
            http.send_response(status)
            http.send_header("Content-Type", "application/json;charset=UTF-8")
            http.send_header("Content-Length", str(len(data)))
            for name, value in extra_headers.items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def _dispatch(self, request: Request) -> tuple[int, Any]:
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                with self.lock:
                    return handler(request, **match.groupdict())
        return 404, {"code": -1, "msg": f"no route {request.method} {request.path}"}


# -- Binance -------------------------------------------------------------------------------------


@dataclass
class BinanceOrder:
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal = Decimal(0)
    status: str = "NEW"
    time: int = 0
    update_time: int = 0


class BinanceEmulator(LoopbackVenue):
    """Binance spot (``/api/v3``) or USD-M futures (``/fapi``), one account, documented answer shapes."""

    def __init__(self, market: str = "spot", *, balances: dict[str, str] | None = None) -> None:
        super().__init__()
        self.market = market
        self.futures = market == "usdm"
        self.orders: dict[int, BinanceOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self.balances = {k: Decimal(v) for k, v in (balances or {"USDT": "10000", "BTC": "1"}).items()}
        self.best_ask: Decimal | None = None  # a LIMIT_MAKER buy at or above it would take
        self.ignore_cursor = False
        self._ids = itertools.count(28457)
        self._trade_ids = itertools.count(1001)
        p = "/fapi/v1" if self.futures else "/api/v3"
        self.prefix = p
        self.route("GET", f"{p}/time", self._time)
        self.route("POST", f"{p}/order", self._new_order)
        self.route("DELETE", f"{p}/order", self._cancel)
        self.route("GET", f"{p}/order", self._query)
        self.route("GET", f"{p}/openOrders", self._open_orders)
        if self.futures:
            self.route("PUT", f"{p}/order", self._modify)
            self.route("GET", f"{p}/userTrades", self._my_trades)
            self.route("GET", "/fapi/v3/balance", self._futures_balance)
        else:
            self.route("POST", f"{p}/order/cancelReplace", self._cancel_replace)
            self.route("GET", f"{p}/myTrades", self._my_trades)
            self.route("GET", f"{p}/account", self._account)

    # -- security: key header, HMAC-SHA256 of the query, timestamp within recvWindow -------------

    def authenticate(self, request: Request, raw_query: str, host: str) -> tuple[int, Any] | None:
        if request.path.endswith("/time"):
            return None
        if request.headers.get("X-MBX-APIKEY") != KEY:
            return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        payload, _, signature = raw_query.rpartition("&signature=")
        expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
        timestamp = int(request.params["timestamp"])
        window = int(request.params.get("recvWindow", "5000"))
        now = self.now_ms()
        if timestamp > now + 1000 or now - timestamp > window:
            return 400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
        return None

    # -- answers ---------------------------------------------------------------------------------

    def _order_json(self, o: BinanceOrder) -> dict[str, Any]:
        if self.futures:  # Query-Order / New-Order RESULT (USD-M)
            return {
                "avgPrice": "0.00000", "clientOrderId": o.client_order_id, "cumQuote": "0",
                "executedQty": str(o.executed_qty), "orderId": o.order_id, "origQty": str(o.orig_qty),
                "origType": o.type, "price": str(o.price),
                "reduceOnly": False, "side": o.side, "positionSide": "BOTH", "status": o.status, "stopPrice": "0",
                "closePosition": False, "symbol": o.symbol, "timeInForce": o.time_in_force, "type": o.type,
                "updateTime": o.update_time, "workingType": "CONTRACT_PRICE", "priceProtect": False,
                "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0,
            }  # fmt: skip
        return {  # Query order (spot)
            "symbol": o.symbol, "orderId": o.order_id, "orderListId": -1, "clientOrderId": o.client_order_id,
            "price": f"{o.price:.8f}", "origQty": f"{o.orig_qty:.8f}", "executedQty": f"{o.executed_qty:.8f}",
            "cummulativeQuoteQty": f"{o.executed_qty * o.price:.8f}", "status": o.status,
            "timeInForce": o.time_in_force,
            "type": o.type, "side": o.side, "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": o.time,
            "updateTime": o.update_time, "isWorking": True, "workingTime": o.time, "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "NONE",
        }  # fmt: skip

    def _find(self, params: dict[str, str], key: str = "origClientOrderId") -> BinanceOrder | None:
        for o in self.orders.values():
            if o.symbol != params.get("symbol"):
                continue
            if key in params and o.client_order_id == params[key]:
                return o
            if "orderId" in params and str(o.order_id) == params["orderId"]:
                return o
        return None

    def _time(self, request: Request) -> tuple[int, Any]:
        return 200, {"serverTime": self.now_ms()}

    def _new_order(self, request: Request) -> tuple[int, Any]:
        p = request.params
        cid = p["newClientOrderId"]
        if any(o.client_order_id == cid and o.status in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()):
            return 400, {"code": -2010, "msg": "Duplicate order sent."}
        price = Decimal(p.get("price", "0"))
        qty = Decimal(p["quantity"])
        if p["side"] == "BUY" and not self.futures and price * qty > self.balances.get("USDT", Decimal(0)):
            return 400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}
        if self.futures and p["side"] == "BUY" and price * qty > self.balances.get("USDT", Decimal(0)) * 20:
            return 400, {"code": -2019, "msg": "Margin is insufficient."}
        maker_only = p["type"] == "LIMIT_MAKER" or p.get("timeInForce") == "GTX"
        if maker_only and self.best_ask is not None and p["side"] == "BUY" and price >= self.best_ask:
            if self.futures:
                return 400, {
                    "code": -5022,
                    "msg": "Due to the order could not be executed as maker, the Post Only "
                    "order will be rejected. The order will not be recorded in the order history",
                }
            return 400, {"code": -2010, "msg": "Order would immediately match and take."}
        now = self.now_ms()
        order = BinanceOrder(
            p["symbol"],
            next(self._ids),
            cid,
            p["side"],
            p["type"],
            p.get("timeInForce", "GTC"),
            price,
            qty,
            time=now,
            update_time=now,
        )
        self.orders[order.order_id] = order
        fills = []
        if self.best_ask is not None and p["side"] == "BUY" and price >= self.best_ask:  # takes the ask at once
            trade_id = self.fill(cid, p["quantity"], str(self.best_ask), maker=False)
            fills.append(
                {
                    "price": f"{self.best_ask:.8f}",
                    "qty": f"{qty:.8f}",
                    "commission": "0.00000100",
                    "commissionAsset": "BTC",
                    "tradeId": trade_id,
                }
            )
        return 200, self._placed(order, now, fills)

    def _placed(self, order: BinanceOrder, now: int, fills: list[dict[str, Any]]) -> dict[str, Any]:
        if self.futures:
            return self._order_json(order)
        return {  # New order, newOrderRespType=FULL (spot)
            "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "transactTime": now, "price": f"{order.price:.8f}", "origQty": f"{order.orig_qty:.8f}",
            "executedQty": f"{order.executed_qty:.8f}", "origQuoteOrderQty": "0.000000",
            "cummulativeQuoteQty": f"{order.executed_qty * order.price:.8f}",
            "status": order.status, "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
            "workingTime": now, "selfTradePreventionMode": "NONE", "fills": fills,
        }  # fmt: skip

    def _cancel(self, request: Request) -> tuple[int, Any]:
        order = self._find(request.params)
        if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
            return 400, {"code": -2011, "msg": "Unknown order sent."}
        order.status, order.update_time = "CANCELED", self.now_ms()
        return 200, self._cancel_json(order)

    def _cancel_json(self, order: BinanceOrder) -> dict[str, Any]:
        if self.futures:
            return self._order_json(order)
        body = self._order_json(order)  # Cancel order (spot): the order's id is origClientOrderId
        body = {
            k: v
            for k, v in body.items()
            if k
            not in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "workingTime", "origQuoteOrderQty")
        }
        return body | {
            "origClientOrderId": order.client_order_id,
            "clientOrderId": "cancelMyOrder1",
            "transactTime": order.update_time,
        }

    def _query(self, request: Request) -> tuple[int, Any]:
        order = self._find(request.params)
        if order is None:
            return 400, {"code": -2013, "msg": "Order does not exist."}
        return 200, self._order_json(order)

    def _open_orders(self, request: Request) -> tuple[int, Any]:
        symbol = request.params.get("symbol")
        return 200, [
            self._order_json(o)
            for o in self.orders.values()
            if o.status in ("NEW", "PARTIALLY_FILLED") and o.symbol == symbol
        ]

    def _my_trades(self, request: Request) -> tuple[int, Any]:
        p = request.params
        rows = [t for t in self.trades if t["symbol"] == p["symbol"]]
        if self.ignore_cursor:  # a venue that lists old trades again: the client must not repeat them
            pass
        elif "fromId" in p:
            rows = [t for t in rows if t["id"] >= int(p["fromId"])]
        elif "startTime" in p:
            rows = [t for t in rows if t["time"] >= int(p["startTime"])]
        return 200, rows[: int(p.get("limit", "500"))]

    def _account(self, request: Request) -> tuple[int, Any]:
        return 200, {  # Account information (spot)
            "makerCommission": 15, "takerCommission": 15, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00150000", "taker": "0.00150000", "buyer": "0.00000000",
                                "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": 123456789, "accountType": "SPOT",
            "balances": [{"asset": a, "free": f"{v:.8f}", "locked": "0.00000000"} for a, v in self.balances.items()],
            "permissions": ["SPOT"], "uid": 354937868,
        }  # fmt: skip

    def _futures_balance(self, request: Request) -> tuple[int, Any]:
        return 200, [  # Futures Account Balance V3 (USD-M)
            {"accountAlias": "SgsR", "asset": a, "balance": f"{v:.8f}", "crossWalletBalance": f"{v:.8f}",
             "crossUnPnl": "0.00000000", "availableBalance": f"{v:.8f}", "maxWithdrawAmount": f"{v:.8f}",
             "marginAvailable": True, "updateTime": 1617939110373}
            for a, v in self.balances.items()
        ]  # fmt: skip

    def _modify(self, request: Request) -> tuple[int, Any]:
        p = request.params
        order = self._find(p)
        if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
            return 400, {"code": -2013, "msg": "Order does not exist."}
        order.price, order.orig_qty, order.update_time = Decimal(p["price"]), Decimal(p["quantity"]), self.now_ms()
        return 200, self._order_json(order)

    def _cancel_replace(self, request: Request) -> tuple[int, Any]:
        p = request.params
        order = self._find(p, "cancelOrigClientOrderId")
        if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
            return 400, {
                "code": -2022,
                "msg": "Order cancel-replace failed.",
                "data": {
                    "cancelResult": "FAILURE",
                    "newOrderResult": "NOT_ATTEMPTED",
                    "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
                    "newOrderResponse": None,
                },
            }
        order.status, order.update_time = "CANCELED", self.now_ms()
        cancelled = self._cancel_json(order)
        status, placed = self._new_order(
            Request(
                "POST", request.path, p | {"newClientOrderId": p["newClientOrderId"]}, request.headers, request.body
            )
        )
        if status != 200:
            return 409, {
                "code": -2021,
                "msg": "Order cancel-replace partially failed.",
                "data": {
                    "cancelResult": "SUCCESS",
                    "newOrderResult": "FAILURE",
                    "cancelResponse": cancelled,
                    "newOrderResponse": placed,
                },
            }
        return 200, {
            "cancelResult": "SUCCESS",
            "newOrderResult": "SUCCESS",
            "cancelResponse": cancelled,
            "newOrderResponse": placed,
        }

    # -- the market, as the test drives it ---------------------------------------------------------

    def order(self, client_order_id: str) -> BinanceOrder:
        with self.lock:
            return next(o for o in self.orders.values() if o.client_order_id == client_order_id)

    def fill(
        self,
        client_order_id: str,
        qty: str,
        price: str | None = None,
        *,
        maker: bool = True,
        commission: str = "0.00001000",
        commission_asset: str = "BTC",
    ) -> int:
        """Execute ``qty`` of an open order (a trade in myTrades/userTrades); return the trade id."""
        with self.lock:
            order = self.order(client_order_id)
            size, px = Decimal(qty), Decimal(price) if price else order.price
            order.executed_qty += size
            order.status = "FILLED" if order.executed_qty >= order.orig_qty else "PARTIALLY_FILLED"
            order.update_time = self.now_ms()
            trade_id = next(self._trade_ids)
            if self.futures:  # Account Trade List (USD-M)
                row = {
                    "buyer": order.side == "BUY",
                    "commission": commission,
                    "commissionAsset": commission_asset,
                    "id": trade_id,
                    "maker": maker,
                    "orderId": order.order_id,
                    "price": str(px),
                    "qty": str(size),
                    "quoteQty": str(px * size),
                    "realizedPnl": "0",
                    "side": order.side,
                    "positionSide": "BOTH",
                    "symbol": order.symbol,
                    "time": self.now_ms(),
                }
            else:  # Account trade list (spot myTrades)
                row = {
                    "symbol": order.symbol,
                    "id": trade_id,
                    "orderId": order.order_id,
                    "orderListId": -1,
                    "price": f"{px:.8f}",
                    "qty": f"{size:.8f}",
                    "quoteQty": f"{px * size:.8f}",
                    "commission": commission,
                    "commissionAsset": commission_asset,
                    "time": self.now_ms(),
                    "isBuyer": order.side == "BUY",
                    "isMaker": maker,
                    "isBestMatch": True,
                }
            self.trades.append(row)
            return trade_id


# -- HTX -------------------------------------------------------------------------------------------


@dataclass
class HtxOrder:
    order_id: int
    client_order_id: str
    symbol: str
    type: str
    price: Decimal
    amount: Decimal
    filled: Decimal = Decimal(0)
    state: str = "submitted"
    created_at: int = 0
    canceled_at: int = 0


class HtxEmulator(LoopbackVenue):
    """HTX spot v1, one spot account, documented answer shapes, signature version 2 checked."""

    ACCOUNT_ID = 10000001

    def __init__(self, *, balances: dict[str, str] | None = None) -> None:
        super().__init__()
        self.orders: dict[int, HtxOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self.balances = {k: Decimal(v) for k, v in (balances or {"usdt": "10000", "btc": "1"}).items()}
        self._ids = itertools.count(59378)
        self._record_ids = itertools.count(29553)
        self.route("GET", "/v1/common/timestamp", lambda r: (200, {"status": "ok", "data": self.now_ms()}))
        self.route("GET", "/v1/account/accounts", self._accounts)
        self.route("GET", r"/v1/account/accounts/(?P<account>\d+)/balance", self._balance)
        self.route("POST", "/v1/order/orders/place", self._place)
        self.route("POST", "/v1/order/orders/submitCancelClientOrder", self._cancel)
        self.route("GET", "/v1/order/orders/getClientOrder", self._get_client_order)
        self.route("GET", r"/v1/order/orders/(?P<order_id>\d+)", self._get_order)
        self.route("GET", "/v1/order/openOrders", self._open_orders)
        self.route("GET", "/v1/order/matchresults", self._matchresults)

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        if parts.path != "/v1/common/timestamp":
            problem = self._check_signature(http.command, http.headers.get("Host", ""), parts.path, parts.query)
            if problem is not None:
                with self.lock:
                    self.requests.append(
                        Request(http.command, parts.path, dict(parse_qsl(parts.query)), dict(http.headers.items()), "")
                    )
                data = json.dumps(problem).encode()
                http.send_response(200)
                http.send_header("Content-Type", "application/json")
                http.send_header("Content-Length", str(len(data)))
                http.end_headers()
                http.wfile.write(data)
                return
        super()._serve(http)

    def _check_signature(self, method: str, host: str, path: str, query: str) -> dict[str, Any] | None:
        """Signature version 2: base64 HMAC-SHA256 of "METHOD\\nhost\\npath\\nsorted query"."""
        auth, _, signature = query.rpartition("&Signature=")
        params = dict(parse_qsl(auth, keep_blank_values=True))
        if params.get("AccessKeyId") != KEY:
            return {
                "status": "error",
                "err-code": "api-signature-not-valid",
                "err-msg": "Signature not valid: Incorrect Access key [Access key错误]",
                "data": None,
            }
        payload = "\n".join([method, host, path, auth])
        expected = base64.b64encode(hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(unquote(signature), expected):
            return {
                "status": "error",
                "err-code": "api-signature-not-valid",
                "err-msg": "Signature not valid: Verification failure [校验失败]",
                "data": None,
            }
        sent_ms = calendar.timegm(time.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%S")) * 1000
        if abs(self.now_ms() - sent_ms) > 5 * 60 * 1000:
            return {
                "status": "error",
                "err-code": "api-signature-not-valid",
                "err-msg": "Signature not valid: Timestamp is expired [时间戳过期]",
                "data": None,
            }
        return None

    # -- answers -----------------------------------------------------------------------------

    def _order_json(self, o: HtxOrder) -> dict[str, Any]:
        return {  # Get the order detail of an order (based on client order ID)
            "id": o.order_id, "symbol": o.symbol, "account-id": self.ACCOUNT_ID, "client-order-id": o.client_order_id,
            "amount": f"{o.amount:.6f}", "price": f"{o.price:.2f}", "created-at": o.created_at, "type": o.type,
            "field-amount": f"{o.filled:.6f}", "field-cash-amount": f"{o.filled * o.price:.8f}",
            "field-fees": "0.0", "finished-at": o.canceled_at, "source": "spot-api", "state": o.state,
            "canceled-at": o.canceled_at,
        }  # fmt: skip

    def _accounts(self, request: Request) -> tuple[int, Any]:
        return 200, {
            "status": "ok",
            "data": [
                {"id": self.ACCOUNT_ID, "type": "spot", "subtype": "", "state": "working"},
                {"id": 10000002, "type": "otc", "subtype": "", "state": "working"},
            ],
        }

    def _balance(self, request: Request, account: str) -> tuple[int, Any]:
        rows = []
        for currency, amount in self.balances.items():
            rows += [
                {"currency": currency, "type": "trade", "balance": f"{amount:.8f}", "seq-num": "477"},
                {"currency": currency, "type": "frozen", "balance": "0.00000000", "seq-num": "477"},
            ]
        return 200, {"status": "ok", "data": {"id": int(account), "type": "spot", "state": "working", "list": rows}}

    def _place(self, request: Request) -> tuple[int, Any]:
        p = request.params
        cid = p["client-order-id"]
        if any(o.client_order_id == cid for o in self.orders.values()):
            return 200, {
                "status": "error",
                "err-code": "order-duplicate-client-order-id",
                "err-msg": "Duplicate client-order-id",
                "data": None,
            }
        price, amount = Decimal(p.get("price", "0")), Decimal(p["amount"])
        if p["type"].startswith("buy") and price * amount > self.balances.get("usdt", Decimal(0)):
            return 200, {
                "status": "error",
                "err-code": "account-frozen-balance-insufficient-error",
                "err-msg": "trade account balance is not enough, left: `10000.0`",
                "data": None,
            }
        order = HtxOrder(next(self._ids), cid, p["symbol"], p["type"], price, amount, created_at=self.now_ms())
        self.orders[order.order_id] = order
        return 200, {"status": "ok", "data": str(order.order_id)}

    def _by_client(self, cid: str) -> HtxOrder | None:
        return next((o for o in self.orders.values() if o.client_order_id == cid), None)

    def _cancel(self, request: Request) -> tuple[int, Any]:
        order = self._by_client(request.params["client-order-id"])
        if order is None:
            return 200, {"status": "ok", "data": 0}  # 0: client order id not found
        if order.state not in ("submitted", "partial-filled"):
            return 200, {"status": "ok", "data": 7 if order.state == "canceled" else 6}
        order.state = "partial-canceled" if order.filled else "canceled"
        order.canceled_at = self.now_ms()
        return 200, {"status": "ok", "data": 10}

    def _get_client_order(self, request: Request) -> tuple[int, Any]:
        order = self._by_client(request.params["clientOrderId"])
        if order is None:
            return 200, {
                "status": "error",
                "err-code": "base-record-invalid",
                "err-msg": "record invalid",
                "data": None,
            }
        return 200, {"status": "ok", "data": self._order_json(order)}

    def _get_order(self, request: Request, order_id: str) -> tuple[int, Any]:
        order = self.orders.get(int(order_id))
        if order is None:
            return 200, {
                "status": "error",
                "err-code": "base-record-invalid",
                "err-msg": "record invalid",
                "data": None,
            }
        return 200, {"status": "ok", "data": self._order_json(order)}

    def _open_orders(self, request: Request) -> tuple[int, Any]:
        rows = []
        for o in self.orders.values():
            if o.state in ("submitted", "partial-filled") and o.symbol == request.params.get("symbol"):
                rows.append(
                    {  # Get all open orders
                        "symbol": o.symbol,
                        "source": "spot-api",
                        "price": f"{o.price:.2f}",
                        "created-at": o.created_at,
                        "amount": f"{o.amount:.6f}",
                        "account-id": self.ACCOUNT_ID,
                        "filled-cash-amount": "0.0",
                        "client-order-id": o.client_order_id,
                        "filled-amount": f"{o.filled:.6f}",
                        "filled-fees": "0.0",
                        "id": o.order_id,
                        "state": o.state,
                        "type": o.type,
                    }
                )
        return 200, {"status": "ok", "data": rows}

    def _matchresults(self, request: Request) -> tuple[int, Any]:
        p = request.params
        rows = [t for t in self.trades if t["symbol"] == p["symbol"]]
        if "from" in p and p.get("direct") == "next":
            rows = [t for t in rows if t["id"] > int(p["from"])]
        elif "start-time" in p:
            rows = [t for t in rows if t["created-at"] >= int(p["start-time"])]
        return 200, {"status": "ok", "data": rows[: int(p.get("size", "100"))]}

    # -- the market, as the test drives it ---------------------------------------------------

    def fill(self, client_order_id: str, amount: str, *, role: str = "maker", fee: str = "0.0000020") -> int:
        with self.lock:
            order = self._by_client(client_order_id)
            assert order is not None
            size = Decimal(amount)
            order.filled += size
            order.state = "filled" if order.filled >= order.amount else "partial-filled"
            record = next(self._record_ids)
            self.trades.append(
                {  # Search match results
                    "symbol": order.symbol,
                    "fee-currency": "btc",
                    "source": "spot-api",
                    "price": f"{order.price:.2f}",
                    "created-at": self.now_ms(),
                    "role": role,
                    "order-id": order.order_id,
                    "match-id": 100000 + record,
                    "trade-id": 200000 + record,
                    "filled-amount": f"{size:.6f}",
                    "filled-fees": fee,
                    "filled-points": "0.0",
                    "fee-deduct-currency": "",
                    "fee-deduct-state": "done",
                    "id": record,
                    "type": order.type,
                }
            )
            return 200000 + record

    def cancel_by_venue(self, client_order_id: str) -> None:
        """The venue removes the order by itself (e.g. a limit-maker order that would take)."""
        with self.lock:
            order = self._by_client(client_order_id)
            assert order is not None
            order.state, order.canceled_at = "canceled", self.now_ms()
