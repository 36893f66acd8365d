"""Types the OMS core hands out: outputs, journal records, snapshots and reconciliation reports.

Outputs are what the runtime must do after an event, in order:

- :class:`ToVenue` — send ``command`` to the gateway connected for ``venue``;
- :class:`ToClient` — send ``report`` to the strategy host ``sender`` (its bus identity);
- :class:`Publish` — publish ``msg`` on the OMS state PUB socket under ``topic``.

Journal records (:data:`Record`) are decisions and facts, never raw inputs
that would have to be re-decided: an accepted order, a rejection, a cancel or
amend sent, a venue event applied, a kill-switch change, a funding payment, a
day start, a venue's balances taken as the baseline. Replaying them through :meth:`OmsEngine.recover` rebuilds the state
exactly, with no clock, market data or risk re-evaluation involved.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from jtrader.bus.messages import (
    Msg,
    RejectReason,
    Report,
    RequestKind,
    SubmitOrder,
    VenueAck,
    VenueAmended,
    VenueCancelled,
    VenueCommand,
    VenueExpired,
    VenueFill,
    VenueReject,
)
from jtrader.domain import Fill, InstrumentId, Order, Position, Venue
from jtrader.risk.engine import RiskCheckpoint

__all__ = [
    "TOPIC_EXECUTION",
    "TOPIC_POSITION",
    "TOPIC_RISK",
    "Sender",
    "ToVenue",
    "ToClient",
    "Publish",
    "Output",
    "Record",
    "OrderAccepted",
    "CommandRejected",
    "CancelRequested",
    "AmendRequested",
    "VenueEventApplied",
    "RiskStateChanged",
    "FundingApplied",
    "DayStarted",
    "BalancesBaselined",
    "AnyRecord",
    "AppliedVenueEvent",
    "PendingState",
    "OmsSnapshot",
    "ChangeCursor",
    "OmsChanges",
    "CheckpointOrder",
    "OmsCheckpoint",
    "Difference",
    "ReconcileReport",
]

TOPIC_EXECUTION = "oms.execution"
TOPIC_POSITION = "oms.position"
TOPIC_RISK = "oms.risk"

# The bus identity of a strategy host (a ZeroMQ ROUTER identity) or an operator name.
Sender = bytes | str

# -- outputs ----------------------------------------------------------------------


class ToVenue(msgspec.Struct, frozen=True, gc=False):
    """Send ``command`` to ``gateway``, the connection routed for ``venue``."""

    venue: Venue
    gateway: str
    command: VenueCommand


class ToClient(msgspec.Struct, frozen=True, gc=False):
    """Send ``report`` to the strategy host or operator ``sender``."""

    sender: Any  # Sender
    report: Report


class Publish(msgspec.Struct, frozen=True, gc=False):
    """Publish ``msg`` on the OMS state channel under ``topic``."""

    topic: str
    msg: Msg


Output = ToVenue | ToClient | Publish

# -- journal records ---------------------------------------------------------------------


class Record(msgspec.Struct, frozen=True, array_like=True, tag_field="kind", gc=False):
    """Base of every journal record; ``ts`` is the OMS clock (ns) when it was decided.

    Records hold only immutable messages and values (no cycles), so they stay out
    of the cyclic garbage collector (``gc=False``): fewer objects for it to scan.
    """

    ts: int


class OrderAccepted(Record, frozen=True, tag="order_accepted"):
    """``command`` passed every check and was sent to the venue (``sender`` owns the order)."""

    sender: Any
    command: SubmitOrder


class CommandRejected(Record, frozen=True, tag="command_rejected"):
    """A client request was refused (audit only: replay changes no state)."""

    sender: Any
    client_order_id: str
    request: RequestKind
    reason: RejectReason
    message: str


class CancelRequested(Record, frozen=True, tag="cancel_requested"):
    """Cancels were sent for ``client_order_ids``.

    ``origin`` says why: client, mass_cancel, disconnect, kill or flatten.
    """

    sender: Any
    client_order_ids: list[str]
    origin: str


class AmendRequested(Record, frozen=True, tag="amend_requested"):
    """An amend to ``quantity_lots`` at ``price_ticks`` was sent and awaits the venue."""

    sender: Any
    client_order_id: str
    quantity_lots: int
    price_ticks: int | None


AppliedVenueEvent = VenueAck | VenueReject | VenueFill | VenueCancelled | VenueExpired | VenueAmended


class VenueEventApplied(Record, frozen=True, tag="venue_event"):
    """A venue event (or one synthesised by reconciliation) was applied."""

    event: AppliedVenueEvent


class RiskStateChanged(Record, frozen=True, tag="risk_state"):
    """The kill switch was tripped (``killed``) or reset; ``rebase`` restarts the day's PnL at that value."""

    killed: bool
    reason: str
    operator: str
    rebase: Decimal | None = None


class FundingApplied(Record, frozen=True, tag="funding"):
    """A funding payment of ``payment`` (settlement currency; negative: paid) on a position."""

    account_id: str
    instrument_id: InstrumentId
    rate: Decimal
    mark_ticks: int
    payment: Decimal


class DayStarted(Record, frozen=True, tag="day_started"):
    """A new UTC day (days since the epoch) began with total PnL ``baseline`` (common currency)."""

    day: int
    baseline: Decimal


class BalancesBaselined(Record, frozen=True, tag="balances_baselined"):
    """The OMS expects ``venue`` to hold ``balances`` (asset -> amount) moved by every fill after its first
    ``fills_before`` fills (in the order applied), and by funding from here on.

    Written by the first reconciliation with a venue: ``source`` is ``"venue"``
    (the venue's own balances, which include every fill the OMS had then) or
    ``"config"`` (the configured starting balances, from before any fill).
    """

    venue: Venue
    balances: dict[str, Decimal]
    source: str
    fills_before: int = 0


AnyRecord = (
    OrderAccepted
    | CommandRejected
    | CancelRequested
    | AmendRequested
    | VenueEventApplied
    | RiskStateChanged
    | FundingApplied
    | DayStarted
    | BalancesBaselined
)

# -- snapshots ------------------------------------------------------------------------------


class PendingState(msgspec.Struct, frozen=True):
    """What an open order awaits from the venue: a cancel, and/or an amend to these values."""

    cancel: bool = False
    amend_quantity_lots: int | None = None
    amend_price_ticks: int | None = None


class OmsSnapshot(msgspec.Struct, frozen=True):
    """The OMS state as domain objects: equal snapshots mean equal state.

    ``orders`` are sorted by client order id, ``fills`` are in the order they
    were applied, ``positions`` are sorted by account and instrument. The
    objects are copies: saving or changing them does not touch the OMS.
    """

    account_id: str
    orders: list[Order]
    fills: list[Fill]
    positions: list[Position]
    funding: dict[str, Decimal]  # "account|instrument" -> total funding (included in realised PnL)
    pending: dict[str, PendingState]
    killed: bool
    kill_reason: str
    risk: dict[str, Any]
    # venue -> asset -> amount the OMS expects the account to hold there (OmsEngine.expected_balances),
    # and the venues whose balances were baselined (compared at reconciliation)
    balances: dict[str, dict[str, Decimal]] = {}
    balances_baselined: list[str] = []


class ChangeCursor(msgspec.Struct, frozen=True):
    """Where a reader of :meth:`OmsEngine.changes_since` stopped: change numbers of orders and positions, fills read."""

    orders: int = 0
    fills: int = 0
    positions: int = 0


class OmsChanges(msgspec.Struct, frozen=True):
    """Orders and positions changed, and fills applied, since a cursor; pass ``cursor`` to the next call.

    Orders and positions are copies, each once, in the order they first
    changed; fills are in the order applied. ``full`` is True when the reader
    had no cursor or one too old for the change log (it gets every order and
    position, and every fill after the cursor's fills).
    """

    cursor: ChangeCursor
    full: bool
    orders: list[Order]
    fills: list[Fill]
    positions: list[Position]


# -- checkpoints ------------------------------------------------------------------------------


class CheckpointOrder(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One order in a checkpoint: the order, its owner, the original request and what it awaits."""

    order: Order
    sender: Any  # Sender
    submit: SubmitOrder
    cancel_pending: bool = False
    amend_quantity_lots: int | None = None
    amend_price_ticks: int | None = None


class OmsCheckpoint(msgspec.Struct, frozen=True):
    """The whole OMS state after every record of the segments before ``segment``.

    Recovery loads it and replays segments ``segment`` onwards. Orders are in
    acceptance order, fills in the order applied, positions in the order they
    opened: the order of bulk cancels and of replies stays what it was.
    """

    ts: int
    segment: int
    account_id: str
    orders: list[CheckpointOrder]
    fills: list[Fill]
    orphan_fills: list[Fill]
    positions: list[Position]
    funding: list[tuple[str, InstrumentId, Decimal]]
    balances: dict[str, dict[str, Decimal]]
    balances_baselined: list[str]
    risk: RiskCheckpoint
    # how the expected balances go on: each venue's baseline (amounts, fills before it), the positions
    # in the venue's execution order, the latest execution time booked, and funding since the baseline
    balance_baselines: dict[str, tuple[dict[str, Decimal], int]] = {}
    balance_positions: list[Position] = []
    executed_to: dict[str, int] = {}
    funding_since: dict[str, dict[str, Decimal]] = {}


# -- reconciliation -------------------------------------------------------------------------


class Difference(msgspec.Struct, frozen=True):
    """One difference between the OMS and the venue, and what was done about it.

    Kinds: ``missed_fill`` (applied), ``missed_ack`` (applied), ``missed_amend``
    (applied), ``filled_mismatch`` (reported only: the venue's fill list did not
    explain it), ``closed_at_venue`` (order closed as cancelled),
    ``lost_order`` (never reached the venue: rejected, or resubmitted),
    ``open_at_venue_closed_locally`` (cancel sent), ``unknown_venue_order``
    (reported; cancel sent if configured), ``too_new`` (accepted after the
    snapshot was taken: left alone), ``unknown_instrument`` (fill not applied),
    ``balance_mismatch`` (reported only: the venue holds another amount of
    ``asset`` than fills and funding explain: a deposit, a withdrawal, a fee or
    a fill the OMS never saw), ``position_mismatch`` (reported only: the venue
    lists its position in instrument ``asset`` among its balances, and it is
    not the OMS's). Balance and position differences name no order and carry
    ``ours`` and ``at_venue``.
    """

    kind: str
    client_order_id: str
    detail: str
    asset: str = ""
    ours: Decimal | None = None
    at_venue: Decimal | None = None


class ReconcileReport(msgspec.Struct):
    """Everything reconciliation found and did; ``outputs`` must be sent like any other outputs."""

    venue: Venue
    differences: list[Difference]
    fills_applied: int = 0
    orders_acked: int = 0
    orders_amended: int = 0
    orders_closed: int = 0
    orders_rejected: int = 0
    orders_resubmitted: int = 0
    cancels_sent: int = 0
    balances: dict[str, Decimal] = {}  # the venue's, as reported
    expected_balances: dict[str, Decimal] = {}  # the OMS's, after this reconciliation ({} before a baseline)
    outputs: list[Output] = []

    @property
    def clean(self) -> bool:
        """True when the venue and the OMS agreed."""
        return not self.differences
