"""Codes, array layouts and event messages of the matching engine.

The kernel speaks integer codes in ``int64`` structured arrays
(:data:`COMMAND_DTYPE` in, :data:`EVENT_DTYPE` out); the per-call API speaks
the msgspec event structs below, whose enum fields are the domain enums.
Integer codes are stable: 0 is never a valid side, order type, time in force
or command kind, so a zeroed command row is rejected (``BAD_COMMAND``), not
read as a buy.
"""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum

import msgspec
import numpy as np

from jtrader.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from jtrader.matching import _core as k

__all__ = [
    "ANONYMOUS_OWNER",
    "COMMAND_DTYPE",
    "EVENT_DTYPE",
    "MAX_LOTS",
    "MAX_PRICE_TICKS",
    "Accepted",
    "Amended",
    "Cancelled",
    "CommandKind",
    "EngineEvent",
    "EventKind",
    "Filled",
    "LiquidityCode",
    "OrderTypeCode",
    "OrderView",
    "Reason",
    "Rejected",
    "SideCode",
    "TimeInForceCode",
    "Triggered",
    "new_commands",
]

ANONYMOUS_OWNER = k.ANONYMOUS_OWNER
"""Owner of external (replayed) level liquidity; its fills carry order id 0."""
MAX_PRICE_TICKS = k.MAX_PRICE
MAX_LOTS = k.MAX_LOTS


class CommandKind(IntEnum):
    SUBMIT = k.CMD_SUBMIT
    CANCEL = k.CMD_CANCEL
    AMEND = k.CMD_AMEND
    SET_LEVEL = k.CMD_SET_LEVEL


class EventKind(IntEnum):
    ACCEPTED = k.EV_ACCEPTED
    REJECTED = k.EV_REJECTED
    FILL = k.EV_FILL
    CANCELLED = k.EV_CANCELLED
    TRIGGERED = k.EV_TRIGGERED
    AMENDED = k.EV_AMENDED


class SideCode(IntEnum):
    BUY = k.BUY
    SELL = k.SELL


class OrderTypeCode(IntEnum):
    LIMIT = k.LIMIT
    MARKET = k.MARKET
    STOP_MARKET = k.STOP_MARKET
    STOP_LIMIT = k.STOP_LIMIT


class TimeInForceCode(IntEnum):
    GTC = k.GTC
    IOC = k.IOC
    FOK = k.FOK
    POST_ONLY = k.POST_ONLY


class LiquidityCode(IntEnum):
    MAKER = k.MAKER
    TAKER = k.TAKER


class Reason(IntEnum):
    """Why a command was rejected or an order cancelled (``NONE`` otherwise)."""

    NONE = k.R_NONE
    BAD_COMMAND = k.R_BAD_COMMAND  # unknown command kind
    BAD_ORDER_ID = k.R_BAD_ORDER_ID  # order ids must be > 0
    BAD_SIDE = k.R_BAD_SIDE
    BAD_ORDER_TYPE = k.R_BAD_ORDER_TYPE
    BAD_TIME_IN_FORCE = k.R_BAD_TIME_IN_FORCE  # unknown, or post-only on a non-limit order
    BAD_QUANTITY = k.R_BAD_QUANTITY  # <= 0, > MAX_LOTS, or an amend to no more than the filled lots
    BAD_PRICE = k.R_BAD_PRICE  # <= 0, > MAX_PRICE_TICKS, or too far from the book to rest (max_levels)
    BAD_TRIGGER = k.R_BAD_TRIGGER
    DUPLICATE_ORDER_ID = k.R_DUPLICATE_ORDER_ID  # the id belongs to a live order
    UNKNOWN_ORDER = k.R_UNKNOWN_ORDER  # not live (never seen, filled, cancelled) or another owner's
    POST_ONLY_WOULD_TAKE = k.R_POST_ONLY_WOULD_TAKE
    FOK_NOT_FILLABLE = k.R_FOK_NOT_FILLABLE
    NO_LIQUIDITY = k.R_NO_LIQUIDITY  # market order on an empty opposite side
    REQUESTED = k.R_REQUESTED  # cancelled on request
    IOC_REMAINDER = k.R_IOC_REMAINDER  # unfilled rest of an IOC, FOK or market order expired


COMMAND_DTYPE = np.dtype(
    [
        ("kind", np.int64),
        ("ts", np.int64),
        ("order_id", np.int64),
        ("owner", np.int64),
        ("side", np.int64),
        ("order_type", np.int64),
        ("time_in_force", np.int64),
        ("price_ticks", np.int64),
        ("trigger_ticks", np.int64),
        ("lots", np.int64),
    ]
)
"""One command per row. SUBMIT uses every field; CANCEL ``order_id, owner``;
AMEND ``order_id, owner, lots`` (new total quantity), ``price_ticks`` and
``trigger_ticks`` (0 keeps the current value); SET_LEVEL ``side, price_ticks, lots``."""

EVENT_DTYPE = np.dtype(
    [
        ("kind", np.int64),
        ("command", np.int64),  # the engine's sequence number of the command that caused the event
        ("ts", np.int64),  # the command's ts
        ("order_id", np.int64),
        ("owner", np.int64),
        ("side", np.int64),
        ("price_ticks", np.int64),
        ("lots", np.int64),
        ("leaves_lots", np.int64),
        ("reason", np.int64),
        ("liquidity", np.int64),
        ("trade_id", np.int64),
        ("counterparty_order_id", np.int64),
        ("counterparty_owner", np.int64),
        ("trigger_ticks", np.int64),
        ("priority_kept", np.int64),
    ]
)
"""One event per row; see the event structs for what each kind fills in."""

if len(COMMAND_DTYPE.names or ()) != k.NC or len(EVENT_DTYPE.names or ()) != k.NE:  # rows are int64[NC]/[NE]
    raise RuntimeError("jtrader.matching: COMMAND_DTYPE/EVENT_DTYPE out of step with the kernel layout")


def new_commands(n: int) -> np.ndarray:
    """Return ``n`` zeroed command rows (a zeroed row is an invalid command until filled in)."""
    return np.zeros(n, COMMAND_DTYPE)


SIDE_FROM_CODE = {SideCode.BUY: Side.BUY, SideCode.SELL: Side.SELL}
SIDE_TO_CODE = {Side.BUY: SideCode.BUY, Side.SELL: SideCode.SELL}
ORDER_TYPE_TO_CODE = {
    OrderType.LIMIT: OrderTypeCode.LIMIT,
    OrderType.MARKET: OrderTypeCode.MARKET,
    OrderType.STOP_MARKET: OrderTypeCode.STOP_MARKET,
    OrderType.STOP_LIMIT: OrderTypeCode.STOP_LIMIT,
}
ORDER_TYPE_FROM_CODE = {v: key for key, v in ORDER_TYPE_TO_CODE.items()}
TIF_TO_CODE = {
    TimeInForce.GTC: TimeInForceCode.GTC,
    TimeInForce.IOC: TimeInForceCode.IOC,
    TimeInForce.FOK: TimeInForceCode.FOK,
    TimeInForce.POST_ONLY: TimeInForceCode.POST_ONLY,
}
TIF_FROM_CODE = {v: key for key, v in TIF_TO_CODE.items()}


# -- event structs (per-call API) ----------------------------------------------------------------


class Accepted(msgspec.Struct, frozen=True, kw_only=True, tag="accepted"):
    """The order entered the engine (a stop is now pending); fills or a cancel may follow in the same call."""

    command: int
    ts: int
    order_id: int
    owner: int
    side: Side
    price_ticks: int  # 0 for market and stop-market orders
    quantity_lots: int
    trigger_ticks: int  # 0 unless a stop


class Rejected(msgspec.Struct, frozen=True, kw_only=True, tag="rejected"):
    """The command had no effect; fields echo the command (side None if it was not a valid side)."""

    command: int
    ts: int
    order_id: int
    owner: int
    side: Side | None
    price_ticks: int
    lots: int
    trigger_ticks: int
    reason: Reason


class Filled(msgspec.Struct, frozen=True, kw_only=True, tag="filled"):
    """One side of a trade. Each trade gives two (taker first, then maker) sharing ``trade_id``.

    ``fee`` is exact: notional (``Instrument.notional``) times the instrument's
    maker or taker rate, in ``fee_currency`` (the settlement currency); negative
    is a rebate. The anonymous side of a trade has order id 0 and owner
    :data:`ANONYMOUS_OWNER`.
    """

    command: int
    ts: int
    order_id: int
    owner: int
    side: Side
    price_ticks: int
    lots: int
    leaves_lots: int
    liquidity: LiquiditySide
    trade_id: int
    counterparty_order_id: int
    counterparty_owner: int
    fee: Decimal
    fee_currency: str


class Cancelled(msgspec.Struct, frozen=True, kw_only=True, tag="cancelled"):
    """The order is done with ``lots`` unfilled: on request, an expired IOC/FOK/market rest, or a triggered stop
    that could not enter (reason NO_LIQUIDITY or FOK_NOT_FILLABLE)."""

    command: int
    ts: int
    order_id: int
    owner: int
    side: Side
    price_ticks: int
    lots: int
    reason: Reason


class Triggered(msgspec.Struct, frozen=True, kw_only=True, tag="triggered"):
    """A stop's trigger was reached; it now enters as a market (stop-market) or limit (stop-limit) order."""

    command: int
    ts: int
    order_id: int
    owner: int
    side: Side
    price_ticks: int
    leaves_lots: int
    trigger_ticks: int


class Amended(msgspec.Struct, frozen=True, kw_only=True, tag="amended"):
    """The order now has ``quantity_lots`` in total (``leaves_lots`` open) at ``price_ticks``.

    ``priority_kept`` is True for a reduction at an unchanged price (and trigger);
    otherwise the order went to the back of its level (or stop queue) and fills
    may follow if the new price crosses.
    """

    command: int
    ts: int
    order_id: int
    owner: int
    side: Side
    price_ticks: int
    quantity_lots: int
    leaves_lots: int
    trigger_ticks: int
    priority_kept: bool


EngineEvent = Accepted | Rejected | Filled | Cancelled | Triggered | Amended


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    """A live order as the engine holds it: resting in the book or a pending stop."""

    order_id: int
    owner: int
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price_ticks: int
    trigger_ticks: int
    leaves_lots: int
    filled_lots: int
    pending_stop: bool
    lots_ahead: int  # lots queued ahead at its level; -1 for a pending stop
