"""Live order entry over ccxt's synchronous REST API: :class:`CcxtExecutionClient`, an ``ExecutionClient``.

One client trades one venue (a Binance market or HTX spot) through a
:class:`VenueAdapter` from the venue's folder (``jtrader/gateways/<venue>/execution.py``),
which builds the ccxt exchange, the raw requests (exact decimal strings from
ticks and lots, never floats) and parses the venue's raw answers back into
ticks and lots. Entry point: :func:`live_execution_client`.

Threads. ``send`` only queues the command (an unbounded queue: commands are
never dropped). A worker thread owns the ccxt exchange and makes every REST
call, one command at a time, in order. Events it produces wait in a deque and
the worker signals an inproc PAIR socket; the OMS registers the client with
its bus ``Poller`` (it has a ``socket``) and calls :meth:`CcxtExecutionClient.poll`
(alias ``drain``), which delivers the events to the handler on the OMS
thread, exactly like the simulated venue's client.

Guarantees:

- Idempotent client order ids: ours is sent as the venue's client id (Binance
  ``newClientOrderId``, HTX ``client-order-id``). A second ``VenueSubmit`` with a
  known id sends nothing (the last outcome is repeated). When a submit's
  outcome is unknown (timeout, connection lost, venue "status unknown"), the
  order is looked up by client id before anything is resent, so one command
  never makes two orders.
- Rate limits: ccxt's ``enableRateLimit`` spaces requests; a rate-limit or
  DDoS answer (HTTP 429/418, Binance -1003/-1015, HTX frequency errors) backs
  off exponentially with jitter (honouring ``Retry-After``) and retries the
  same command: nothing is dropped.
- Clock skew: the time difference to the venue is measured at start
  (``load_time_difference``), every ``resync_interval`` and again whenever the
  venue refuses a request's timestamp (Binance -1021), then the request is retried.
- Venue errors become a :class:`~jtrader.bus.messages.VenueReject` with a
  ``RejectReason`` (insufficient funds, invalid order, post-only would take,
  FOK not fillable, unknown order for a cancel with ``request=CANCEL``, ...) and a
  message naming the venue's own code and text, with any credential redacted.
- Fills are found by polling the account's trades every ``poll_interval`` for
  the instruments with open orders, deduplicated by trade id, and emitted as
  ``VenueFill`` with exact ticks, lots and the venue's fee. Orders that leave
  the book without a cancel of ours (IOC/FOK remainders, venue cancels) are
  found by polling open orders and reported as expired/cancelled.
- Amend: Binance USD-M and COIN-M modify the order in place (native: same
  order, same client id). Binance spot has no price amend: its one-request
  cancel-replace endpoint places a new venue order. HTX has neither: this
  client cancels, waits for the cancel to be confirmed, then places the
  replacement. Replacements carry the client id ``<id>_r<n>`` and their fills
  are reported under ``<id>``; the ``VenueAmended`` quantity is the true total
  (filled before the cancel plus the replacement), and a refused replacement
  is reported as a rejected amend followed by ``VenueCancelled``.
- ``VenueQuery`` is answered with a ``VenueSnapshot``: open orders, the
  account's trades since ``fills_since_ns`` and balances.
- A handler that raises is logged and counted; the other events are delivered.

Exceptions::

    VenueFailure(Exception)           a classified venue error inside the worker (never escapes it)
     +-- ReplacementRefused           cancel-replace: the original is gone, the replacement was refused
    UnsupportedOrder(ValueError)      the venue cannot express this order (adapters raise it)
    VenueUnavailable(RuntimeError)    no live order entry for the venue (e.g. BitMEX, closed)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import logging
import queue
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import ccxt
import zmq

from jtrader.bus.messages import (
    Heartbeat,
    RejectReason,
    RequestKind,
    VenueAck,
    VenueAmend,
    VenueAmended,
    VenueCancel,
    VenueCancelled,
    VenueCommand,
    VenueEvent,
    VenueExpired,
    VenueFill,
    VenueOrderState,
    VenueQuery,
    VenueReject,
    VenueSnapshot,
    VenueSubmit,
)
from jtrader.domain import (
    Fill,
    Instrument,
    InstrumentId,
    InstrumentRegistry,
    LiquiditySide,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Venue,
)
from jtrader.gateways.base import VenueEventHandler
from jtrader.gateways.credentials import ApiCredentials, protect, redact

__all__ = [
    "price_text",
    "AmendRequest",
    "AmendResult",
    "CcxtExecutionClient",
    "Failure",
    "FailureKind",
    "ReplacementRefused",
    "SubmitResult",
    "UnsupportedOrder",
    "VenueAdapter",
    "VenueFailure",
    "VenueOrder",
    "VenueTrade",
    "VenueUnavailable",
    "execution_adapter",
    "live_execution_client",
    "replacement_client_id",
    "base_client_id",
    "classify_ccxt_error",
    "point_exchange_at",
]

log = logging.getLogger("jtrader.gateways.execution")

T = TypeVar("T")

_NS_PER_MS = 1_000_000
_TERMINAL = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED)
_REPLACEMENT = re.compile(r"^(?P<base>.+)_r(?P<n>\d+)$")
_MAX_SEEN_TRADES = 200_000
_TRADE_LOOKBACK_MS = 23 * 3600 * 1000  # venues cap a trade query's time window at about a day


# -- what adapters speak ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """The venue's record of one order, in exact ticks and lots."""

    venue_client_id: str
    venue_order_id: str
    instrument_id: InstrumentId
    side: Side
    quantity_lots: int
    filled_lots: int
    price_ticks: int | None
    status: OrderStatus  # ACKED (working), PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED or REJECTED
    ts_event: int = 0


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One execution of the account, as the venue reports it; ``cursor`` orders trades for paging."""

    trade_id: str
    cursor: int
    venue_order_id: str
    instrument_id: InstrumentId
    side: Side
    price_ticks: int
    size_lots: int
    liquidity: LiquiditySide
    fee: Decimal
    fee_currency: str
    ts_event: int
    venue_client_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A placed order and the executions the venue reported with the placement (if any)."""

    order: VenueOrder
    trades: tuple[VenueTrade, ...] = ()


@dataclass(frozen=True, slots=True)
class AmendRequest:
    """What an adapter needs to amend an order: where it stands and where it should go."""

    instrument: Instrument
    venue_client_id: str
    venue_order_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    filled_lots: int  # on the current venue order, as last known
    quantity_lots: int  # the current venue order's own quantity
    new_quantity_lots: int  # the new venue order quantity (total, including what is filled)
    new_price_ticks: int | None
    replacement_client_id: str  # for venues that replace the order


@dataclass(frozen=True, slots=True)
class AmendResult:
    """The working order after an amend: ``order`` (maybe a new venue order) and what was filled before."""

    order: VenueOrder
    filled_before_lots: int = 0  # filled on the replaced venue order (cancel-replace), else 0
    trades: tuple[VenueTrade, ...] = ()


class FailureKind(Enum):
    RATE_LIMITED = "rate_limited"  # back off, then the same request again
    CLOCK = "clock"  # resync the time difference, then again
    UNKNOWN_OUTCOME = "unknown_outcome"  # timeout or connection lost: the request may have been executed
    NOT_FOUND = "not_found"  # the venue has no such order
    DUPLICATE = "duplicate"  # the client order id is in use already
    AUTH = "auth"  # bad key, signature or permissions
    REJECTED = "rejected"  # the venue refused the request; ``reason`` says why


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    reason: RejectReason = RejectReason.VENUE_REJECT
    message: str = ""
    retry_after: float | None = None


class VenueFailure(Exception):
    """A venue error, classified."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class ReplacementRefused(VenueFailure):
    """Cancel-replace: the original order was cancelled but the replacement was refused."""

    def __init__(self, failure: Failure, cancelled: VenueOrder | None = None) -> None:
        super().__init__(failure)
        self.cancelled = cancelled


class UnsupportedOrder(ValueError):
    """The venue cannot express this order; the message says what would work."""


class VenueUnavailable(RuntimeError):
    """There is no live order entry for this venue; the message says why."""


class VenueAdapter(Protocol):
    """The venue-specific half of order entry (one per venue folder).

    Every method runs on the worker thread with the ccxt exchange built by
    :meth:`create_exchange`; ccxt exceptions propagate and are classified by
    :meth:`classify` (then by the generic ccxt mapping).
    """

    venue: Venue
    label: str  # the venue's name in messages, e.g. "binance spot"
    amend_mode: str  # "native", "venue cancel-replace" or "cancel-replace"
    max_client_id_length: int

    def create_exchange(self, config: dict[str, Any]) -> Any: ...

    def prepare(self, exchange: Any) -> None: ...

    def submit(
        self, exchange: Any, command: VenueSubmit, instrument: Instrument, venue_client_id: str
    ) -> SubmitResult: ...

    def cancel(self, exchange: Any, instrument: Instrument, venue_client_id: str) -> VenueOrder: ...

    def amend(self, exchange: Any, request: AmendRequest) -> AmendResult | None:
        """Amend natively (or by the venue's own cancel-replace); None: the core cancels and replaces."""
        ...

    def fetch_order(
        self,
        exchange: Any,
        instrument: Instrument,
        *,
        venue_client_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder: ...

    def fetch_open_orders(self, exchange: Any, instrument: Instrument) -> list[VenueOrder]: ...

    def fetch_trades(
        self, exchange: Any, instrument: Instrument, *, since_ms: int | None, after_cursor: int | None
    ) -> list[VenueTrade]:
        """The account's trades in ``instrument`` after ``after_cursor`` (else since ``since_ms``, else
        the most recent), oldest first, every page."""
        ...

    def fetch_balances(self, exchange: Any) -> dict[str, Decimal]: ...

    def classify(self, exc: Exception, body: Any) -> Failure | None:
        """The venue's own reading of an error (``body``: the parsed error response); None: use ccxt's class."""
        ...


# -- client ids -----------------------------------------------------------------------------


def price_text(instrument: Instrument, ticks: int | None) -> str:
    """The exact decimal text of a positive price in ``ticks`` (what venues' order APIs take)."""
    if ticks is None or ticks <= 0:
        raise UnsupportedOrder(f"a positive price is required, got {ticks}")
    return str(instrument.ticks_to_price(ticks))


def replacement_client_id(client_order_id: str, n: int) -> str:
    """The venue client id of the ``n``-th replacement of ``client_order_id`` (cancel-replace amends)."""
    return f"{client_order_id}_r{n}"


def base_client_id(venue_client_id: str) -> str:
    """Our client order id behind a venue client id (strips a replacement suffix)."""
    match = _REPLACEMENT.match(venue_client_id)
    return match.group("base") if match else venue_client_id


# -- generic classification ---------------------------------------------------------------------


def classify_ccxt_error(exc: Exception, label: str) -> Failure:
    """Map a ccxt exception class to a :class:`Failure` (used when the adapter has no better reading)."""
    text = redact(str(exc))[:300]
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return Failure(FailureKind.RATE_LIMITED, message=f"{label} rate limit: {text}")
    if isinstance(exc, ccxt.InvalidNonce):
        return Failure(FailureKind.CLOCK, message=f"{label} refused the request time: {text}")
    if isinstance(exc, ccxt.OrderNotFound):
        return Failure(FailureKind.NOT_FOUND, RejectReason.UNKNOWN_ORDER, f"{label}: unknown order ({text})")
    if isinstance(exc, ccxt.DuplicateOrderId):
        return Failure(FailureKind.DUPLICATE, RejectReason.DUPLICATE_CLIENT_ORDER_ID, f"{label}: {text}")
    if isinstance(exc, ccxt.InsufficientFunds):
        return Failure(FailureKind.REJECTED, RejectReason.INSUFFICIENT_FUNDS, f"{label}: insufficient funds ({text})")
    if isinstance(exc, ccxt.OrderImmediatelyFillable):
        return Failure(FailureKind.REJECTED, RejectReason.POST_ONLY_WOULD_TAKE, f"{label}: {text}")
    if isinstance(exc, ccxt.OrderNotFillable):
        return Failure(FailureKind.REJECTED, RejectReason.FOK_NOT_FILLABLE, f"{label}: {text}")
    if isinstance(exc, ccxt.AuthenticationError):
        return Failure(
            FailureKind.AUTH,
            RejectReason.NOT_AUTHORISED,
            f"{label} refused the API key ({text}): check the key, its permissions and IP whitelist",
        )
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest):
        return Failure(FailureKind.REJECTED, RejectReason.INVALID_ORDER, f"{label}: invalid order ({text})")
    if isinstance(exc, ccxt.NetworkError | ccxt.OperationFailed):
        return Failure(FailureKind.UNKNOWN_OUTCOME, message=f"{label}: {type(exc).__name__} ({text})")
    return Failure(FailureKind.REJECTED, RejectReason.VENUE_REJECT, f"{label}: {text}")


def point_exchange_at(exchange: Any, base_url: str) -> None:
    """Send every REST call of ``exchange`` to ``base_url`` (a testnet or a local emulator), keeping paths."""
    base = urlsplit(base_url)
    if not base.scheme or not base.netloc:
        raise ValueError(f"base_url: expected 'http(s)://host[:port]', got {base_url!r}")

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, str) and "://" in value:
            parts = urlsplit(value.replace("{hostname}", "placeholder.invalid"))
            return parts._replace(scheme=base.scheme, netloc=base.netloc).geturl()
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])
    exchange.hostname = base.netloc
    hostnames = exchange.urls.get("hostnames")
    if isinstance(hostnames, dict):
        exchange.urls["hostnames"] = {k: base.netloc for k in hostnames}


# -- the client ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Order:
    """An order this client placed (or found open at the venue)."""

    client_order_id: str
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity_lots: int  # our total quantity
    price_ticks: int | None
    venue_client_id: str
    venue_order_id: str = ""
    filled_lots: int = 0  # as emitted in fills
    base_filled_lots: int = 0  # filled on venue orders this one replaced
    open: bool = True
    replacements: int = 0
    cancel_requested: bool = False
    outcome: VenueEvent | None = None  # the submit's answer, repeated to a duplicate submit
    venue_quantity_lots: int = 0  # the current venue order's own quantity


class _Stopping(Exception):
    pass


_STOP = object()


@dataclass
class _Cursor:
    after: int | None = None
    since_ms: int | None = None


class CcxtExecutionClient:
    """Order entry on a live venue through ccxt, for the OMS process.

    Example::

        client = live_execution_client(Venue.BINANCE, registry, load_credentials(Venue.BINANCE))
        client.connect(oms_events.append)
        poller.register(client)             # a bus Poller: it watches client.socket
        client.send(VenueSubmit(...))
        ...
        client.poll()                       # when readable, and on the loop's timer
    """

    def __init__(
        self,
        adapter: VenueAdapter,
        instruments: InstrumentRegistry,
        credentials: ApiCredentials,
        *,
        context: zmq.Context[Any] | None = None,
        base_url: str | None = None,
        poll_interval: float = 1.0,
        timeout: float = 10.0,
        rate_limit_ms: float | None = None,
        recv_window_ms: int = 5000,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        resync_interval: float = 1800.0,
        account_id: str = "",
        query_on_connect: bool = False,
        name: str | None = None,
    ) -> None:
        self.adapter = adapter
        self.venue: Venue = adapter.venue
        self.name = name or f"{adapter.venue.value}-exec"
        self.instruments = instruments
        self.poll_interval = poll_interval
        self.account_id = account_id
        self.query_on_connect = query_on_connect
        self.counters: Counter[str] = Counter()
        self._credentials = credentials
        protect(credentials)
        self._exchange_config: dict[str, Any] = {
            "apiKey": credentials.key,
            "secret": credentials.secret,
            "enableRateLimit": True,
            "timeout": int(timeout * 1000),
            "verbose": False,  # verbose print()s request headers, i.e. the key
            "enableLastJsonResponse": True,
            "enableLastResponseHeaders": True,
            "options": {"adjustForTimeDifference": True, "recvWindow": recv_window_ms},
        }
        if rate_limit_ms is not None:
            self._exchange_config["rateLimit"] = rate_limit_ms
        self._base_url = base_url
        self._timeout = timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._resync_interval = resync_interval
        self._handler: VenueEventHandler | None = None
        self._commands: queue.Queue[Any] = queue.Queue()
        self._events: deque[VenueEvent] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx = context or zmq.Context.instance()
        self._endpoint = f"inproc://jtrader-exec-{self.venue.value}-{id(self):x}"
        self.socket: zmq.Socket[Any] = self._ctx.socket(zmq.PAIR)
        self.socket.linger = 0
        self.socket.bind(self._endpoint)
        self._closed = False
        # worker state (touched by the worker thread only)
        self._exchange: Any = None
        self._orders: dict[str, _Order] = {}
        self._by_venue_order: dict[str, str] = {}
        self._active: set[InstrumentId] = set()
        self._cursors: dict[InstrumentId, _Cursor] = {}
        self._seen_trades: dict[tuple[InstrumentId, str], None] = {}
        self._last_sync = 0.0
        self._wake: zmq.Socket[Any] | None = None
        self._started_ms = 0
        self.ready = threading.Event()  # set once the session is up (clock synced, adapter prepared)

    # -- ExecutionClient -----------------------------------------------------------------------

    def connect(self, on_event: VenueEventHandler) -> None:
        """Deliver venue events to ``on_event`` (from :meth:`poll`) and start the worker thread."""
        if self._closed:
            raise RuntimeError(f"{self.name}: closed")
        self._handler = on_event
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        if self.query_on_connect:
            self.send(VenueQuery(ts=time.time_ns()))

    def send(self, command: VenueCommand) -> None:
        """Queue ``command`` for the venue without blocking; its outcome arrives as events."""
        if self._closed:
            self.counters["sent_after_close"] += 1
            log.warning("%s: closed; %s dropped", self.name, type(command).__name__)
            return
        self._commands.put((command, time.time_ns()))

    def poll(self, max_events: int = 1024) -> int:
        """Deliver up to ``max_events`` waiting events to the handler on this thread; return how many."""
        handler = self._handler
        if handler is None:
            raise RuntimeError(f"{self.name}: call connect(on_event) before poll()")
        while True:
            try:
                self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        delivered = 0
        events = self._events
        while delivered < max_events and events:
            event = events.popleft()
            delivered += 1
            try:
                handler(event)
            except Exception:
                self.counters["handler_errors"] += 1
                log.exception("%s: the event handler raised on %s; carrying on", self.name, type(event).__name__)
        return delivered

    drain = poll

    def wait(self, timeout_ms: int) -> int:
        """Wait up to ``timeout_ms`` for events, then :meth:`poll` (for simple loops and tests)."""
        if not self._events:
            self.socket.poll(timeout_ms, zmq.POLLIN)
        return self.poll()

    @property
    def pending(self) -> int:
        """Commands queued and not yet handled by the worker."""
        return self._commands.qsize()

    def close(self) -> None:
        """Stop the worker (after the call in flight, at most the request timeout) and close the socket."""
        if self._closed:
            return
        self._closed = True
        left = self._commands.qsize()
        if left:
            log.warning("%s: closing with %d commands not sent to %s", self.name, left, self.adapter.label)
        self._stop.set()
        self._commands.put(_STOP)
        if self._thread is not None:
            self._thread.join(self._timeout + 2.0)
        self.socket.close(linger=0)

    def __repr__(self) -> str:
        return f"CcxtExecutionClient({self.adapter.label}, pending={self.pending}, events={len(self._events)})"

    # -- the worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        wake = self._wake = self._ctx.socket(zmq.PAIR)
        wake.linger = 0
        wake.connect(self._endpoint)
        try:
            try:
                self._start_session()
            except VenueFailure as exc:
                self._dead(exc.failure)
                return
            next_poll = time.monotonic() + self.poll_interval
            while not self._stop.is_set():
                timeout = max(0.0, next_poll - time.monotonic())
                try:
                    command = self._commands.get(timeout=timeout)
                except queue.Empty:
                    command = None
                if command is _STOP:
                    break
                if command is not None:
                    self._handle(*command)
                    self._signal()
                if time.monotonic() >= next_poll:
                    self._maybe_resync()
                    self._poll_venue()
                    self._signal()
                    next_poll = time.monotonic() + self.poll_interval
        except _Stopping:
            pass
        except Exception:  # a bug, not a venue error: say so loudly, the OMS sees the venue go quiet
            self.counters["worker_crashed"] += 1
            log.critical("%s: the worker thread failed; no further orders reach %s", self.name, self.adapter.label)
            log.debug("%s: worker failure", self.name, exc_info=True)
        finally:
            wake.close(linger=0)

    def _dead(self, failure: Failure) -> None:
        """The session cannot start (e.g. the key is refused): refuse every command until closed."""
        self.counters["session_failed"] += 1
        log.critical("%s: cannot start the session with %s: %s", self.name, self.adapter.label, failure.message)
        while True:
            item = self._commands.get()
            if item is _STOP or self._stop.is_set():
                return
            command = item[0]
            cid = getattr(command, "client_order_id", None)
            if cid is None:
                continue
            request = RequestKind.SUBMIT
            if isinstance(command, VenueCancel):
                request = RequestKind.CANCEL
            elif isinstance(command, VenueAmend):
                request = RequestKind.AMEND
            self._reject(cid, failure.reason, f"no session with {self.adapter.label}: {failure.message}", request)
            self._signal()

    def _start_session(self) -> None:
        exchange = self.adapter.create_exchange(dict(self._exchange_config))
        exchange.logger = logging.getLogger("ccxt.base.exchange")
        exchange.verbose = False
        if self._base_url:
            point_exchange_at(exchange, self._base_url)
        self._exchange = exchange
        self._started_ms = int(time.time() * 1000)
        self._sync_clock()
        self._call("prepare", lambda: self.adapter.prepare(exchange))
        self.ready.set()
        log.info("%s: session with %s up (amend: %s)", self.name, self.adapter.label, self.adapter.amend_mode)

    def _handle(self, command: Any, sent_ns: int) -> None:
        kind = type(command)
        self.counters[f"command.{kind.__name__}"] += 1
        try:
            if kind is VenueSubmit:
                self._submit(command)
            elif kind is VenueCancel:
                self._cancel(command)
            elif kind is VenueAmend:
                self._amend(command)
            elif kind is VenueQuery:
                self._query(command, sent_ns)
            elif kind is Heartbeat:
                self._emit(Heartbeat(ts=time.time_ns(), sender=self.name, sequence=command.sequence))
        except _Stopping:
            raise
        except VenueFailure as exc:  # a query or lookup that failed for good
            self.counters["command_failed"] += 1
            log.error("%s: %s failed: %s", self.name, kind.__name__, exc.failure.message)
        except Exception:  # a bug: logged (redacted) and counted, the next command is handled
            self.counters["command_crashed"] += 1
            log.exception("%s: handling %s raised; the next reconciliation shows its outcome", self.name, kind.__name__)

    # -- calls, retries, backoff -----------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T], *, retry_unknown: bool = True) -> T:
        """Run one venue call: back off on rate limits, resync the clock on time errors.

        ``retry_unknown``: also retry (with backoff) when the outcome is unknown
        (safe for reads and cancels); otherwise raise so the caller can look up first.
        """
        attempt = 0
        resyncs = 0
        while True:
            if self._stop.is_set():
                raise _Stopping()
            exchange = self._exchange
            exchange.last_json_response = None
            exchange.last_response_headers = None
            try:
                return fn()
            except (VenueFailure, UnsupportedOrder):
                raise
            except ccxt.BaseError as exc:
                failure = self._classify(exc)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # An answer we cannot read (a stale instrument definition, a changed field): refuse loudly.
                self.counters["malformed_answer"] += 1
                message = redact(f"{self.adapter.label}: unreadable answer to {what} ({type(exc).__name__}: {exc})")
                log.error("%s: %s", self.name, message)
                raise VenueFailure(Failure(FailureKind.REJECTED, RejectReason.VENUE_REJECT, message)) from None
            kind = failure.kind
            self.counters[f"failure.{kind.value}"] += 1
            if kind is FailureKind.RATE_LIMITED or (kind is FailureKind.UNKNOWN_OUTCOME and retry_unknown):
                delay = self._backoff(attempt, failure.retry_after)
                log.warning("%s: %s: %s; retrying in %.2fs", self.name, what, failure.message, delay)
                attempt += 1
                self._sleep(delay)
                continue
            if kind is FailureKind.CLOCK and resyncs < 3:
                resyncs += 1
                log.warning("%s: %s: %s; resyncing the clock", self.name, what, failure.message)
                self._sync_clock()
                continue
            raise VenueFailure(failure)

    def _classify(self, exc: Exception) -> Failure:
        body = getattr(self._exchange, "last_json_response", None)
        failure = self.adapter.classify(exc, body) or classify_ccxt_error(exc, self.adapter.label)
        if failure.kind is FailureKind.RATE_LIMITED and failure.retry_after is None:
            headers = getattr(self._exchange, "last_response_headers", None) or {}
            try:
                retry_after = float(headers.get("Retry-After", ""))
            except (TypeError, ValueError):
                retry_after = None
            if retry_after is not None:
                failure = Failure(failure.kind, failure.reason, failure.message, retry_after)
        return Failure(failure.kind, failure.reason, redact(failure.message), failure.retry_after)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self._backoff_cap, self._backoff_base * 2**attempt) * (0.5 + random.random() / 2)
        return max(delay, min(retry_after or 0.0, self._backoff_cap))

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopping()

    def _sync_clock(self) -> None:
        exchange = self._exchange
        difference = self._call("time sync", lambda: exchange.load_time_difference())
        self._last_sync = time.monotonic()
        self.counters["clock_syncs"] += 1
        log.info("%s: local clock is %+d ms from %s", self.name, int(difference or 0), self.adapter.label)

    def _maybe_resync(self) -> None:
        if self._resync_interval > 0 and time.monotonic() - self._last_sync >= self._resync_interval:
            self._sync_clock()

    # -- events -------------------------------------------------------------------------------

    def _emit(self, event: VenueEvent) -> None:
        self._events.append(event)

    def _signal(self) -> None:
        wake = self._wake
        if wake is not None and self._events:
            with contextlib.suppress(zmq.Again):  # wake-ups are queued already: the OMS drains the deque
                wake.send(b"", zmq.NOBLOCK)

    def _reject(self, cid: str, reason: RejectReason, message: str, request: RequestKind) -> VenueReject:
        self.counters[f"reject.{request.value}.{reason.value}"] += 1
        event = VenueReject(ts=time.time_ns(), client_order_id=cid, reason=reason, message=message, request=request)
        self._emit(event)
        return event

    # -- submit -------------------------------------------------------------------------------

    def _instrument(self, instrument_id: InstrumentId) -> Instrument | None:
        if instrument_id.venue is not self.venue or instrument_id not in self.instruments:
            return None
        return self.instruments.get(instrument_id)

    def _submit(self, command: VenueSubmit) -> None:
        cid = command.client_order_id
        known = self._orders.get(cid)
        if known is not None:
            # Idempotent: the order exists (or was refused); never a second venue order.
            self.counters["duplicate_submit"] += 1
            if known.outcome is not None:
                self._emit(known.outcome)
            return
        instrument = self._instrument(command.instrument_id)
        if instrument is None:
            self._reject(
                cid,
                RejectReason.UNKNOWN_INSTRUMENT if command.instrument_id.venue is self.venue else RejectReason.NO_ROUTE,
                f"{self.adapter.label} does not trade {command.instrument_id}",
                RequestKind.SUBMIT,
            )
            return
        if len(cid) > self.adapter.max_client_id_length:
            self._reject(
                cid,
                RejectReason.INVALID_ORDER,
                f"{self.adapter.label} takes client order ids of at most {self.adapter.max_client_id_length} "
                f"characters, got {len(cid)}",
                RequestKind.SUBMIT,
            )
            return
        order = self._orders[cid] = _Order(
            cid,
            command.instrument_id,
            command.side,
            command.order_type,
            command.time_in_force,
            command.quantity_lots,
            command.price_ticks,
            venue_client_id=cid,
            venue_quantity_lots=command.quantity_lots,
        )
        try:
            result = self._place(command, instrument, cid)
        except UnsupportedOrder as exc:
            order.open = False
            order.outcome = self._reject(
                cid, RejectReason.INVALID_ORDER, f"{self.adapter.label}: {exc}", RequestKind.SUBMIT
            )
            return
        except VenueFailure as exc:
            order.open = False
            order.outcome = self._reject(cid, exc.failure.reason, exc.failure.message, RequestKind.SUBMIT)
            return
        self._apply_placed(order, result.order, result.trades)

    def _place(self, command: VenueSubmit, instrument: Instrument, venue_client_id: str) -> SubmitResult:
        """Place the order once: on an unknown outcome, look it up by client id before placing again."""
        adapter, exchange = self.adapter, self._exchange
        attempt = 0
        while True:
            try:
                return self._call(
                    "submit",
                    lambda: adapter.submit(exchange, command, instrument, venue_client_id),
                    retry_unknown=False,
                )
            except VenueFailure as exc:
                kind = exc.failure.kind
                if kind not in (FailureKind.UNKNOWN_OUTCOME, FailureKind.DUPLICATE):
                    raise
                self.counters[
                    "submit_outcome_unknown" if kind is FailureKind.UNKNOWN_OUTCOME else "submit_duplicate"
                ] += 1
                log.warning(
                    "%s: submit %s: %s; looking the order up before anything is resent",
                    self.name,
                    venue_client_id,
                    exc.failure.message,
                )
            self._sleep(self._backoff(attempt, None))
            attempt += 1
            found = self._lookup(instrument, venue_client_id)
            if found is not None:
                self.counters["submit_found_after_unknown"] += 1
                return SubmitResult(found)
            self.counters["submit_resent"] += 1

    def _lookup(self, instrument: Instrument, venue_client_id: str) -> VenueOrder | None:
        adapter, exchange = self.adapter, self._exchange
        try:
            return self._call(
                "lookup", lambda: adapter.fetch_order(exchange, instrument, venue_client_id=venue_client_id)
            )
        except VenueFailure as exc:
            if exc.failure.kind is FailureKind.NOT_FOUND:
                return None
            raise

    def _apply_placed(self, order: _Order, placed: VenueOrder, trades: Iterable[VenueTrade]) -> None:
        order.venue_order_id = placed.venue_order_id
        order.venue_quantity_lots = placed.quantity_lots
        self._by_venue_order[placed.venue_order_id] = order.client_order_id
        self._active.add(order.instrument_id)
        ack = VenueAck(ts=time.time_ns(), client_order_id=order.client_order_id, venue_order_id=placed.venue_order_id)
        order.outcome = ack
        self._emit(ack)
        for trade in trades:
            self._fill(trade)
        if placed.status in _TERMINAL:
            if placed.filled_lots + order.base_filled_lots > order.filled_lots:
                self._poll_trades(order.instrument_id)
            self._closed_by_venue(order, placed)

    # -- cancel -------------------------------------------------------------------------------

    def _cancel(self, command: VenueCancel) -> None:
        cid = command.client_order_id
        instrument = self._instrument(command.instrument_id)
        if instrument is None:
            self._reject(
                cid,
                RejectReason.UNKNOWN_INSTRUMENT,
                f"{self.adapter.label} does not trade {command.instrument_id}",
                RequestKind.CANCEL,
            )
            return
        order = self._orders.get(cid)
        if order is not None and not order.open:
            self._reject(
                cid,
                RejectReason.ORDER_NOT_OPEN,
                f"{self.adapter.label}: order {cid} is no longer open",
                RequestKind.CANCEL,
            )
            return
        venue_client_id = order.venue_client_id if order is not None else cid
        if order is not None:
            order.cancel_requested = True
        adapter, exchange = self.adapter, self._exchange
        try:
            state = self._call("cancel", lambda: adapter.cancel(exchange, instrument, venue_client_id))
        except VenueFailure as exc:
            if order is not None:
                order.cancel_requested = False
            if exc.failure.kind is not FailureKind.NOT_FOUND:
                self._reject(cid, exc.failure.reason, exc.failure.message, RequestKind.CANCEL)
                return
            # Unknown to the venue's cancel: filled or gone already, or never there.
            try:
                found = self._lookup(instrument, venue_client_id)
            except VenueFailure as lookup:
                self._reject(cid, lookup.failure.reason, lookup.failure.message, RequestKind.CANCEL)
                return
            if found is None:
                self._reject(
                    cid,
                    RejectReason.UNKNOWN_ORDER,
                    f"{self.adapter.label} has no order with client id {venue_client_id}",
                    RequestKind.CANCEL,
                )
                return
            order = order or self._adopt(found, instrument)
            if found.status not in _TERMINAL:
                self._reject(cid, RejectReason.VENUE_REJECT, exc.failure.message, RequestKind.CANCEL)
                return
            if found.filled_lots + order.base_filled_lots > order.filled_lots:
                self._poll_trades(order.instrument_id)
            if found.status is OrderStatus.FILLED:
                order.open = False
                self._reject(
                    cid,
                    RejectReason.ORDER_NOT_OPEN,
                    f"{self.adapter.label}: order {cid} is filled already",
                    RequestKind.CANCEL,
                )
            else:
                self._closed_by_venue(order, found)
            return
        if order is None:
            order = self._adopt(state, instrument)
            order.cancel_requested = True
        if state.filled_lots + order.base_filled_lots > order.filled_lots:
            self._poll_trades(order.instrument_id)
        if state.status is OrderStatus.FILLED:
            order.open = False
            self._reject(
                cid,
                RejectReason.ORDER_NOT_OPEN,
                f"{self.adapter.label}: order {cid} is filled already",
                RequestKind.CANCEL,
            )
        elif state.status in _TERMINAL:
            self._closed_by_venue(order, state)
        else:  # the venue took the cancel but has not confirmed it yet: the poller will see it go
            self.counters["cancel_pending"] += 1

    def _adopt(self, state: VenueOrder, instrument: Instrument) -> _Order:
        """Track an order this session did not place (found at the venue)."""
        cid = base_client_id(state.venue_client_id)
        order = self._orders.get(cid)
        if order is None:
            order = self._orders[cid] = _Order(
                cid,
                instrument.id,
                state.side,
                OrderType.LIMIT,
                TimeInForce.GTC,
                state.quantity_lots,
                state.price_ticks,
                venue_client_id=state.venue_client_id,
                venue_order_id=state.venue_order_id,
                filled_lots=state.filled_lots,
                venue_quantity_lots=state.quantity_lots,
            )
            order.outcome = VenueAck(ts=time.time_ns(), client_order_id=cid, venue_order_id=state.venue_order_id)
        self._by_venue_order[state.venue_order_id] = cid
        if state.status not in _TERMINAL:
            self._active.add(instrument.id)
        return order

    def _closed_by_venue(self, order: _Order, state: VenueOrder) -> None:
        """The venue order ended without a fill completing it: report how, once."""
        if not order.open:
            return
        order.open = False
        cid = order.client_order_id
        status = state.status
        if status is OrderStatus.FILLED:
            return  # the fills tell it
        filled = state.filled_lots + order.base_filled_lots
        if status is OrderStatus.REJECTED:
            self._reject(
                cid, RejectReason.VENUE_REJECT, f"{self.adapter.label} rejected order {cid}", RequestKind.SUBMIT
            )
        elif order.cancel_requested:
            self._emit(VenueCancelled(ts=time.time_ns(), client_order_id=cid))
        elif order.time_in_force is TimeInForce.POST_ONLY and filled == 0:
            self._reject(
                cid,
                RejectReason.POST_ONLY_WOULD_TAKE,
                f"{self.adapter.label} removed post-only order {cid}: it would have taken liquidity",
                RequestKind.SUBMIT,
            )
        elif status is OrderStatus.EXPIRED or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            self._emit(VenueExpired(ts=time.time_ns(), client_order_id=cid))
        else:
            self._emit(
                VenueCancelled(ts=time.time_ns(), client_order_id=cid, reason=f"cancelled by {self.adapter.label}")
            )

    # -- amend --------------------------------------------------------------------------------

    def _amend(self, command: VenueAmend) -> None:
        cid = command.client_order_id
        order = self._orders.get(cid)
        instrument = self._instrument(command.instrument_id)
        if order is None or instrument is None:
            self._reject(
                cid,
                RejectReason.UNKNOWN_ORDER,
                f"{self.adapter.label}: no order {cid} placed by this session",
                RequestKind.AMEND,
            )
            return
        if not order.open:
            self._reject(
                cid,
                RejectReason.ORDER_NOT_OPEN,
                f"{self.adapter.label}: order {cid} is no longer open",
                RequestKind.AMEND,
            )
            return
        price = command.price_ticks if command.price_ticks is not None else order.price_ticks
        replacement = replacement_client_id(cid, order.replacements + 1)
        request = AmendRequest(
            instrument=instrument,
            venue_client_id=order.venue_client_id,
            venue_order_id=order.venue_order_id,
            side=order.side,
            order_type=order.order_type,
            time_in_force=order.time_in_force,
            filled_lots=order.filled_lots - order.base_filled_lots,
            quantity_lots=order.venue_quantity_lots,
            new_quantity_lots=command.quantity_lots - order.base_filled_lots,
            new_price_ticks=price,
            replacement_client_id=replacement,
        )
        if len(replacement) > self.adapter.max_client_id_length and self.adapter.amend_mode != "native":
            self._reject(
                cid,
                RejectReason.INVALID_ORDER,
                f"{self.adapter.label}: amend replaces the order and the "
                f"replacement id {replacement!r} is longer than {self.adapter.max_client_id_length}",
                RequestKind.AMEND,
            )
            return
        adapter, exchange = self.adapter, self._exchange
        try:
            result = self._call("amend", lambda: adapter.amend(exchange, request), retry_unknown=False)
            if result is None:
                result = self._cancel_replace(order, request)
        except UnsupportedOrder as exc:
            self._reject(cid, RejectReason.INVALID_ORDER, f"{self.adapter.label}: {exc}", RequestKind.AMEND)
            return
        except ReplacementRefused as exc:
            if exc.cancelled is not None and exc.cancelled.filled_lots + order.base_filled_lots > order.filled_lots:
                self._poll_trades(order.instrument_id)
            self._reject(cid, exc.failure.reason, exc.failure.message, RequestKind.AMEND)
            if order.open:
                order.open = False
                self._emit(
                    VenueCancelled(
                        ts=time.time_ns(),
                        client_order_id=cid,
                        reason=f"amend by cancel-replace: the replacement was refused "
                        f"({exc.failure.message}); the original is cancelled",
                    )
                )
            return
        except VenueFailure as exc:
            failure = exc.failure
            if failure.kind is FailureKind.UNKNOWN_OUTCOME:
                failure = Failure(
                    failure.kind,
                    RejectReason.VENUE_REJECT,
                    f"{failure.message}; the amend's outcome is unknown: the next query shows the order",
                )
            self._reject(cid, failure.reason, failure.message, RequestKind.AMEND)
            return
        self._apply_amended(order, result)

    def _cancel_replace(self, order: _Order, request: AmendRequest) -> AmendResult:
        """Amend by cancelling the venue order and placing a replacement for what is left."""
        adapter, exchange, instrument = self.adapter, self._exchange, request.instrument
        try:
            cancelled = self._call(
                "amend: cancel", lambda: adapter.cancel(exchange, instrument, request.venue_client_id)
            )
        except VenueFailure as exc:
            if exc.failure.kind is FailureKind.NOT_FOUND:
                raise VenueFailure(
                    Failure(
                        FailureKind.REJECTED,
                        RejectReason.ORDER_NOT_OPEN,
                        f"{adapter.label}: order {order.client_order_id} is no longer open",
                    )
                ) from None
            raise
        if cancelled.status is OrderStatus.FILLED or cancelled.status not in _TERMINAL:
            if cancelled.filled_lots + order.base_filled_lots > order.filled_lots:
                self._poll_trades(order.instrument_id)
            what = "filled already" if cancelled.status is OrderStatus.FILLED else "not confirmed cancelled"
            raise VenueFailure(
                Failure(
                    FailureKind.REJECTED,
                    RejectReason.ORDER_NOT_OPEN,
                    f"{adapter.label}: order {order.client_order_id} is {what}; not replaced",
                )
            )
        leaves = request.new_quantity_lots - cancelled.filled_lots
        if leaves <= 0:  # amended down to what is filled: the order is complete
            done = dataclasses.replace(cancelled, quantity_lots=cancelled.filled_lots, status=OrderStatus.FILLED)
            return AmendResult(done)
        replacement = VenueSubmit(
            ts=time.time_ns(),
            client_order_id=request.replacement_client_id,
            instrument_id=instrument.id,
            side=request.side,
            order_type=request.order_type,
            quantity_lots=leaves,
            price_ticks=request.new_price_ticks
            if request.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
            else None,
            time_in_force=request.time_in_force,
        )
        try:
            placed = self._place(replacement, instrument, request.replacement_client_id)
        except (VenueFailure, UnsupportedOrder) as exc:
            failure = (
                exc.failure
                if isinstance(exc, VenueFailure)
                else Failure(FailureKind.REJECTED, RejectReason.INVALID_ORDER, str(exc))
            )
            raise ReplacementRefused(failure, cancelled) from None
        return AmendResult(placed.order, filled_before_lots=cancelled.filled_lots, trades=placed.trades)

    def _apply_amended(self, order: _Order, result: AmendResult) -> None:
        new = result.order
        if new.venue_client_id != order.venue_client_id:  # replaced
            order.replacements += 1
            order.base_filled_lots += result.filled_before_lots
            order.venue_client_id = new.venue_client_id
        if result.filled_before_lots + order.base_filled_lots > order.filled_lots or (
            new.filled_lots + order.base_filled_lots > order.filled_lots
        ):
            self._poll_trades(order.instrument_id)
        order.venue_order_id = new.venue_order_id
        order.venue_quantity_lots = new.quantity_lots
        self._by_venue_order[new.venue_order_id] = order.client_order_id
        total = order.base_filled_lots + new.quantity_lots
        order.quantity_lots = total
        order.price_ticks = new.price_ticks
        self.counters["amended"] += 1
        self._emit(
            VenueAmended(
                ts=time.time_ns(),
                client_order_id=order.client_order_id,
                quantity_lots=total,
                price_ticks=new.price_ticks,
            )
        )
        for trade in result.trades:
            self._fill(trade)
        if new.status in _TERMINAL:
            self._closed_by_venue(order, new)

    # -- fills --------------------------------------------------------------------------------

    def _fill(self, trade: VenueTrade) -> None:
        key = (trade.instrument_id, trade.trade_id)
        if key in self._seen_trades:
            self.counters["duplicate_trade"] += 1
            return
        self._seen_trades[key] = None
        if len(self._seen_trades) > _MAX_SEEN_TRADES:
            for old in itertools.islice(list(self._seen_trades), _MAX_SEEN_TRADES // 10):
                del self._seen_trades[old]
        cid = self._client_id_of(trade)
        order = self._orders.get(cid)
        if order is not None:
            order.filled_lots += trade.size_lots
        self.counters["fills"] += 1
        self._emit(VenueFill(ts=time.time_ns(), fill=self._to_fill(trade, cid)))

    def _to_fill(self, trade: VenueTrade, cid: str) -> Fill:
        return Fill(
            client_order_id=cid,
            venue_order_id=trade.venue_order_id,
            trade_id=trade.trade_id,
            instrument_id=trade.instrument_id,
            side=trade.side,
            price_ticks=trade.price_ticks,
            size_lots=trade.size_lots,
            liquidity=trade.liquidity,
            fee=trade.fee,
            fee_currency=trade.fee_currency,
            account_id=self.account_id,
            ts_event=trade.ts_event,
            ts_recv=time.time_ns(),
        )

    def _client_id_of(self, trade: VenueTrade) -> str:
        if trade.venue_client_id:
            return base_client_id(trade.venue_client_id)
        cid = self._by_venue_order.get(trade.venue_order_id)
        if cid is not None:
            return cid
        # An order placed elsewhere (another session, the venue's web site): ask the venue whose it is.
        instrument = self.instruments.get(trade.instrument_id)
        adapter, exchange = self.adapter, self._exchange
        try:
            state = self._call(
                "order of a trade",
                lambda: adapter.fetch_order(exchange, instrument, venue_order_id=trade.venue_order_id),
            )
        except VenueFailure:
            cid = ""
        else:
            cid = base_client_id(state.venue_client_id)
        self._by_venue_order[trade.venue_order_id] = cid
        return cid

    def _poll_trades(self, instrument_id: InstrumentId) -> None:
        instrument = self.instruments.get(instrument_id)
        cursor = self._cursors.setdefault(instrument_id, _Cursor())
        since = None
        if cursor.after is None:
            since = cursor.since_ms or max(self._started_ms - 1000, int(time.time() * 1000) - _TRADE_LOOKBACK_MS)
        adapter, exchange = self.adapter, self._exchange
        trades = self._call(
            "trades", lambda: adapter.fetch_trades(exchange, instrument, since_ms=since, after_cursor=cursor.after)
        )
        if cursor.after is None and not trades:
            cursor.since_ms = since
        for trade in trades:
            self._fill(trade)
            # Only a polled list moves the cursor: it is complete and in order, whereas the executions
            # a placement reports may come ahead of earlier, not yet polled trades of other orders.
            if cursor.after is None or trade.cursor > cursor.after:
                cursor.after = trade.cursor

    def _poll_venue(self) -> None:
        """Fills first, then orders that left the book without a cancel of ours."""
        for instrument_id in sorted(self._active):
            try:
                self._poll_trades(instrument_id)
                self._check_open_orders(instrument_id)
            except VenueFailure as exc:
                self.counters["poll_failed"] += 1
                log.warning("%s: polling %s failed: %s", self.name, instrument_id, exc.failure.message)
            except _Stopping:
                raise
            except Exception:
                self.counters["poll_crashed"] += 1
                log.exception("%s: polling %s raised; polling goes on", self.name, instrument_id)

    def _check_open_orders(self, instrument_id: InstrumentId) -> None:
        instrument = self.instruments.get(instrument_id)
        adapter, exchange = self.adapter, self._exchange
        open_now = self._call("open orders", lambda: adapter.fetch_open_orders(exchange, instrument))
        working = {state.venue_client_id for state in open_now}
        for order in list(self._orders.values()):
            if not order.open or order.instrument_id != instrument_id or order.venue_client_id in working:
                continue
            state = self._lookup(instrument, order.venue_client_id)
            if state is None or state.status not in _TERMINAL:
                continue
            if state.filled_lots + order.base_filled_lots > order.filled_lots:
                self._poll_trades(instrument_id)
            self._closed_by_venue(order, state)
        if not any(o.open and o.instrument_id == instrument_id for o in self._orders.values()):
            self._active.discard(instrument_id)

    # -- query --------------------------------------------------------------------------------

    def _query(self, command: VenueQuery, sent_ns: int) -> None:
        """Answer with the venue's record; stamped with the time the query was sent, since every command
        sent after it reaches the venue after it (the OMS leaves orders accepted after that time alone)."""
        adapter, exchange = self.adapter, self._exchange
        open_orders: list[VenueOrderState] = []
        fills: list[Fill] = []
        since_ms = command.fills_since_ns // _NS_PER_MS if command.fills_since_ns > 0 else None
        for instrument in sorted(self.instruments, key=lambda i: str(i.id)):
            if instrument.id.venue is not self.venue:
                continue
            states = self._call("open orders", functools.partial(adapter.fetch_open_orders, exchange, instrument))
            for state in states:
                order = self._adopt(state, instrument)
                open_orders.append(
                    VenueOrderState(
                        client_order_id=order.client_order_id,
                        venue_order_id=state.venue_order_id,
                        instrument_id=instrument.id,
                        side=state.side,
                        quantity_lots=order.base_filled_lots + state.quantity_lots,
                        filled_lots=order.base_filled_lots + state.filled_lots,
                        price_ticks=state.price_ticks,
                        status=OrderStatus.PARTIALLY_FILLED if state.filled_lots else OrderStatus.ACKED,
                    )
                )
            trades = self._call(
                "trades",
                functools.partial(adapter.fetch_trades, exchange, instrument, since_ms=since_ms, after_cursor=None),
            )
            cursor = self._cursors.setdefault(instrument.id, _Cursor())
            for trade in trades:
                if since_ms is not None and trade.ts_event < command.fills_since_ns:
                    continue
                fills.append(self._to_fill(trade, self._client_id_of(trade)))
                self._seen_trades[(trade.instrument_id, trade.trade_id)] = None  # the snapshot carries it
                if cursor.after is None or trade.cursor > cursor.after:
                    cursor.after = trade.cursor
        balances = self._call("balances", lambda: adapter.fetch_balances(exchange))
        self.counters["snapshots"] += 1
        self._emit(VenueSnapshot(ts=sent_ns, open_orders=open_orders, fills=fills, balances=balances))


# -- wiring ---------------------------------------------------------------------------------------


def execution_adapter(venue: Venue) -> VenueAdapter:
    """The venue folder's adapter; raises :class:`VenueUnavailable` for a venue without live order entry."""
    venue = Venue(venue)
    if venue in (Venue.BINANCE, Venue.BINANCE_USDM, Venue.BINANCE_COINM):
        from jtrader.gateways.binance.execution import BinanceExecution

        return BinanceExecution(venue)
    if venue is Venue.HUOBI:
        from jtrader.gateways.huobi.execution import HtxExecution

        return HtxExecution()
    if venue is Venue.BITMEX:
        from jtrader.gateways.bitmex.execution import bitmex_execution

        return bitmex_execution()
    raise VenueUnavailable(
        f"venue {venue.value!r} has no live order entry: expected binance, binance_usdm, "
        "binance_coinm or huobi (the simulated venue runs with --mode paper)"
    )


def live_execution_client(
    venue: Venue, instruments: InstrumentRegistry, credentials: ApiCredentials, **options: Any
) -> CcxtExecutionClient:
    """The OMS-side order entry for a live ``venue`` (options: see :class:`CcxtExecutionClient`)."""
    return CcxtExecutionClient(execution_adapter(venue), instruments, credentials, **options)
