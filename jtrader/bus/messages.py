"""The wire protocol: versioned, schema-checked msgspec structs encoded as msgpack.

Every bus frame is ``[topic or kind, version byte, msgpack payload]``. A
payload decodes only into the structs declared here (or the market-data
events of :mod:`jtrader.domain.data`); anything else — wrong version, unknown
``type``, missing or mistyped field, a value the domain types refuse — raises
:class:`ProtocolError` with a reason code, never pickle, never a proxy.

Flows (ARCHITECTURE.md):

- strategy host -> OMS (DEALER -> ROUTER): :data:`Command`
- OMS -> strategy host (ROUTER -> DEALER): :data:`Report`
- OMS <-> venue gateway process: :data:`VenueCommand` out, :data:`VenueEvent` back
- OMS state changes (PUB): :class:`ExecutionReport`, :class:`PositionUpdate`, :class:`RiskStateUpdate`
- market data (PUB, topic ``md.<venue>.<symbol>.<kind>``): domain events

Exceptions::

    ProtocolError(ValueError)   .reason is a RejectReason (MALFORMED, WRONG_VERSION)
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec

from jtrader.domain import (
    Bar,
    BookDelta,
    BookSnapshot,
    BookStatus,
    Fill,
    InstrumentId,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
)

__all__ = [
    "PROTOCOL_VERSION",
    "RejectReason",
    "RequestKind",
    "ProtocolError",
    "Msg",
    "SubmitOrder",
    "CancelOrder",
    "AmendOrder",
    "MassCancel",
    "Heartbeat",
    "ControlRequest",
    "ControlReply",
    "ExecutionReport",
    "OrderRejected",
    "PositionUpdate",
    "RiskStateUpdate",
    "VenueSubmit",
    "VenueCancel",
    "VenueAmend",
    "VenueQuery",
    "VenueAck",
    "VenueReject",
    "VenueFill",
    "VenueCancelled",
    "VenueExpired",
    "VenueAmended",
    "VenueSnapshot",
    "VenueOrderState",
    "Command",
    "Report",
    "VenueCommand",
    "VenueEvent",
    "AnyMessage",
    "MarketData",
    "encode",
    "decode",
    "md_topic",
]

PROTOCOL_VERSION = 1


class RejectReason(StrEnum):
    """Stable reason codes for every rejection: risk, OMS, venue and protocol."""

    # protocol
    MALFORMED = "malformed"
    WRONG_VERSION = "wrong_version"
    NOT_AUTHORISED = "not_authorised"
    # OMS
    INVALID_ORDER = "invalid_order"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_NOT_OPEN = "order_not_open"
    NO_ROUTE = "no_route"
    # risk
    MAX_ORDER_QUANTITY = "max_order_quantity"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_POSITION = "max_position"
    MAX_GROSS_EXPOSURE = "max_gross_exposure"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    KILL_SWITCH = "kill_switch"
    ORDER_RATE = "order_rate"
    CANCEL_RATE = "cancel_rate"
    PRICE_BAND = "price_band"
    NO_REFERENCE_PRICE = "no_reference_price"
    SELF_TRADE = "self_trade"
    DUPLICATE_ORDER = "duplicate_order"
    # venue
    VENUE_REJECT = "venue_reject"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    NO_LIQUIDITY = "no_liquidity"


class RequestKind(StrEnum):
    """Which request a rejection answers: the order itself, a cancel of it, or an amend of it.

    Added in protocol version 1 as a defaulted field, so older senders (which
    only ever meant the order) decode unchanged.
    """

    SUBMIT = "submit"
    CANCEL = "cancel"
    AMEND = "amend"


class ProtocolError(ValueError):
    """A frame that is not a valid message of this protocol version."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Msg(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every protocol message; ``ts`` is the sender's clock in ns."""

    ts: int = 0


# -- strategy -> OMS ----------------------------------------------------------


# gc=False on the per-order messages: values only (no cycles), one or more per order on the hot path, and
# the OMS keeps each SubmitOrder for idempotent retries.
class SubmitOrder(Msg, frozen=True, tag="submit", gc=False):
    client_order_id: str
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    quantity_lots: int
    price_ticks: int | None = None
    trigger_ticks: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    strategy_id: str = ""


class CancelOrder(Msg, frozen=True, tag="cancel"):
    client_order_id: str
    strategy_id: str = ""


class AmendOrder(Msg, frozen=True, tag="amend"):
    """Change quantity and/or price; None keeps the current value."""

    client_order_id: str
    quantity_lots: int | None = None
    price_ticks: int | None = None
    strategy_id: str = ""


class MassCancel(Msg, frozen=True, tag="mass_cancel"):
    """Cancel every open order of ``strategy_id`` (all strategies if empty), optionally one instrument."""

    strategy_id: str = ""
    instrument_id: InstrumentId | None = None


class Heartbeat(Msg, frozen=True, tag="heartbeat"):
    sender: str
    sequence: int = 0


class ControlRequest(Msg, frozen=True, tag="control"):
    """An operator command: status, orders, positions, kill, reset, flatten."""

    command: str
    operator: str = ""
    args: dict[str, str] = {}


# -- OMS -> strategy / state PUB -----------------------------------------------


class ExecutionReport(Msg, frozen=True, tag="execution_report", gc=False):
    client_order_id: str
    instrument_id: InstrumentId
    status: OrderStatus
    filled_lots: int
    leaves_lots: int
    strategy_id: str = ""
    venue_order_id: str | None = None
    last_fill: Fill | None = None
    reason: str = ""


class OrderRejected(Msg, frozen=True, tag="order_rejected"):
    """A refused request; ``request`` says whether the order, a cancel or an amend was refused."""

    client_order_id: str
    reason: RejectReason
    message: str
    strategy_id: str = ""
    request: RequestKind = RequestKind.SUBMIT


class ControlReply(Msg, frozen=True, tag="control_reply"):
    ok: bool
    message: str = ""
    payload: Any = None


class PositionUpdate(Msg, frozen=True, tag="position_update"):
    instrument_id: InstrumentId
    account_id: str
    net_lots: int
    avg_entry: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    fees: Decimal


class RiskStateUpdate(Msg, frozen=True, tag="risk_state"):
    killed: bool
    reason: str = ""


# -- OMS <-> venue gateway ------------------------------------------------------


class VenueSubmit(Msg, frozen=True, tag="venue_submit", gc=False):
    client_order_id: str
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    quantity_lots: int
    price_ticks: int | None = None
    trigger_ticks: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    account_id: str = ""


class VenueCancel(Msg, frozen=True, tag="venue_cancel"):
    client_order_id: str
    instrument_id: InstrumentId


class VenueAmend(Msg, frozen=True, tag="venue_amend"):
    client_order_id: str
    instrument_id: InstrumentId
    quantity_lots: int
    price_ticks: int | None


class VenueQuery(Msg, frozen=True, tag="venue_query"):
    """Ask the venue for open orders, fills since ``fills_since_ns`` and balances (reconciliation)."""

    fills_since_ns: int = 0


class VenueAck(Msg, frozen=True, tag="venue_ack"):
    client_order_id: str
    venue_order_id: str


class VenueReject(Msg, frozen=True, tag="venue_reject"):
    """The venue refused a request; ``request`` says which (a refused cancel leaves the order open)."""

    client_order_id: str
    reason: RejectReason
    message: str = ""
    request: RequestKind = RequestKind.SUBMIT


class VenueFill(Msg, frozen=True, tag="venue_fill"):
    fill: Fill


class VenueCancelled(Msg, frozen=True, tag="venue_cancelled"):
    client_order_id: str
    reason: str = ""


class VenueExpired(Msg, frozen=True, tag="venue_expired"):
    """An IOC/FOK remainder or a stop that the venue removed unfilled."""

    client_order_id: str


class VenueAmended(Msg, frozen=True, tag="venue_amended"):
    client_order_id: str
    quantity_lots: int
    price_ticks: int | None


class VenueOrderState(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    venue_order_id: str
    instrument_id: InstrumentId
    side: Side
    quantity_lots: int
    filled_lots: int
    price_ticks: int | None
    status: OrderStatus


class VenueSnapshot(Msg, frozen=True, tag="venue_snapshot"):
    """The venue's own record, for reconciliation after a restart."""

    open_orders: list[VenueOrderState]
    fills: list[Fill]
    balances: dict[str, Decimal]


Command = SubmitOrder | CancelOrder | AmendOrder | MassCancel | Heartbeat | ControlRequest
Report = ExecutionReport | OrderRejected | ControlReply | PositionUpdate | RiskStateUpdate | Heartbeat
VenueCommand = VenueSubmit | VenueCancel | VenueAmend | VenueQuery | Heartbeat
VenueEvent = (
    VenueAck | VenueReject | VenueFill | VenueCancelled | VenueExpired | VenueAmended | VenueSnapshot | Heartbeat
)
MarketData = Trade | Quote | BookDelta | BookSnapshot | Bar | BookStatus
AnyMessage = Command | Report | VenueCommand | VenueEvent

_ENCODER = msgspec.msgpack.Encoder()
_VERSION = bytes([PROTOCOL_VERSION])
_DECODERS: dict[object, msgspec.msgpack.Decoder[Any]] = {}


def encode(message: msgspec.Struct) -> tuple[bytes, bytes]:
    """Return the ``(version, payload)`` frames for ``message``."""
    return _VERSION, _ENCODER.encode(message)


def decode(version: bytes, payload: bytes, expected: Any) -> Any:
    """Decode a payload into one of the types of ``expected`` (a struct type or a union).

    Raises :class:`ProtocolError` (``WRONG_VERSION`` or ``MALFORMED``) saying what was wrong.
    """
    if version != _VERSION:
        raise ProtocolError(
            RejectReason.WRONG_VERSION,
            f"protocol version {version!r} is not supported; this process speaks {PROTOCOL_VERSION}: "
            "upgrade the sender",
        )
    decoder = _DECODERS.get(expected)
    if decoder is None:
        decoder = _DECODERS[expected] = msgspec.msgpack.Decoder(expected)
    try:
        return decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise ProtocolError(RejectReason.MALFORMED, f"malformed message: {exc}") from None


def md_topic(instrument_id: InstrumentId, kind: str) -> bytes:
    """The PUB/SUB topic of a market-data event: ``md.<venue>.<symbol>.<kind>``."""
    return f"md.{instrument_id.venue.value}.{instrument_id.symbol}.{kind}".encode()
