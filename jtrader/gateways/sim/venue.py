"""The simulated venue's pure core: accounts, orders and fills over one matching engine per instrument.

:class:`SimVenue` takes :data:`~jtrader.bus.messages.VenueCommand` structs
from an account and returns a :class:`VenueOutput`: the
:data:`~jtrader.bus.messages.VenueEvent` structs for every account concerned
(the sender, and the owners of resting orders it traded with) and the public
market data the change produced. It opens no socket and reads no clock of its
own: the clock is injected, so the same commands at the same times give the
same events (the backtester's parity relies on it). Matching is
:class:`jtrader.matching.MatchingEngine`'s, unchanged.

What the venue guarantees:

- **Idempotent client order ids per account.** A ``VenueSubmit`` whose id the
  account already used for an accepted order creates nothing and changes
  nothing, whatever its parameters: the venue re-sends the order's current
  state to the sender: ``VenueAck``, every ``VenueFill`` so far (fills are
  keyed by trade id, so a receiver applies each once), a ``VenueAmended`` if
  it was amended, and its ``VenueCancelled``/``VenueExpired`` if it is closed.
  Ids of refused submits are not remembered: a retry is checked afresh.
- Acks carry deterministic venue order ids (``"1"``, ``"2"``... in acceptance
  order) and fills deterministic trade ids (``"<SYMBOL>-<n>"``, the engine's
  trade sequence); a fill's ``fee`` is exact (notional times the
  instrument's maker or taker rate) in the settlement currency.
- IOC/FOK/market remainders and stops that trigger into an empty book end
  with ``VenueExpired``; a cancel with ``VenueCancelled(reason="requested")``.
- Every refusal is a ``VenueReject`` whose ``request`` says what was refused
  (reject codes below); a refused cancel or amend leaves the order as it was.
- The venue's own record (:meth:`SimVenue.record`) holds every accepted order
  with its current state, every fill in execution order, and net positions
  and balances per account; ``VenueQuery`` answers a ``VenueSnapshot`` of the
  sender's open orders, its fills with ``ts_event >= fills_since_ns``, and its
  balances. Nothing in the record is ever dropped.
- Public data per instrument after each change: a ``Trade`` per match (the
  taker's side as aggressor), a ``Quote`` when the top of book changed (only
  while both sides exist), a ``BookDelta`` of the levels that changed within
  the top ``book_depth`` (size 0: the level left the top), sequenced by
  ``first_update_id == last_update_id == prev_update_id + 1``.

Replayed (anonymous) liquidity comes in through :meth:`SimVenue.set_levels`
and :meth:`SimVenue.replay_trade`; the rule by which it fills our orders is
described in :mod:`jtrader.gateways.sim.replay`.

Reject codes (``VenueReject.reason``, ``request``)::

    SUBMIT  UNKNOWN_INSTRUMENT       the instrument is not listed on this venue
            INVALID_ORDER            bad quantity/price/trigger/time in force, off the order
                                     step, below the minimum quantity or notional, too far
                                     from the book for the engine's ladder
            POST_ONLY_WOULD_TAKE     a post-only order that would cross
            FOK_NOT_FILLABLE         a FOK order the book cannot fill whole now
            NO_LIQUIDITY             a market order on an empty opposite side
    CANCEL  UNKNOWN_ORDER            no order with this id (and instrument) for the account
            ORDER_NOT_OPEN           the order is filled, cancelled or expired
    AMEND   UNKNOWN_ORDER, ORDER_NOT_OPEN   as for cancel
            INVALID_ORDER            quantity not above the filled quantity, off the order step
                                     or below the minimum; a price on a market/stop-market order
            POST_ONLY_WOULD_TAKE     a post-only order amended to a crossing price

Exceptions: none for bad commands (they are refused with events);
:class:`~jtrader.domain.UnknownInstrument` from :meth:`SimVenue.set_levels`
and :meth:`SimVenue.replay_trade` for an instrument the venue does not list
(a wiring error, not market input).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from jtrader.bus.messages import (
    Heartbeat,
    MarketData,
    RejectReason,
    RequestKind,
    VenueAck,
    VenueAmend,
    VenueAmended,
    VenueCancel,
    VenueCancelled,
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
    BookDelta,
    BookSnapshot,
    Fill,
    Instrument,
    InstrumentId,
    InvalidValue,
    Level,
    LiquiditySide,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Side,
    TimeInForce,
    Trade,
    UnknownInstrument,
    move_balances,
)
from jtrader.matching import (
    ANONYMOUS_OWNER,
    Accepted,
    Amended,
    Cancelled,
    CommandKind,
    EngineEvent,
    Filled,
    MatchingEngine,
    Reason,
    Rejected,
    SideCode,
    new_commands,
)

__all__ = [
    "REPLAY_OWNER",
    "SimOrderRecord",
    "SimVenue",
    "VenueOutput",
    "VenueRecord",
    "read_record",
    "write_record",
]

REPLAY_OWNER = -2
"""Engine owner of the aggressor orders that stand for replayed trades (never an account)."""
_REPLAY_ORDER_ID = 1 << 62  # never live: a replayed trade is an IOC that cannot rest
_ZERO = Decimal(0)
_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_BUY_CODE, _SELL_CODE = int(SideCode.BUY), int(SideCode.SELL)

_REASONS: dict[Reason, RejectReason] = {
    Reason.POST_ONLY_WOULD_TAKE: RejectReason.POST_ONLY_WOULD_TAKE,
    Reason.FOK_NOT_FILLABLE: RejectReason.FOK_NOT_FILLABLE,
    Reason.NO_LIQUIDITY: RejectReason.NO_LIQUIDITY,
    Reason.UNKNOWN_ORDER: RejectReason.ORDER_NOT_OPEN,
    Reason.DUPLICATE_ORDER_ID: RejectReason.DUPLICATE_CLIENT_ORDER_ID,
}
_REASON_TEXT: dict[Reason, str] = {
    Reason.BAD_PRICE: "price outside the book's range (or not positive)",
    Reason.BAD_QUANTITY: "quantity must be positive and above the filled quantity",
    Reason.BAD_TRIGGER: "trigger price must be positive",
    Reason.BAD_TIME_IN_FORCE: "time in force not valid for this order type",
}


class VenueOutput:
    """What one venue step produced: events per account, in order, and public market data, in order."""

    __slots__ = ("private", "public")

    def __init__(self) -> None:
        self.private: list[tuple[str, VenueEvent]] = []
        self.public: list[MarketData] = []

    def to(self, account: str) -> list[VenueEvent]:
        """The events for ``account``, in the order the venue produced them."""
        return [event for who, event in self.private if who == account]

    def extend(self, other: VenueOutput) -> None:
        self.private.extend(other.private)
        self.public.extend(other.public)

    def __bool__(self) -> bool:
        return bool(self.private or self.public)

    def __repr__(self) -> str:
        return f"VenueOutput(private={self.private!r}, public={self.public!r})"


class SimOrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An order the venue accepted, as it stands now (``status`` is final once the order is closed)."""

    account_id: str
    client_order_id: str
    venue_order_id: str
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity_lots: int
    filled_lots: int
    price_ticks: int | None
    trigger_ticks: int | None
    status: OrderStatus
    ts_accepted: int
    ts_last: int


class VenueRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The venue's ground truth: every accepted order, every fill, positions and balances per account."""

    ts: int
    orders: list[SimOrderRecord]
    fills: list[Fill]
    positions: list[Position]
    balances: dict[str, dict[str, Decimal]]

    def net_positions(self, account_id: str | None = None) -> dict[str, int]:
        """Net lots by instrument id (``"BTCUSDT.sim"``) of one account, or summed over all (None)."""
        out: dict[str, int] = {}
        for position in self.positions:
            if account_id is None or position.account_id == account_id:
                key = str(position.instrument_id)
                out[key] = out.get(key, 0) + position.net_lots
        return out


def write_record(record: VenueRecord, path: str | os.PathLike[str]) -> None:
    """Write ``record`` as JSON to ``path`` atomically (a temporary file renamed over it)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(msgspec.json.encode(record))
    os.replace(tmp, target)


def read_record(path: str | os.PathLike[str]) -> VenueRecord:
    """Read a record written by :func:`write_record`."""
    return msgspec.json.decode(Path(path).read_bytes(), type=VenueRecord)


@dataclass(slots=True, eq=False)
class _Order:
    account: str
    client_order_id: str
    venue_order_id: str
    engine_id: int
    owner: int
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity_lots: int
    price_ticks: int | None
    trigger_ticks: int | None
    ts_accepted: int
    status: OrderStatus = OrderStatus.ACKED
    filled_lots: int = 0
    ts_last: int = 0
    amended: bool = False
    fills: list[Fill] = field(default_factory=list)
    closing: VenueEvent | None = None

    def record(self) -> SimOrderRecord:
        return SimOrderRecord(
            account_id=self.account, client_order_id=self.client_order_id, venue_order_id=self.venue_order_id,
            instrument_id=self.instrument_id, side=self.side, order_type=self.order_type,
            time_in_force=self.time_in_force, quantity_lots=self.quantity_lots, filled_lots=self.filled_lots,
            price_ticks=self.price_ticks, trigger_ticks=self.trigger_ticks, status=self.status,
            ts_accepted=self.ts_accepted, ts_last=self.ts_last,
        )  # fmt: skip

    def state(self) -> VenueOrderState:
        return VenueOrderState(
            client_order_id=self.client_order_id, venue_order_id=self.venue_order_id,
            instrument_id=self.instrument_id, side=self.side, quantity_lots=self.quantity_lots,
            filled_lots=self.filled_lots, price_ticks=self.price_ticks, status=self.status,
        )  # fmt: skip


@dataclass(slots=True, eq=False)
class _Book:
    instrument: Instrument
    engine: MatchingEngine
    lot_step: int
    min_lots: int
    top: tuple[Level | None, Level | None] = (None, None)
    bids: dict[int, int] = field(default_factory=dict)  # the top levels as last published
    asks: dict[int, int] = field(default_factory=dict)
    sequence: int = 0


@dataclass(slots=True, eq=False)
class _Account:
    positions: dict[InstrumentId, Position] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    orders: list[_Order] = field(default_factory=list)


class SimVenue:
    """A simulated venue: one matching engine per listed instrument, accounts, and the venue's record.

    ``clock`` returns the venue time in ns; every event the venue makes is
    stamped with it (``ts``, and a fill's ``ts_event``/``ts_recv``).
    ``book_depth`` bounds published book deltas; ``check_minimums`` refuses
    orders below the instrument's minimum quantity or (priced orders)
    minimum notional; ``initial_balances`` seeds every new account.

    Example::

        >>> from jtrader.domain import Price, Quantity, Venue
        >>> btc = Instrument(InstrumentId("BTCUSDT", Venue.SIM), InstrumentKind.LINEAR_PERPETUAL, "BTC", "USDT",
        ...                  "USDT", Price("0.1"), Quantity("0.001"), taker_fee=Decimal("0.0005"))
        >>> venue = SimVenue([btc], clock=lambda: 1)
        >>> _ = venue.set_levels(btc.id, [], [(618003, 5)])
        >>> out = venue.handle(VenueSubmit(client_order_id="c1", instrument_id=btc.id, side=Side.BUY,
        ...                                order_type=OrderType.MARKET, quantity_lots=2), "acct")
        >>> [type(e).__name__ for e in out.to("acct")]
        ['VenueAck', 'VenueFill']
        >>> out.to("acct")[1].fill.fee
        Decimal('0.06180030')
    """

    def __init__(
        self,
        instruments: Iterable[Instrument],
        clock: Callable[[], int],
        *,
        book_depth: int = 20,
        check_minimums: bool = True,
        initial_balances: Mapping[str, Decimal] | None = None,
        session: str = "",
    ) -> None:
        # Prefixes trade and venue order ids: a restarted venue process must not reuse the ids of
        # an earlier session, because the OMS journal spans sessions and dedups fills by trade id.
        self.session = session
        self._clock = clock
        self.book_depth = book_depth
        self.check_minimums = check_minimums
        self._initial_balances = dict(initial_balances or {})
        self._books: dict[InstrumentId, _Book] = {}
        for instrument in instruments:
            lot_step = instrument.size_to_lots(instrument.order_lot_size)
            min_lots = instrument.size_to_lots(instrument.min_quantity) if instrument.min_quantity else 0
            self._books[instrument.id] = _Book(instrument, MatchingEngine(instrument), lot_step, min_lots)
        self._accounts: dict[str, _Account] = {}
        self._owners: dict[str, int] = {}
        self._orders: dict[tuple[str, str], _Order] = {}
        self._live: dict[int, _Order] = {}  # engine order id -> open order
        self._all_orders: list[_Order] = []
        self._all_fills: list[Fill] = []
        self._next_order_id = 1
        self._pending: _Order | None = None
        self.counters: Counter[str] = Counter()
        self.rejected_replay: list[Rejected] = []

    # -- reading --------------------------------------------------------------------------------

    @property
    def instruments(self) -> list[Instrument]:
        return [book.instrument for book in self._books.values()]

    def engine(self, instrument_id: InstrumentId) -> MatchingEngine:
        """The matching engine of one instrument (for inspection: do not drive it directly)."""
        return self._book(instrument_id).engine

    def now(self) -> int:
        """The venue's time (its injected clock), ns."""
        return self._clock()

    def order(self, account: str, client_order_id: str) -> SimOrderRecord | None:
        """An accepted order's current state, or None."""
        order = self._orders.get((account, client_order_id))
        return None if order is None else order.record()

    def record(self) -> VenueRecord:
        """The venue's ground truth now: orders (by venue order id), fills (in execution order), positions, balances."""
        positions = [p for acct in self._accounts.values() for p in acct.positions.values()]
        return VenueRecord(
            ts=self._clock(),
            orders=[o.record() for o in self._all_orders],
            fills=list(self._all_fills),
            positions=[msgspec.structs.replace(p) for p in positions],
            balances={name: self._balances(acct) for name, acct in self._accounts.items()},
        )

    def snapshot(self, account: str, fills_since_ns: int = 0) -> VenueSnapshot:
        """What ``VenueQuery`` answers for ``account``: open orders, fills since, balances.

        Balances map each currency to its cash (initial balance plus settled
        flows: spot buys and sells, realised PnL of derivatives, minus fees)
        and each traded instrument id (``"BTCUSDT.sim"``) to the net position
        in the instrument's size units.
        """
        acct = self._accounts.get(account) or _Account(balances=dict(self._initial_balances))
        return VenueSnapshot(
            ts=self._clock(),
            open_orders=[o.state() for o in acct.orders if o.status.is_open],
            fills=[f for f in acct.fills if f.ts_event >= fills_since_ns],
            balances=self._balances(acct),
        )

    def book_snapshot(self, instrument_id: InstrumentId) -> BookSnapshot:
        """The top ``book_depth`` levels of one instrument now, sequenced like the published deltas."""
        book = self._book(instrument_id)
        now = self._clock()
        bids, asks = book.engine.depth(self.book_depth)
        return BookSnapshot(instrument_id, bids, asks, book.sequence, now, now)

    # -- commands -------------------------------------------------------------------------------

    def handle(self, command: Any, account: str) -> VenueOutput:
        """Apply one command from ``account``; return the events for every account concerned and the public data."""
        out = VenueOutput()
        kind = type(command)
        now = self._clock()
        if kind is VenueSubmit:
            self._submit(command, account, now, out)
        elif kind is VenueCancel:
            self._cancel(command, account, now, out)
        elif kind is VenueAmend:
            self._amend(command, account, now, out)
        elif kind is VenueQuery:
            out.private.append((account, self.snapshot(account, command.fills_since_ns)))
        elif kind is not Heartbeat:
            self.counters["unknown_command"] += 1
        return out

    def _reject(
        self,
        out: VenueOutput,
        account: str,
        cid: str,
        reason: RejectReason,
        message: str,
        request: RequestKind,
        ts: int,
    ) -> None:
        self.counters[f"rejected.{request.value}.{reason.value}"] += 1
        out.private.append(
            (account, VenueReject(ts=ts, client_order_id=cid, reason=reason, message=message, request=request))
        )

    def _owner(self, account: str) -> int:
        owner = self._owners.get(account)
        if owner is None:
            owner = self._owners[account] = len(self._owners) + 1
            self._accounts.setdefault(account, _Account(balances=dict(self._initial_balances)))
        return owner

    def _submit(self, cmd: VenueSubmit, account: str, now: int, out: VenueOutput) -> None:
        cid = cmd.client_order_id
        existing = self._orders.get((account, cid))
        if existing is not None:
            self.counters["duplicate_submit"] += 1
            self._resend(existing, now, out)
            return
        book = self._books.get(cmd.instrument_id)
        if book is None:
            known = ", ".join(sorted(str(i) for i in self._books)) or "none"
            self._reject(
                out, account, cid, RejectReason.UNKNOWN_INSTRUMENT,
                f"{cmd.instrument_id} is not listed on the simulated venue; it lists {known}", RequestKind.SUBMIT, now,
            )  # fmt: skip
            return
        problem = self._order_problem(book, cmd)
        if problem:
            self._reject(out, account, cid, RejectReason.INVALID_ORDER, problem, RequestKind.SUBMIT, now)
            return
        owner = self._owner(account)
        engine_id = self._next_order_id
        self._next_order_id += 1
        priced = cmd.order_type in _PRICED
        stop = cmd.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
        self._pending = _Order(
            account=account, client_order_id=cid, venue_order_id=f"{self.session}{engine_id}", engine_id=engine_id,
            owner=owner,
            instrument_id=cmd.instrument_id, side=cmd.side, order_type=cmd.order_type,
            time_in_force=cmd.time_in_force, quantity_lots=cmd.quantity_lots,
            price_ticks=cmd.price_ticks if priced else None, trigger_ticks=cmd.trigger_ticks if stop else None,
            ts_accepted=now, ts_last=now,
        )  # fmt: skip
        events = book.engine.submit(
            engine_id, owner, cmd.side, cmd.quantity_lots, (cmd.price_ticks or 0) if priced else 0,
            order_type=cmd.order_type, time_in_force=cmd.time_in_force,
            trigger_ticks=(cmd.trigger_ticks or 0) if stop else 0, ts=now,
        )  # fmt: skip
        try:
            self._apply(book, events, now, out, (account, cid, RequestKind.SUBMIT), publish_trades=True)
        finally:
            self._pending = None
        if (account, cid) not in self._orders:  # refused: its id goes to the next order (ids stay consecutive)
            self._next_order_id = engine_id
        self._publish_book(book, now, out)

    def _order_problem(self, book: _Book, cmd: VenueSubmit) -> str | None:
        instrument = book.instrument
        try:
            Order(
                client_order_id=cmd.client_order_id, instrument_id=cmd.instrument_id, side=cmd.side,
                order_type=cmd.order_type, quantity_lots=cmd.quantity_lots, price_ticks=cmd.price_ticks,
                trigger_ticks=cmd.trigger_ticks, time_in_force=cmd.time_in_force,
            )  # fmt: skip
        except (InvalidValue, ValueError, TypeError) as exc:
            return str(exc)
        problem = self._quantity_problem(book, cmd.quantity_lots)
        if problem:
            return problem
        if self.check_minimums and instrument.min_notional and cmd.order_type in _PRICED and cmd.price_ticks:
            notional = instrument.notional(
                instrument.ticks_to_price(cmd.price_ticks), instrument.lots_to_size(cmd.quantity_lots)
            )
            if notional < instrument.min_notional:
                return (
                    f"notional {notional} {instrument.settle} is below {instrument.id}'s minimum of "
                    f"{instrument.min_notional}: raise the quantity"
                )
        return None

    def _quantity_problem(self, book: _Book, lots: int) -> str | None:
        if book.lot_step > 1 and lots % book.lot_step:
            return (
                f"quantity {lots} lots is not a whole number of {book.instrument.id}'s order step "
                f"({book.lot_step} lots = {book.instrument.order_lot_size})"
            )
        if self.check_minimums and lots < book.min_lots:
            return f"quantity {lots} lots is below {book.instrument.id}'s minimum of {book.min_lots} lots"
        return None

    def _resend(self, order: _Order, now: int, out: VenueOutput) -> None:
        events: list[VenueEvent] = [
            VenueAck(ts=now, client_order_id=order.client_order_id, venue_order_id=order.venue_order_id)
        ]
        events += [VenueFill(ts=now, fill=fill) for fill in order.fills]
        if order.amended:
            events.append(
                VenueAmended(
                    ts=now,
                    client_order_id=order.client_order_id,
                    quantity_lots=order.quantity_lots,
                    price_ticks=order.price_ticks,
                )
            )
        if order.closing is not None:
            events.append(order.closing)
        out.private.extend((order.account, event) for event in events)

    def _find(
        self, account: str, cid: str, instrument_id: InstrumentId, request: RequestKind, now: int, out: VenueOutput
    ) -> _Order | None:
        order = self._orders.get((account, cid))
        if order is None or order.instrument_id != instrument_id:
            self._reject(
                out, account, cid, RejectReason.UNKNOWN_ORDER,
                f"no order {cid!r} on {instrument_id} for account {account!r}", request, now,
            )  # fmt: skip
            return None
        if not order.status.is_open:
            self._reject(
                out, account, cid, RejectReason.ORDER_NOT_OPEN,
                f"order {cid!r} is {order.status.value}: nothing left to {request.value}", request, now,
            )  # fmt: skip
            return None
        return order

    def _cancel(self, cmd: VenueCancel, account: str, now: int, out: VenueOutput) -> None:
        order = self._find(account, cmd.client_order_id, cmd.instrument_id, RequestKind.CANCEL, now, out)
        if order is None:
            return
        book = self._books[order.instrument_id]
        events = book.engine.cancel(order.engine_id, order.owner, ts=now)
        self._apply(book, events, now, out, (account, order.client_order_id, RequestKind.CANCEL), publish_trades=True)
        self._publish_book(book, now, out)

    def _amend(self, cmd: VenueAmend, account: str, now: int, out: VenueOutput) -> None:
        order = self._find(account, cmd.client_order_id, cmd.instrument_id, RequestKind.AMEND, now, out)
        if order is None:
            return
        book = self._books[order.instrument_id]
        cid = order.client_order_id
        problem = None
        if cmd.quantity_lots <= order.filled_lots:
            problem = (
                f"new quantity {cmd.quantity_lots} lots must exceed the {order.filled_lots} lots already filled; "
                "cancel the order instead"
            )
        elif cmd.price_ticks is not None and order.order_type not in _PRICED:
            problem = f"a {order.order_type.value} order has no price to amend"
        elif cmd.price_ticks is not None and cmd.price_ticks <= 0:
            problem = f"price must be positive, got {cmd.price_ticks} ticks"
        else:
            problem = self._quantity_problem(book, cmd.quantity_lots)
        if problem:
            self._reject(out, account, cid, RejectReason.INVALID_ORDER, problem, RequestKind.AMEND, now)
            return
        events = book.engine.amend(order.engine_id, order.owner, cmd.quantity_lots, cmd.price_ticks or 0, ts=now)
        self._apply(book, events, now, out, (account, cid, RequestKind.AMEND), publish_trades=True)
        self._publish_book(book, now, out)

    # -- replayed market ------------------------------------------------------------------------

    def set_levels(self, instrument_id: InstrumentId, bids: Iterable[Level], asks: Iterable[Level]) -> VenueOutput:
        """Set the anonymous (replayed) size of price levels: ``(price_ticks, lots)``, lots 0 removes it.

        Our resting orders that a new level crosses are filled whole at their
        own price (we are the maker); see :mod:`jtrader.gateways.sim.replay`.
        """
        book = self._book(instrument_id)
        now = self._clock()
        engine = book.engine
        rows = [(_BUY_CODE, price, lots) for price, lots in bids]
        rows += [(_SELL_CODE, price, lots) for price, lots in asks]
        table = np.array(rows) if rows else None
        events: list[EngineEvent] = []
        if table is not None and table.dtype.kind == "i":
            # One kernel call for the whole change: what per-level calls would give, in the same order.
            commands = new_commands(len(rows))
            commands["kind"] = CommandKind.SET_LEVEL
            commands["ts"] = now
            commands["side"] = table[:, 0]
            commands["price_ticks"] = table[:, 1]
            commands["lots"] = table[:, 2]
            found = engine.process_batch(commands)
            if len(found):
                events = engine.decode(found)
        else:  # not plain ints: the per-level calls name the bad field (or the kernel refuses it)
            for code, price, lots in rows:
                events += engine.set_level(Side.BUY if code == _BUY_CODE else Side.SELL, price, lots, ts=now)
        out = VenueOutput()
        self._apply(book, events, now, out, None, publish_trades=True)
        self._publish_book(book, now, out)
        return out

    def replay_trade(
        self,
        instrument_id: InstrumentId,
        price_ticks: int,
        size_lots: int,
        aggressor: Side,
        trade_id: str = "",
        *,
        match: bool = True,
    ) -> VenueOutput:
        """Apply a replayed trade: an anonymous IOC of ``size_lots`` at ``price_ticks`` on the ``aggressor`` side.

        It takes the book in price-time priority (the anonymous size queued
        ahead of our orders first), so our resting orders at or through the
        price fill up to what is left of the traded size. Anonymous size it
        took at ``price_ticks`` goes back behind the queue (the recording still
        shows it); anonymous size it took at better prices stays taken until
        the recording next sets those levels. Publishes the
        replayed trade itself (trade id ``"<SYMBOL>-r<recorded id>"``), not its
        parts. With ``match`` False the trade is only published.
        """
        book = self._book(instrument_id)
        now = self._clock()
        out = VenueOutput()
        if price_ticks <= 0 or size_lots <= 0:
            self.counters["replay_trade_invalid"] += 1
            return out
        if match:
            engine = book.engine
            events = engine.submit(
                _REPLAY_ORDER_ID, REPLAY_OWNER, aggressor, size_lots, price_ticks,
                time_in_force=TimeInForce.IOC, ts=now,
            )  # fmt: skip
            # The anonymous size the trade took at its own price goes back, at the back of the level:
            # the recording still shows it until its next depth update, which removes size from the
            # back first. Size it took at better prices stays taken: a print at this price proves
            # the venue had nothing better left, so that recorded size is stale (a sweep's later
            # prints must reach orders resting behind it, not refill it).
            taken = 0
            for ev in events:
                if isinstance(ev, Filled) and ev.owner == ANONYMOUS_OWNER and ev.price_ticks == price_ticks:
                    taken += ev.lots
            if taken:
                maker_side = aggressor.opposite
                events += engine.set_level(
                    maker_side, price_ticks, engine.level(maker_side, price_ticks)[1] + taken, ts=now
                )
            self._apply(book, events, now, out, None, publish_trades=False)
        public_id = f"{instrument_id.symbol}-{self.session}r{trade_id}"
        out.public.append(Trade(instrument_id, price_ticks, size_lots, aggressor, public_id, now, now))
        if match:
            self._publish_book(book, now, out)
        return out

    # -- engine events -> venue events ------------------------------------------------------------

    def _book(self, instrument_id: InstrumentId) -> _Book:
        book = self._books.get(instrument_id)
        if book is None:
            known = ", ".join(sorted(str(i) for i in self._books)) or "none"
            raise UnknownInstrument(f"{instrument_id} is not listed on the simulated venue; it lists {known}")
        return book

    def _apply(
        self,
        book: _Book,
        events: list[EngineEvent],
        now: int,
        out: VenueOutput,
        request: tuple[str, str, RequestKind] | None,
        publish_trades: bool,
    ) -> None:
        iid = book.instrument.id
        for ev in events:
            kind = type(ev)
            if kind is Filled:
                assert isinstance(ev, Filled)
                if publish_trades and ev.liquidity is LiquiditySide.TAKER:
                    trade_id = f"{iid.symbol}-{self.session}{ev.trade_id}"
                    out.public.append(Trade(iid, ev.price_ticks, ev.lots, ev.side, trade_id, now, now))
                order = self._live.get(ev.order_id) if ev.owner > 0 else None
                if order is not None:
                    self._fill(book, order, ev, now, out)
            elif kind is Accepted:
                pending = self._pending
                if pending is not None and ev.order_id == pending.engine_id:
                    self._accept(pending, now, out)
            elif kind is Cancelled:
                assert isinstance(ev, Cancelled)
                order = self._live.pop(ev.order_id, None) if ev.owner > 0 else None
                if order is not None:
                    self._close(order, ev, now, out)
            elif kind is Amended:
                assert isinstance(ev, Amended)
                order = self._live.get(ev.order_id) if ev.owner > 0 else None
                if order is not None:
                    order.quantity_lots = ev.quantity_lots
                    if order.order_type in _PRICED:
                        order.price_ticks = ev.price_ticks
                    order.amended = True
                    order.ts_last = now
                    out.private.append(
                        (
                            order.account,
                            VenueAmended(
                                ts=now,
                                client_order_id=order.client_order_id,
                                quantity_lots=order.quantity_lots,
                                price_ticks=order.price_ticks,
                            ),
                        )
                    )
            elif kind is Rejected:
                assert isinstance(ev, Rejected)
                if request is None:
                    self.counters["replay_rejected." + ev.reason.name.lower()] += 1
                    self.rejected_replay.append(ev)
                    continue
                account, cid, what = request
                reason = _REASONS.get(ev.reason, RejectReason.INVALID_ORDER)
                text = _REASON_TEXT.get(ev.reason, ev.reason.name.lower().replace("_", " "))
                self._reject(out, account, cid, reason, f"{what.value} refused: {text}", what, now)
            else:  # Triggered: the stop now works as a market or limit order; nothing to report
                self.counters["stop_triggered"] += 1

    def _accept(self, order: _Order, now: int, out: VenueOutput) -> None:
        self._orders[(order.account, order.client_order_id)] = order
        self._live[order.engine_id] = order
        self._all_orders.append(order)
        self._accounts[order.account].orders.append(order)
        out.private.append(
            (
                order.account,
                VenueAck(ts=now, client_order_id=order.client_order_id, venue_order_id=order.venue_order_id),
            )
        )

    def _fill(self, book: _Book, order: _Order, ev: Filled, now: int, out: VenueOutput) -> None:
        instrument = book.instrument
        fill = Fill(
            client_order_id=order.client_order_id, venue_order_id=order.venue_order_id,
            trade_id=f"{instrument.id.symbol}-{self.session}{ev.trade_id}", instrument_id=instrument.id, side=ev.side,
            price_ticks=ev.price_ticks, size_lots=ev.lots, liquidity=ev.liquidity, fee=ev.fee,
            fee_currency=ev.fee_currency, account_id=order.account, ts_event=now, ts_recv=now,
        )  # fmt: skip
        order.filled_lots += ev.lots
        order.ts_last = now
        order.fills.append(fill)
        if ev.leaves_lots == 0:
            order.status = OrderStatus.FILLED
            self._live.pop(order.engine_id, None)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        self._all_fills.append(fill)
        acct = self._accounts[order.account]
        acct.fills.append(fill)
        self._account_fill(acct, instrument, fill)
        out.private.append((order.account, VenueFill(ts=now, fill=fill)))

    def _account_fill(self, acct: _Account, instrument: Instrument, fill: Fill) -> None:
        iid = instrument.id
        position = acct.positions.get(iid)
        if position is None:
            position = acct.positions[iid] = Position(instrument_id=iid, account_id=fill.account_id)
        move_balances(acct.balances, instrument, fill, position.apply_fill(instrument, fill))

    def _close(self, order: _Order, ev: Cancelled, now: int, out: VenueOutput) -> None:
        order.ts_last = now
        event: VenueEvent
        if ev.reason is Reason.REQUESTED:
            order.status = OrderStatus.CANCELLED
            event = VenueCancelled(ts=now, client_order_id=order.client_order_id, reason="requested")
        else:
            order.status = OrderStatus.EXPIRED
            event = VenueExpired(ts=now, client_order_id=order.client_order_id)
        order.closing = event
        out.private.append((order.account, event))

    def _balances(self, acct: _Account) -> dict[str, Decimal]:
        balances = dict(acct.balances)
        for iid, position in acct.positions.items():
            book = self._books.get(iid)
            if book is not None:
                balances[str(iid)] = book.instrument.lots_to_size(abs(position.net_lots)).as_decimal() * (
                    1 if position.net_lots >= 0 else -1
                )
        return balances

    # -- public book ------------------------------------------------------------------------------

    def _publish_book(self, book: _Book, now: int, out: VenueOutput) -> None:
        bids, asks = book.engine.depth(self.book_depth)
        best_bid = bids[0] if bids else None
        best_ask = asks[0] if asks else None
        bid_changes = _changes(book.bids, bids, reverse=True)
        ask_changes = _changes(book.asks, asks, reverse=False)
        if bid_changes or ask_changes:
            book.sequence += 1
            book.bids = dict(bids)
            book.asks = dict(asks)
            seq = book.sequence
            out.public.append(BookDelta(book.instrument.id, bid_changes, ask_changes, seq, seq, seq - 1, now, now))
        if (best_bid, best_ask) != book.top:
            book.top = (best_bid, best_ask)
            if best_bid is not None and best_ask is not None:
                try:
                    out.public.append(
                        Quote(book.instrument.id, *best_bid, *best_ask, now, now, update_id=book.sequence)
                    )
                except InvalidValue:  # the engine never leaves a crossed book; count it if it ever did
                    self.counters["crossed_top"] += 1


def _changes(before: dict[int, int], levels: list[tuple[int, int]], reverse: bool) -> list[Level]:
    """Levels that differ from ``before``, and ``(price, 0)`` for prices that left; best first."""
    now = dict(levels)
    changed = [(price, size) for price, size in levels if before.get(price) != size]
    changed += [(price, 0) for price in before if price not in now]
    changed.sort(reverse=reverse)
    return changed
