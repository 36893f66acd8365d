"""The OMS core: order state machine, risk gate, routing, positions and PnL, journal and recovery.

:class:`OmsEngine` is deterministic and does no I/O of its own: it takes
commands, venue events, market data and timer ticks, and returns a list of
:data:`~jtrader.oms.messages.Output` for the runtime to send. The clock is
injected. Every state change is first appended to the journal (if one is
attached) and then applied by the same code that :meth:`OmsEngine.recover`
runs, so a replayed journal rebuilds the state exactly.

Order state machine (``OrderStatus``)::

    new --ack--> acked --fill--> partially_filled --fill--> filled
     |  \\                \\                 \\
     |   fill (before ack) \\-- cancelled / expired (venue)  \\-- cancelled / expired
     +-- rejected (venue), cancelled, expired (before ack)

- Terminal states (filled, cancelled, rejected, expired) never reopen. A fill
  on a terminal order (a late fill after a cancel, or after the venue said
  cancelled) is still applied to the order and the position: fills are facts.
  It turns the order into ``filled`` only if it completes the quantity.
- A fill is applied once per ``(instrument, trade_id, client_order_id)`` (a trade
  between two of our own orders is two fills with one trade id); a duplicate is counted
  and ignored. A duplicate ack is ignored; an ack after a fill, cancel or
  expiry only records the venue order id. An ack for an order the OMS rejected
  makes it send a cancel (the venue must not hold an order we do not track).
- Fills larger than the order raise its quantity to the filled amount (the
  venue's fills are the truth; an amend up may not have been confirmed yet).

Idempotent client order ids: a ``SubmitOrder`` with a known id creates no
second order. If its parameters equal the original's it is a retry, and the
sender gets an ``ExecutionReport`` of the order's current state; otherwise it is
refused with ``DUPLICATE_CLIENT_ORDER_ID``. Ids of orders refused before
acceptance (by the OMS or risk) are not remembered: a retry is checked afresh.

Amend and cancel wait for the venue: an amend changes the order only on
``VenueAmended`` (until then risk counts the larger of both sizes); a refused
cancel or amend reaches the owner as ``OrderRejected`` with ``request`` set.
A new quantity must stay above the filled quantity.

Routing: an order goes to ``routes[instrument_id.venue]`` (a gateway name);
no route: ``NO_ROUTE``.

Positions are kept per account and instrument (the venue is part of the
instrument id) with :meth:`Position.apply_fill`. PnL: realised and fees from
the position, unrealised marked to the quote mid (or last trade, or bar
close), funding (:meth:`OmsEngine.apply_funding`) added to realised PnL and
totalled separately. Fees are taken to be in the settlement currency.

Every refusal reaches the sender as ``OrderRejected`` with a ``RejectReason``,
is journaled (``CommandRejected``) and counted in :attr:`OmsEngine.counters`
(``rejected.<reason>``; mirrored to a Prometheus counter when a registry is given).

Performance: risk checks are O(1) on incremental aggregates (one lookup per
order for the strategy's and the portfolio's); bulk cancels (mass cancel,
disconnect, kill, flatten) scan the open orders. What the OMS keeps per order
(its bookkeeping, the order, the request, journal records) and the messages it
makes per order are kept out of the cyclic GC (``gc=False``): the heap grows by
no tracked object per order, so no collection ever rescans the order book
(``bench/oms.py`` measures the core). Reporting readers use
:meth:`OmsEngine.changes_since`, O(changes), never a full copy.

Exceptions::

    OmsError(Exception)
     +-- RecoveryError    a journal that cannot be replayed into this configuration
    JournalError(Exception)          (from jtrader.oms.journal)
     +-- JournalCorrupt
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from jtrader.bus.messages import (
    AmendOrder,
    CancelOrder,
    ControlReply,
    ControlRequest,
    ExecutionReport,
    Heartbeat,
    MassCancel,
    OrderRejected,
    PositionUpdate,
    RejectReason,
    RequestKind,
    RiskStateUpdate,
    SubmitOrder,
    VenueAck,
    VenueAmend,
    VenueAmended,
    VenueCancel,
    VenueCancelled,
    VenueExpired,
    VenueFill,
    VenueReject,
    VenueSnapshot,
    VenueSubmit,
)
from jtrader.domain import (
    Fill,
    Instrument,
    InstrumentId,
    InstrumentKind,
    InstrumentRegistry,
    InvalidValue,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    Venue,
    move_balances,
)
from jtrader.oms.config import OmsConfig
from jtrader.oms.journal import (
    FsyncPolicy,
    Journal,
    JournalCorrupt,
    journal_files,
    prune,
    read_checkpoint,
    repair,
    replay,
    segment_path,
    write_checkpoint,
)
from jtrader.oms.messages import (
    TOPIC_EXECUTION,
    TOPIC_POSITION,
    TOPIC_RISK,
    AmendRequested,
    AnyRecord,
    BalancesBaselined,
    CancelRequested,
    ChangeCursor,
    CheckpointOrder,
    CommandRejected,
    DayStarted,
    Difference,
    FundingApplied,
    OmsChanges,
    OmsCheckpoint,
    OmsSnapshot,
    OrderAccepted,
    Output,
    PendingState,
    Publish,
    ReconcileReport,
    RiskStateChanged,
    Sender,
    ToClient,
    ToVenue,
    VenueEventApplied,
)
from jtrader.risk.engine import RESTING_TIFS, RiskEngine, RiskError

__all__ = ["OmsEngine", "OmsError", "RecoveryError", "RecoveryInfo", "unrealised_pnl", "NS_PER_DAY"]

NS_PER_DAY = 86_400 * 1_000_000_000
_ZERO = Decimal(0)
_OPEN = frozenset({OrderStatus.NEW, OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED})
_NEW = OrderStatus.NEW
_ACKED = OrderStatus.ACKED
_PARTIAL = OrderStatus.PARTIALLY_FILLED
_FILLED = OrderStatus.FILLED
_CANCELLED = OrderStatus.CANCELLED
_REJECTED = OrderStatus.REJECTED
_EXPIRED = OrderStatus.EXPIRED
_LIMIT = OrderType.LIMIT
_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_SUBMIT = RequestKind.SUBMIT
_CANCEL = RequestKind.CANCEL
_AMEND = RequestKind.AMEND
_TRUE = frozenset({"1", "true", "yes", "on"})
# Changes kept for changes_since() readers (8 bytes each); a reader further behind gets everything again.
_CHANGE_LOG_LIMIT = 1 << 22


class OmsError(Exception):
    """Base of every OMS error."""


class RecoveryError(OmsError):
    """The journal cannot be replayed into this configuration; the message says what to fix."""


class RecoveryInfo(msgspec.Struct, frozen=True):
    """What :meth:`OmsEngine.from_journal` read.

    ``records`` applied from the segments replayed (``segments`` of them, after
    the ``checkpoint`` file loaded, "" if none); the last segment's good prefix
    (``valid_bytes``) and the torn tail it dropped; checkpoints that could not
    be used, and why (``skipped_checkpoints``).
    """

    records: int
    valid_bytes: int
    ignored_bytes: int
    torn_reason: str
    checkpoint: str = ""
    segments: int = 1
    skipped_checkpoints: list[str] = []


class _Live(msgspec.Struct, gc=False):
    """The OMS's bookkeeping around one order.

    One lives as long as its order; it references no container that could point
    back at it, so it stays out of the cyclic GC (``gc=False``), which would
    otherwise rescan every order ever placed.
    """

    order: Order
    sender: Any  # Sender
    submit: SubmitOrder  # the original request, for idempotent retries
    rests: bool  # a GTC/post-only limit order: it can be crossed by our own orders
    cancel_pending: bool = False
    amend_qty: int | None = None
    amend_price: int | None = None
    risk_lots: int = 0  # open lots currently counted by risk
    book_price: int | None = None  # price at which risk holds it in our own book


def _live(order: Order, sender: Sender, submit: SubmitOrder) -> _Live:
    return _Live(order, sender, submit, order.order_type is _LIMIT and order.time_in_force in RESTING_TIFS)


class _Info:
    """Per-instrument constants the hot path needs."""

    __slots__ = ("instrument", "lot_step", "min_lots", "spot")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.lot_step = instrument.size_to_lots(instrument.order_lot_size)
        self.min_lots = instrument.size_to_lots(instrument.min_quantity) if instrument.min_quantity else 1
        self.spot = instrument.kind is InstrumentKind.SPOT


def unrealised_pnl(position: Position, instrument: Instrument, mark: Decimal) -> Decimal:
    """PnL of the open position at ``mark`` (a price, possibly between ticks), in the settlement currency.

    Same formulas as :meth:`Position.unrealised_pnl`: linear ``size * (mark - entry)``,
    inverse ``size * (1/entry - 1/mark)`` (coin), negated for a short.
    """
    net = position.net_lots
    if net == 0:
        return _ZERO
    size = instrument.lots_to_size(abs(net)).as_decimal() * instrument.contract_size
    if instrument.is_inverse:
        pnl = size * (1 / position.avg_entry - 1 / mark)
    else:
        pnl = size * (mark - position.avg_entry)
    return pnl if net > 0 else -pnl


class OmsEngine:
    """The order management system core for one account.

    ``routes`` maps a venue to the name of its connected gateway; ``journal``
    (optional) receives a record for every state change before its outputs
    are returned; ``clock`` returns ns since the epoch.

    Example::

        >>> from jtrader.domain import Instrument, InstrumentKind, Price, Quantity, Quote
        >>> from jtrader.risk import RiskEngine, RiskLimits
        >>> btc = Instrument(InstrumentId("BTCUSDT", Venue.SIM), InstrumentKind.LINEAR_PERPETUAL, "BTC", "USDT",
        ...                  "USDT", Price("0.1"), Quantity("0.001"))
        >>> registry = InstrumentRegistry([btc])
        >>> oms = OmsEngine(registry, RiskEngine(RiskLimits(), registry), lambda: 1, "acct",
        ...                 routes={Venue.SIM: "sim-gw"})
        >>> oms.on_market_data(Quote(btc.id, 599990, 1, 600010, 1, 1, 1))
        []
        >>> out = oms.on_command(SubmitOrder(client_order_id="c1", instrument_id=btc.id, side=Side.BUY,
        ...                                  order_type=OrderType.LIMIT, quantity_lots=5, price_ticks=600000), b"s1")
        >>> [type(o).__name__ for o in out]
        ['ToVenue', 'ToClient', 'Publish']
    """

    def __init__(
        self,
        instruments: InstrumentRegistry,
        risk: RiskEngine,
        clock: Callable[[], int],
        account_id: str,
        *,
        routes: Mapping[Venue, str] | None = None,
        journal: Journal | None = None,
        config: OmsConfig | None = None,
        metrics_registry: Any = None,
    ) -> None:
        self._registry = instruments
        self.risk = risk
        self._clock = clock
        self.account_id = account_id
        self._routes: dict[Venue, str] = dict(routes or {})
        self.journal = journal
        self.config = config or OmsConfig()
        self._publish = self.config.publish_execution_reports
        self._infos: dict[InstrumentId, _Info] = {}
        self._orders: dict[str, _Live] = {}
        self._open: dict[str, _Live] = {}  # insertion-ordered: bulk cancels go out in a stable order
        self._fills: list[Fill] = []
        self._fill_keys: set[tuple[InstrumentId, str, str]] = set()
        self._orphan_fills: list[Fill] = []  # fills of instruments we do not know: kept, not applied
        self._positions: dict[tuple[str, InstrumentId], Position] = {}
        self._positions_by_instrument: dict[InstrumentId, list[Position]] = {}
        self._funding: dict[tuple[str, InstrumentId], Decimal] = {}
        # What the account holds at each venue, moved by fills and funding as the venue moves it, in the
        # venue's execution order (see _book_fill): the running figures, the baseline they started from
        # (amounts, and how many fills the OMS had then), positions in execution order, the latest
        # execution time per venue, and funding since the baseline.
        self._balances: dict[Venue, dict[str, Decimal]] = {
            Venue(venue): dict(amounts) for venue, amounts in self.config.starting_balances.items()
        }
        self._baselined: set[Venue] = set()
        self._baselines: dict[Venue, tuple[dict[str, Decimal], int]] = {}
        self._shadows: dict[InstrumentId, Position] = {}
        self._executed_to: dict[Venue, int] = {}
        self._funding_since: dict[Venue, dict[str, Decimal]] = {}
        self._replaying = False
        self._track_pnl = risk.limits.daily_loss_limit is not None
        self._flatten_seq = 0
        self._last_checkpoint_bytes = 0
        # Change logs for incremental readers (changes_since): every change appends the order or position.
        self._order_log: list[_Live] = []
        self._order_log_start = 0  # change number of _order_log[0]
        self._position_log: list[Position] = []
        self._position_log_start = 0
        self.recovery: RecoveryInfo | None = None
        self.counters: dict[str, int] = {}
        self._metric: Any = None
        self._metric_children: dict[str, Any] = {}
        if metrics_registry is not None:
            from prometheus_client import Counter

            self._metric = Counter(
                "jtrader_oms_events",
                "OMS events by kind (rejections are rejected.<reason>)",
                ["event"],
                registry=metrics_registry,
            )
        self._venue_handlers: dict[type, Callable[[Any, int], list[Output]]] = {
            VenueAck: self._on_ack,
            VenueReject: self._on_reject,
            VenueFill: self._on_fill,
            VenueCancelled: self._on_cancelled,
            VenueExpired: self._on_expired,
            VenueAmended: self._on_amended,
        }
        self._controls: dict[str, Callable[[ControlRequest, Sender, int], list[Output]]] = {
            "status": self._control_status,
            "orders": self._control_orders,
            "positions": self._control_positions,
            "kill": self._control_kill,
            "reset": self._control_reset,
            "flatten": self._control_flatten,
        }

    # -- construction from a journal ----------------------------------------------------

    @classmethod
    def from_journal(
        cls,
        path: str | os.PathLike[str],
        instruments: InstrumentRegistry,
        risk: RiskEngine,
        clock: Callable[[], int],
        account_id: str,
        *,
        routes: Mapping[Venue, str] | None = None,
        config: OmsConfig | None = None,
        fsync: FsyncPolicy = "batch",
        fsync_interval_ms: float = 100.0,
        metrics_registry: Any = None,
    ) -> OmsEngine:
        """Rebuild the OMS from the journal at ``path``, cut its torn tail, and keep journaling to it.

        Loads the newest readable checkpoint whose later segments are all on
        disk, replays those segments in order (only the last may end in a torn
        record, which is cut), and appends to the last one. Without a usable
        checkpoint it replays every segment from the first; if segments needed
        for that were deleted, it raises :class:`RecoveryError` rather than
        start from a partial state.

        ``risk`` must be a fresh engine (its kill-switch latch comes from the
        journal). Call :meth:`reconcile` with each venue's snapshot next.
        """
        engine = cls(
            instruments, risk, clock, account_id, routes=routes, config=config, metrics_registry=metrics_registry
        )
        base = Path(path)
        files = journal_files(base)
        segments = files.segments
        last = max(segments, default=0)
        skipped: list[str] = []
        state: OmsCheckpoint | None = None
        start = 0
        used = ""
        for number in sorted(files.checkpoints, reverse=True):
            checkpoint = files.checkpoints[number]
            # Its segment may be missing only if nothing follows it (killed before the segment was created).
            end = max(last, number)
            missing = [n for n in range(number, end + 1) if n not in segments and not n == number == end]
            if missing:
                skipped.append(f"{checkpoint.name}: segments {missing} after it are missing")
                continue
            try:
                state = read_checkpoint(checkpoint, OmsCheckpoint)
            except (JournalCorrupt, OSError) as exc:
                skipped.append(str(exc))
                continue
            start, used = number, checkpoint.name
            break
        if state is None:
            missing = [n for n in range(last + 1) if n not in segments]
            if missing and not files.empty:
                raise RecoveryError(
                    f"journal {base}: no usable checkpoint ({'; '.join(skipped) or 'none on disk'}) and segments "
                    f"{missing} needed to replay from the start are gone: restore a checkpoint or the segments "
                    "from backup"
                )
        else:
            if state.account_id != account_id:
                raise RecoveryError(
                    f"{used} is the journal of account {state.account_id!r}, not {account_id!r}: "
                    "start with the account that wrote it"
                )
            engine._restore(state)
        last = max(last, start)
        records = prior_bytes = 0
        for number in range(start, last + 1):  # never empty: last >= start
            replayed = replay(segment_path(base, number))
            records += engine.recover(replayed)
            if number < last and replayed.ignored_bytes:
                raise RecoveryError(
                    f"journal segment {replayed.path} ends in a damaged record ({replayed.torn_reason}) but later "
                    "segments follow it: records are missing in the middle; restore the segment from backup"
                )
            prior_bytes += replayed.record_bytes
        repair(replayed)
        engine.recovery = RecoveryInfo(
            records=records,
            valid_bytes=replayed.valid_bytes,
            ignored_bytes=replayed.ignored_bytes,
            torn_reason=replayed.torn_reason,
            checkpoint=used,
            segments=last - start + 1,
            skipped_checkpoints=skipped,
        )
        engine.journal = Journal(
            base,
            fsync=fsync,
            fsync_interval_ms=fsync_interval_ms,
            segment=last,
            prior_records=records,
            prior_bytes=prior_bytes,
        )
        if used:
            engine._last_checkpoint_bytes = files.checkpoints[start].stat().st_size
        prune(base, start, engine.config.journal_keep_segments)
        engine._reset_changes()
        return engine

    def recover(self, records: Iterable[AnyRecord]) -> int:
        """Apply journal records in order (no outputs, no journaling, no risk re-checks); return how many."""
        count = 0
        self._replaying = True
        try:
            for record in records:
                self._apply_record(record)
                count += 1
        except (KeyError, InvalidValue) as exc:
            raise RecoveryError(
                f"journal record {count + 1} cannot be applied ({exc}): start with the instruments that wrote it"
            ) from None
        finally:
            self._replaying = False
        return count

    def _apply_record(self, record: Any) -> None:
        kind = type(record)
        if kind is VenueEventApplied:
            event = record.event
            self._venue_handlers[type(event)](event, record.ts)
        elif kind is OrderAccepted:
            instrument_id = record.command.instrument_id
            if instrument_id not in self._registry:
                raise RecoveryError(
                    f"the journal holds order {record.command.client_order_id!r} on {instrument_id}, which the "
                    "instrument registry does not know: start with the instruments that wrote the journal"
                )
            self._apply_accepted(record)
        elif kind is CancelRequested:
            self._apply_cancel(record)
        elif kind is AmendRequested:
            self._apply_amend(record)
        elif kind is RiskStateChanged:
            self._apply_risk_state(record)
        elif kind is FundingApplied:
            self._apply_funding(record)
        elif kind is DayStarted:
            self.risk.start_day(record.day, record.baseline)
        elif kind is BalancesBaselined:
            self._apply_baseline(record)
        # CommandRejected: audit only.

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self) -> Path:
        """Write the whole state as a checkpoint, continue the journal in a new segment, delete old ones.

        The current segment is synced first, the checkpoint is written
        atomically, and only then does the next segment start and old segments
        (beyond ``OmsConfig.journal_keep_segments``) go: killed at any point, the OMS
        recovers the same state. Call between events (the runtime does it after
        sending a batch's outputs), never from inside one.
        """
        journal = self.journal
        if journal is None:
            raise OmsError("checkpoint: this OMS has no journal; attach one (or recover with from_journal)")
        journal.sync()
        segment = journal.segment + 1
        path = write_checkpoint(journal.base, segment, self._checkpoint_state(segment))
        journal.rotate()
        prune(journal.base, segment, self.config.journal_keep_segments)
        self._last_checkpoint_bytes = path.stat().st_size
        self._count("checkpoints")
        return path

    def maybe_checkpoint(self) -> Path | None:
        """Checkpoint when the journal grew past ``checkpoint_every_records`` or ``checkpoint_every_bytes``.

        Never before the journal since the last checkpoint is at least as large
        as that checkpoint: checkpoints then cost no more disk bandwidth than the
        journal itself, however large the state grows. Returns the checkpoint
        written, or None.
        """
        journal = self.journal
        if journal is None:
            return None
        config = self.config
        grown = journal.bytes_since_checkpoint
        if grown < self._last_checkpoint_bytes:
            return None
        every_records, every_bytes = config.checkpoint_every_records, config.checkpoint_every_bytes
        if (every_records and journal.records_since_checkpoint >= every_records) or (
            every_bytes and grown >= every_bytes
        ):
            return self.checkpoint()
        return None

    def _checkpoint_state(self, segment: int) -> OmsCheckpoint:
        return OmsCheckpoint(
            ts=self._clock(),
            segment=segment,
            account_id=self.account_id,
            orders=[
                CheckpointOrder(
                    live.order, live.sender, live.submit, live.cancel_pending, live.amend_qty, live.amend_price
                )
                for live in self._orders.values()
            ],
            fills=self._fills,
            orphan_fills=self._orphan_fills,
            positions=list(self._positions.values()),
            funding=[(account, iid, amount) for (account, iid), amount in self._funding.items()],
            balances={venue.value: amounts for venue, amounts in self._balances.items()},
            balances_baselined=sorted(venue.value for venue in self._baselined),
            risk=self.risk.checkpoint(),
            balance_baselines={venue.value: baseline for venue, baseline in self._baselines.items()},
            balance_positions=list(self._shadows.values()),
            executed_to={venue.value: ts for venue, ts in self._executed_to.items()},
            funding_since={venue.value: amounts for venue, amounts in self._funding_since.items()},
        )

    def _restore(self, state: OmsCheckpoint) -> None:
        """Load a checkpoint into this fresh engine: the same state a replay of the journal before it builds."""
        registry = self._registry
        unknown = sorted(
            {str(c.order.instrument_id) for c in state.orders if c.order.instrument_id not in registry}
            | {str(p.instrument_id) for p in state.positions if p.instrument_id not in registry}
        )
        if unknown:
            raise RecoveryError(
                f"the checkpoint holds orders or positions on {', '.join(unknown)}, which the instrument registry "
                "does not know: start with the instruments that wrote the journal"
            )
        try:
            self.risk.restore(state.risk)
        except RiskError as exc:
            raise RecoveryError(f"checkpoint: {exc}: start with the instruments that wrote the journal") from None
        for saved in state.orders:
            live = _live(saved.order, saved.sender, saved.submit)
            live.cancel_pending = saved.cancel_pending
            live.amend_qty = saved.amend_quantity_lots
            live.amend_price = saved.amend_price_ticks
            cid = saved.order.client_order_id
            self._orders[cid] = live
            if saved.order.status in _OPEN:
                self._open[cid] = live
                self._sync(live)
        self._fills = list(state.fills)
        self._orphan_fills = list(state.orphan_fills)
        self._fill_keys = {(f.instrument_id, f.trade_id, f.client_order_id) for f in self._fills}
        self._fill_keys.update((f.instrument_id, f.trade_id, f.client_order_id) for f in self._orphan_fills)
        for position in state.positions:
            self._positions[(position.account_id, position.instrument_id)] = position
            self._positions_by_instrument.setdefault(position.instrument_id, []).append(position)
        self._funding = {(account, iid): amount for account, iid, amount in state.funding}
        self._balances = {Venue(venue): dict(amounts) for venue, amounts in state.balances.items()}
        self._baselined = {Venue(venue) for venue in state.balances_baselined}
        self._baselines = {Venue(venue): (dict(b), n) for venue, (b, n) in state.balance_baselines.items()}
        self._shadows = {position.instrument_id: position for position in state.balance_positions}
        self._executed_to = {Venue(venue): ts for venue, ts in state.executed_to.items()}
        self._funding_since = {Venue(venue): dict(amounts) for venue, amounts in state.funding_since.items()}
        if self._track_pnl:
            self._refresh_pnl()

    # -- small helpers --------------------------------------------------------------------

    def _count(self, event: str) -> None:
        if self._replaying:
            return
        counters = self.counters
        counters[event] = counters.get(event, 0) + 1
        metric = self._metric
        if metric is not None:
            child = self._metric_children.get(event)
            if child is None:  # labels() costs a lock and a lookup: resolve each label once
                child = self._metric_children[event] = metric.labels(event)
            child.inc()

    def _append(self, record: Any) -> None:
        journal = self.journal
        if journal is not None:
            journal.append(record)

    def _info(self, instrument_id: InstrumentId) -> _Info | None:
        info = self._infos.get(instrument_id)
        if info is None and instrument_id in self._registry:
            info = self._infos[instrument_id] = _Info(self._registry.get(instrument_id))
        return info

    def _report(self, live: _Live, ts: int, last_fill: Fill | None = None, reason: str = "") -> ExecutionReport:
        o = live.order
        return ExecutionReport(
            ts=ts,
            client_order_id=o.client_order_id,
            instrument_id=o.instrument_id,
            status=o.status,
            filled_lots=o.filled_lots,
            leaves_lots=o.quantity_lots - o.filled_lots if o.status in _OPEN else 0,
            strategy_id=o.strategy_id,
            venue_order_id=o.venue_order_id,
            last_fill=last_fill,
            reason=reason,
        )

    def _emit(self, live: _Live, report: ExecutionReport, outputs: list[Output]) -> list[Output]:
        outputs.append(ToClient(live.sender, report))
        if self._publish:
            outputs.append(Publish(TOPIC_EXECUTION, report))
        return outputs

    def _reject(
        self,
        sender: Sender,
        client_order_id: str,
        reason: RejectReason,
        message: str,
        strategy_id: str,
        now: int,
        request: RequestKind = _SUBMIT,
    ) -> list[Output]:
        self._count("rejected." + reason.value)
        self._append(CommandRejected(now, sender, client_order_id, request, reason, message))
        return [
            ToClient(
                sender,
                OrderRejected(
                    ts=now,
                    client_order_id=client_order_id,
                    reason=reason,
                    message=message,
                    strategy_id=strategy_id,
                    request=request,
                ),
            )
        ]

    @staticmethod
    def _new_order(cmd: SubmitOrder, account_id: str, ts: int) -> Order:
        return Order(
            client_order_id=cmd.client_order_id,
            instrument_id=cmd.instrument_id,
            side=cmd.side,
            order_type=cmd.order_type,
            quantity_lots=cmd.quantity_lots,
            price_ticks=cmd.price_ticks,
            trigger_ticks=cmd.trigger_ticks,
            time_in_force=cmd.time_in_force,
            reduce_only=cmd.reduce_only,
            strategy_id=cmd.strategy_id,
            account_id=account_id,
            ts_init=ts,
            ts_last=ts,
        )

    def _sync(self, live: _Live) -> None:
        """Bring risk's open-order aggregates and own book in line with the order (call after every change)."""
        o = live.order
        if o.status in _OPEN:
            want = o.quantity_lots - o.filled_lots
            if live.amend_qty is not None:
                pending = live.amend_qty - o.filled_lots
                if pending > want:  # worst case while the amend is in flight
                    want = pending
            book = o.price_ticks if live.rests else None
        else:
            want = 0
            book = None
            if self._open.pop(o.client_order_id, None) is not None:
                live.cancel_pending = False
                live.amend_qty = live.amend_price = None
        delta = want - live.risk_lots
        if delta:
            self.risk.open_delta(o.strategy_id, o.instrument_id, o.side, delta)
            live.risk_lots = want
        if book != live.book_price:
            if live.book_price is not None:
                self.risk.book_remove(o.instrument_id, o.side, live.book_price)
            if book is not None:
                self.risk.book_add(o.instrument_id, o.side, book)
            live.book_price = book

    # -- routes -----------------------------------------------------------------------------

    @property
    def routes(self) -> dict[Venue, str]:
        """A copy of the venue -> gateway routing table."""
        return dict(self._routes)

    def set_route(self, venue: Venue, gateway: str) -> None:
        """Route orders for ``venue`` to ``gateway`` (a gateway connected)."""
        self._routes[venue] = gateway

    def remove_route(self, venue: Venue) -> None:
        """Stop routing to ``venue`` (its gateway disconnected): new orders get NO_ROUTE."""
        self._routes.pop(venue, None)

    # -- commands ----------------------------------------------------------------------------

    def on_command(self, cmd: Any, sender: Sender) -> list[Output]:
        """Handle a strategy or operator command from ``sender``; return the outputs to send."""
        kind = type(cmd)
        if kind is SubmitOrder:
            return self._submit(cmd, sender)
        if kind is CancelOrder:
            return self._cancel(cmd, sender)
        if kind is AmendOrder:
            return self._amend(cmd, sender)
        if kind is MassCancel:
            return self._mass_cancel(cmd, sender)
        if kind is ControlRequest:
            return self._control(cmd, sender)
        if kind is Heartbeat:
            return []
        self._count("unknown_command")
        return []

    def _submit(self, cmd: SubmitOrder, sender: Sender) -> list[Output]:
        now = self._clock()
        cid = cmd.client_order_id
        live = self._orders.get(cid)
        if live is not None:
            return self._resubmitted(cmd, sender, live, now)
        iid = cmd.instrument_id
        info = self._infos.get(iid) or self._info(iid)
        if info is None:
            return self._reject(
                sender,
                cid,
                RejectReason.UNKNOWN_INSTRUMENT,
                f"unknown instrument {iid}: add its definition to the instrument registry",
                cmd.strategy_id,
                now,
            )
        gateway = self._routes.get(iid.venue)
        if gateway is None:
            return self._reject(
                sender,
                cid,
                RejectReason.NO_ROUTE,
                f"no gateway connected for venue {iid.venue.value}: start or reconnect it",
                cmd.strategy_id,
                now,
            )
        try:
            order = self._new_order(cmd, self.account_id, now)
        except InvalidValue as exc:
            return self._reject(sender, cid, RejectReason.INVALID_ORDER, str(exc), cmd.strategy_id, now)
        lots = cmd.quantity_lots
        if lots % info.lot_step or lots < info.min_lots:
            return self._reject(
                sender,
                cid,
                RejectReason.INVALID_ORDER,
                f"order {cid}: {lots} lots of {iid} is not a whole number of order lots "
                f"({info.lot_step} lots) of at least {info.min_lots} lots",
                cmd.strategy_id,
                now,
            )
        rejection = self.risk.check_order(
            cmd.strategy_id,
            iid,
            cmd.side,
            cmd.order_type,
            cmd.time_in_force,
            lots,
            cmd.price_ticks,
            cmd.trigger_ticks,
            cmd.reduce_only,
            now,
        )
        if rejection is not None:
            return self._reject(sender, cid, rejection[0], rejection[1], cmd.strategy_id, now)
        record = OrderAccepted(now, sender, cmd)
        if self.journal is not None:
            self.journal.append(record)
        return self._apply_accepted(record, order, gateway)

    def _resubmitted(self, cmd: SubmitOrder, sender: Sender, live: _Live, now: int) -> list[Output]:
        first = live.submit
        same = (
            cmd.instrument_id == first.instrument_id
            and cmd.side is first.side
            and cmd.order_type is first.order_type
            and cmd.quantity_lots == first.quantity_lots
            and cmd.price_ticks == first.price_ticks
            and cmd.trigger_ticks == first.trigger_ticks
            and cmd.time_in_force is first.time_in_force
            and cmd.reduce_only == first.reduce_only
            and cmd.strategy_id == first.strategy_id
        )
        if same:
            self._count("duplicate_submit_answered")
            return [ToClient(sender, self._report(live, now, reason="duplicate submit: current state"))]
        return self._reject(
            sender,
            cmd.client_order_id,
            RejectReason.DUPLICATE_CLIENT_ORDER_ID,
            f"client_order_id {cmd.client_order_id!r} already names a different order "
            f"({live.order.status.value}): use a new id",
            cmd.strategy_id,
            now,
        )

    def _apply_accepted(
        self, record: OrderAccepted, order: Order | None = None, gateway: str | None = None
    ) -> list[Output]:
        cmd = record.command
        if order is None:
            order = self._new_order(cmd, self.account_id, record.ts)
        # What _sync does for a new order (open, nothing filled, no amend), without its general case.
        quantity, price = order.quantity_lots, order.price_ticks
        rests = order.order_type is _LIMIT and order.time_in_force in RESTING_TIFS
        live = _Live(order, record.sender, cmd, rests, False, None, None, quantity, price if rests else None)
        cid = cmd.client_order_id
        self._orders[cid] = live
        self._open[cid] = live
        risk = self.risk
        risk.open_delta(order.strategy_id, order.instrument_id, order.side, quantity)
        if rests:
            risk.book_add(order.instrument_id, order.side, price)  # type: ignore[arg-type]  # a limit order
        log = self._order_log
        log.append(live)
        if len(log) > _CHANGE_LOG_LIMIT:
            self._reset_changes()
        if self._replaying:
            return []
        self._count("orders_accepted")
        venue = cmd.instrument_id.venue
        submit = VenueSubmit(
            ts=record.ts,
            client_order_id=cid,
            instrument_id=cmd.instrument_id,
            side=cmd.side,
            order_type=cmd.order_type,
            quantity_lots=cmd.quantity_lots,
            price_ticks=cmd.price_ticks,
            trigger_ticks=cmd.trigger_ticks,
            time_in_force=cmd.time_in_force,
            account_id=self.account_id,
        )
        outputs: list[Output] = [ToVenue(venue, gateway or self._routes.get(venue, ""), submit)]
        return self._emit(live, self._report(live, record.ts), outputs)

    def _cancel(self, cmd: CancelOrder, sender: Sender) -> list[Output]:
        now = self._clock()
        cid = cmd.client_order_id
        live = self._orders.get(cid)
        if live is None:
            return self._reject(
                sender, cid, RejectReason.UNKNOWN_ORDER, f"no order {cid!r} to cancel", cmd.strategy_id, now, _CANCEL
            )
        o = live.order
        if cmd.strategy_id and cmd.strategy_id != o.strategy_id:
            return self._reject(
                sender,
                cid,
                RejectReason.NOT_AUTHORISED,
                f"order {cid!r} belongs to strategy {o.strategy_id!r}, not {cmd.strategy_id!r}",
                cmd.strategy_id,
                now,
                _CANCEL,
            )
        if o.status not in _OPEN:
            return self._reject(
                sender,
                cid,
                RejectReason.ORDER_NOT_OPEN,
                f"order {cid!r} is already {o.status.value}: nothing to cancel",
                cmd.strategy_id,
                now,
                _CANCEL,
            )
        if o.instrument_id.venue not in self._routes:
            return self._reject(
                sender,
                cid,
                RejectReason.NO_ROUTE,
                f"no gateway connected for venue {o.instrument_id.venue.value}: the cancel cannot "
                "be sent; reconnect the gateway",
                cmd.strategy_id,
                now,
                _CANCEL,
            )
        rejection = self.risk.check_cancel(o.strategy_id, now)
        if rejection is not None:
            return self._reject(sender, cid, rejection[0], rejection[1], cmd.strategy_id, now, _CANCEL)
        if live.cancel_pending:
            self._count("cancel_repeated")
        record = CancelRequested(now, sender, [cid], "client")
        self._append(record)
        return self._apply_cancel(record)

    def _apply_cancel(self, record: CancelRequested) -> list[Output]:
        outputs: list[Output] = []
        for cid in record.client_order_ids:
            live = self._open.get(cid)
            if live is None:
                continue
            live.cancel_pending = True
            if self._replaying:
                continue
            iid = live.order.instrument_id
            gateway = self._routes.get(iid.venue)
            if gateway is None:
                self._count("cancel_without_route")
                continue
            outputs.append(
                ToVenue(iid.venue, gateway, VenueCancel(ts=record.ts, client_order_id=cid, instrument_id=iid))
            )
        return outputs

    def _amend(self, cmd: AmendOrder, sender: Sender) -> list[Output]:
        now = self._clock()
        cid = cmd.client_order_id
        live = self._orders.get(cid)

        def refuse(reason: RejectReason, message: str) -> list[Output]:
            return self._reject(sender, cid, reason, message, cmd.strategy_id, now, _AMEND)

        if live is None:
            return refuse(RejectReason.UNKNOWN_ORDER, f"no order {cid!r} to amend")
        o = live.order
        if cmd.strategy_id and cmd.strategy_id != o.strategy_id:
            return refuse(RejectReason.NOT_AUTHORISED, f"order {cid!r} belongs to strategy {o.strategy_id!r}")
        if o.status not in _OPEN:
            return refuse(RejectReason.ORDER_NOT_OPEN, f"order {cid!r} is already {o.status.value}")
        if live.cancel_pending:
            return refuse(RejectReason.ORDER_NOT_OPEN, f"order {cid!r} has a cancel in flight")
        if live.amend_qty is not None:
            return refuse(RejectReason.INVALID_ORDER, f"order {cid!r} has an amend in flight: wait for its outcome")
        info = self._info(o.instrument_id)
        assert info is not None  # accepted orders have known instruments
        quantity = o.quantity_lots if cmd.quantity_lots is None else cmd.quantity_lots
        price = o.price_ticks if cmd.price_ticks is None else cmd.price_ticks
        if cmd.price_ticks is not None and o.order_type not in _PRICED:
            return refuse(RejectReason.INVALID_ORDER, f"order {cid!r} is a {o.order_type.value} order: it has no price")
        if price is not None and price <= 0:
            return refuse(RejectReason.INVALID_ORDER, f"amend of {cid!r}: price must be positive, got {price} ticks")
        if quantity == o.quantity_lots and price == o.price_ticks:
            return refuse(RejectReason.INVALID_ORDER, f"amend of {cid!r} changes nothing")
        if quantity <= o.filled_lots:
            return refuse(
                RejectReason.INVALID_ORDER,
                f"amend of {cid!r} to {quantity} lots is not above the {o.filled_lots} lots already filled: "
                "cancel the order instead",
            )
        if quantity % info.lot_step or quantity < info.min_lots:
            return refuse(RejectReason.INVALID_ORDER, f"amend of {cid!r}: {quantity} lots is not a whole order lot")
        extra = (quantity - o.filled_lots) - live.risk_lots
        rejection = self.risk.check_amend(
            o.strategy_id,
            o.instrument_id,
            o.side,
            o.order_type,
            quantity,
            extra,
            price,
            price != o.price_ticks,
            now,
            reduce_only=o.reduce_only,
        )
        if rejection is not None:
            return refuse(*rejection)
        if o.instrument_id.venue not in self._routes:
            return refuse(RejectReason.NO_ROUTE, f"no gateway connected for venue {o.instrument_id.venue.value}")
        record = AmendRequested(now, sender, cid, quantity, price)
        self._append(record)
        return self._apply_amend(record)

    def _apply_amend(self, record: AmendRequested) -> list[Output]:
        live = self._open.get(record.client_order_id)
        if live is None:
            return []
        live.amend_qty = record.quantity_lots
        live.amend_price = record.price_ticks
        self._sync(live)
        if self._replaying:
            return []
        iid = live.order.instrument_id
        command = VenueAmend(
            ts=record.ts,
            client_order_id=record.client_order_id,
            instrument_id=iid,
            quantity_lots=record.quantity_lots,
            price_ticks=record.price_ticks,
        )
        return [ToVenue(iid.venue, self._routes.get(iid.venue, ""), command)]

    def _mass_cancel(self, cmd: MassCancel, sender: Sender) -> list[Output]:
        now = self._clock()
        strategy, iid = cmd.strategy_id, cmd.instrument_id
        targets = [
            cid
            for cid, live in self._open.items()
            if (not strategy or live.order.strategy_id == strategy) and (iid is None or live.order.instrument_id == iid)
        ]
        if not targets:
            return []
        rejection = self.risk.check_cancel(strategy, now)
        if rejection is not None:
            return self._reject(sender, "", rejection[0], rejection[1], strategy, now, _CANCEL)
        return self._cancel_many(targets, sender, "mass_cancel", now)

    def _cancel_many(self, targets: list[str], sender: Sender, origin: str, now: int) -> list[Output]:
        if not targets:
            return []
        record = CancelRequested(now, sender, targets, origin)
        self._append(record)
        return self._apply_cancel(record)

    def on_client_disconnected(self, sender: Sender) -> list[Output]:
        """Cancel the open orders owned by ``sender`` (if ``cancel_on_disconnect``); return the cancels."""
        if not self.config.cancel_on_disconnect:
            return []
        targets = [cid for cid, live in self._open.items() if live.sender == sender]
        if targets:
            self._count("cancel_on_disconnect")
        return self._cancel_many(targets, sender, "disconnect", self._clock())

    # -- venue events --------------------------------------------------------------------------

    def on_venue_event(self, event: Any, venue: Venue | None = None) -> list[Output]:
        """Apply a venue event; a ``VenueSnapshot`` runs :meth:`reconcile` (``venue`` names its venue)."""
        kind = type(event)
        handler = self._venue_handlers.get(kind)
        if handler is None:
            if kind is VenueSnapshot:
                if venue is None and _snapshot_venue(event, self._routes) is None:
                    self._count("reconcile_without_venue")  # cannot tell which venue's orders to compare
                    return []
                return self.reconcile(event, venue).outputs
            if kind is not Heartbeat:
                self._count("unknown_venue_event")
            return []
        now = self._clock()
        journal = self.journal
        if kind is not VenueFill:
            if journal is not None:
                journal.append(VenueEventApplied(now, event))
            return handler(event, now)
        outputs = self._roll_day(now)
        if journal is not None:
            journal.append(VenueEventApplied(now, event))
        outputs += handler(event, now)
        if self._track_pnl:
            outputs += self._check_loss(now)
        return outputs

    def _venue_event(self, event: Any, now: int) -> list[Output]:
        """Journal and apply a venue event synthesised by the OMS (reconciliation)."""
        self._append(VenueEventApplied(now, event))
        return self._venue_handlers[type(event)](event, now)

    def _unknown(self, cid: str) -> list[Output]:
        self._count("venue_event_for_unknown_order")
        return []

    def _on_ack(self, event: VenueAck, ts: int) -> list[Output]:
        live = self._orders.get(event.client_order_id)
        if live is None:
            return self._unknown(event.client_order_id)
        o = live.order
        status = o.status
        if status is _NEW:
            o.status = _ACKED
            o.venue_order_id = event.venue_order_id
            o.ts_last = ts
            self._order_log.append(live)
            return [] if self._replaying else self._emit(live, self._report(live, ts), [])
        if o.venue_order_id is None:
            o.venue_order_id = event.venue_order_id
            self._order_log.append(live)
            self._count("late_ack")  # after a fill, cancel or expiry that overtook it
        else:
            self._count("duplicate_ack")
        if status is _REJECTED and not self._replaying:
            # The venue holds an order we consider dead: make sure it goes away.
            self._count("ack_of_rejected_order")
            iid = o.instrument_id
            gateway = self._routes.get(iid.venue)
            if gateway is not None:
                return [
                    ToVenue(
                        iid.venue, gateway, VenueCancel(ts=ts, client_order_id=o.client_order_id, instrument_id=iid)
                    )
                ]
        return []

    def _on_reject(self, event: VenueReject, ts: int) -> list[Output]:
        live = self._orders.get(event.client_order_id)
        if live is None:
            return self._unknown(event.client_order_id)
        o = live.order
        request = event.request
        if request is _SUBMIT:
            if o.status not in _OPEN:
                self._count("late_venue_reject")
                return []
            # A reject after fills can only mean the rest is gone.
            o.status = _REJECTED if o.filled_lots == 0 else _CANCELLED
            o.ts_last = ts
            self._sync(live)
            self._order_log.append(live)
            if self._replaying:
                return []
            self._count("venue_rejected." + event.reason.value)
        elif request is _CANCEL:
            live.cancel_pending = False
            if self._replaying:
                return []
            self._count("venue_rejected_cancel")
        else:
            live.amend_qty = live.amend_price = None
            self._sync(live)
            if self._replaying:
                return []
            self._count("venue_rejected_amend")
        rejected = OrderRejected(
            ts=ts,
            client_order_id=o.client_order_id,
            reason=event.reason,
            message=event.message or f"venue refused the {request.value}",
            strategy_id=o.strategy_id,
            request=request,
        )
        outputs: list[Output] = [ToClient(live.sender, rejected)]
        if request is _SUBMIT and self._publish:
            outputs.append(Publish(TOPIC_EXECUTION, self._report(live, ts, reason=event.reason.value)))
        return outputs

    def _on_fill(self, event: VenueFill, ts: int) -> list[Output]:
        fill = event.fill
        iid = fill.instrument_id
        key = (iid, fill.trade_id, fill.client_order_id)
        if key in self._fill_keys:
            self._count("duplicate_fill")
            return []
        info = self._infos.get(iid) or self._info(iid)
        self._fill_keys.add(key)
        if info is None:
            self._orphan_fills.append(fill)
            self._count("fill_for_unknown_instrument")
            return []
        self._fills.append(fill)
        account = fill.account_id or self.account_id
        position = self._positions.get((account, iid))
        if position is None:
            position = self._positions[(account, iid)] = Position(instrument_id=iid, account_id=account)
            self._positions_by_instrument.setdefault(iid, []).append(position)
        position.apply_fill(info.instrument, fill)
        self._position_log.append(position)
        if account == self.account_id:
            self._book_fill(info.instrument, fill)
        live = self._orders.get(fill.client_order_id)
        self.risk.fill(live.order.strategy_id if live else "", iid, fill.side, fill.size_lots, fill.price_ticks)
        if self._track_pnl or not self._replaying:
            self._update_pnl(position, info.instrument)
        outputs: list[Output] = []
        if live is None:
            self._count("fill_for_unknown_order")
        else:
            o = live.order
            filled = o.filled_lots + fill.size_lots
            if filled > o.quantity_lots:
                self._count("overfill")
                o.quantity_lots = filled
            o.filled_lots = filled
            if o.venue_order_id is None:
                o.venue_order_id = fill.venue_order_id
            if o.status in _OPEN:
                o.status = _FILLED if filled == o.quantity_lots else _PARTIAL
            else:
                self._count("late_fill")
                if filled == o.quantity_lots:
                    o.status = _FILLED
            o.ts_last = ts
            self._sync(live)
            self._order_log.append(live)
            if not self._replaying:
                self._emit(live, self._report(live, ts, last_fill=fill), outputs)
        if not self._replaying:
            outputs.append(Publish(TOPIC_POSITION, self._position_update(position, info.instrument, ts)))
        return outputs

    def _close(self, live: _Live, status: OrderStatus, ts: int, reason: str) -> list[Output]:
        o = live.order
        o.status = status
        o.ts_last = ts
        self._sync(live)
        self._order_log.append(live)
        return [] if self._replaying else self._emit(live, self._report(live, ts, reason=reason), [])

    def _on_cancelled(self, event: VenueCancelled, ts: int) -> list[Output]:
        live = self._orders.get(event.client_order_id)
        if live is None:
            return self._unknown(event.client_order_id)
        if live.order.status in _OPEN:
            return self._close(live, _CANCELLED, ts, event.reason)
        self._count("duplicate_cancelled" if live.order.status is _CANCELLED else "late_cancelled")
        return []

    def _on_expired(self, event: VenueExpired, ts: int) -> list[Output]:
        live = self._orders.get(event.client_order_id)
        if live is None:
            return self._unknown(event.client_order_id)
        if live.order.status in _OPEN:
            return self._close(live, _EXPIRED, ts, "expired")
        self._count("late_expired")
        return []

    def _on_amended(self, event: VenueAmended, ts: int) -> list[Output]:
        live = self._orders.get(event.client_order_id)
        if live is None:
            return self._unknown(event.client_order_id)
        o = live.order
        live.amend_qty = live.amend_price = None
        if o.status not in _OPEN:
            self._count("late_amended")
            return []
        quantity = event.quantity_lots
        if quantity < o.filled_lots:
            self._count("amended_below_filled")
            quantity = o.filled_lots
        o.quantity_lots = quantity
        if event.price_ticks is not None and o.order_type in _PRICED:
            o.price_ticks = event.price_ticks
        if o.filled_lots == quantity:
            o.status = _FILLED
        o.ts_last = ts
        self._sync(live)
        self._order_log.append(live)
        return [] if self._replaying else self._emit(live, self._report(live, ts, reason="amended"), [])

    # -- positions and PnL --------------------------------------------------------------------

    def _unrealised(self, position: Position, instrument: Instrument) -> Decimal:
        if position.net_lots == 0:
            return _ZERO
        mark = self.risk.mark_price(position.instrument_id)
        return _ZERO if mark is None else unrealised_pnl(position, instrument, mark)

    def _update_pnl(self, position: Position, instrument: Instrument) -> None:
        pnl = position.realised_pnl - position.fees + self._unrealised(position, instrument)
        self.risk.set_position_pnl((position.account_id, position.instrument_id), instrument, pnl)

    def _position_update(self, position: Position, instrument: Instrument, ts: int) -> PositionUpdate:
        return PositionUpdate(
            ts=ts,
            instrument_id=position.instrument_id,
            account_id=position.account_id,
            net_lots=position.net_lots,
            avg_entry=position.avg_entry,
            realised_pnl=position.realised_pnl,
            unrealised_pnl=self._unrealised(position, instrument),
            fees=position.fees,
        )

    def on_market_data(self, event: Any) -> list[Output]:
        """Update marks (quote mid, last trade, bar close) for PnL and reference prices for risk.

        Returns outputs only when the move breaches the daily loss limit (the kill switch trips).
        """
        iid = self.risk.on_market_data(event)
        if iid is None or not self._track_pnl:
            return []
        positions = self._positions_by_instrument.get(iid)
        if not positions:
            return []
        now = self._clock()
        outputs = self._roll_day(now)
        instrument = self._registry.get(iid)
        for position in positions:
            self._update_pnl(position, instrument)
        outputs += self._check_loss(now)
        return outputs

    def apply_funding(
        self, instrument_id: InstrumentId, rate: Decimal, mark_ticks: int, account_id: str | None = None
    ) -> list[Output]:
        """Book a funding payment on the position in ``instrument_id`` at funding ``rate`` and ``mark_ticks``.

        ``payment = -rate * signed notional at the mark``: with a positive rate
        longs pay and shorts receive. Linear notional is ``size * mark`` (quote
        currency); inverse notional is ``size * contract_size / mark`` (coin).
        The payment is added to the position's realised PnL and to the funding
        total; it is journaled. A flat or unknown position pays nothing.
        """
        if mark_ticks <= 0 or not rate.is_finite():
            raise InvalidValue(
                f"funding on {instrument_id}: expected a finite rate and a positive mark, got rate={rate} "
                f"mark={mark_ticks} ticks; check the venue's funding message"
            )
        account = account_id or self.account_id
        position = self._positions.get((account, instrument_id))
        if position is None or position.net_lots == 0:
            return []
        instrument = self._registry.get(instrument_id)
        mark = instrument.ticks_to_price(mark_ticks).as_decimal()
        size = instrument.lots_to_size(abs(position.net_lots)).as_decimal() * instrument.contract_size
        notional = size / mark if instrument.is_inverse else size * mark
        payment = -rate * notional if position.net_lots > 0 else rate * notional
        now = self._clock()
        outputs = self._roll_day(now)
        record = FundingApplied(now, account, instrument_id, rate, mark_ticks, payment)
        self._append(record)
        self._apply_funding(record)
        outputs.append(Publish(TOPIC_POSITION, self._position_update(position, instrument, now)))
        if self._track_pnl:
            outputs += self._check_loss(now)
        return outputs

    def _apply_funding(self, record: FundingApplied) -> None:
        key = (record.account_id, record.instrument_id)
        position = self._positions[key]
        position.realised_pnl += record.payment
        self._position_log.append(position)
        self._funding[key] = self._funding.get(key, _ZERO) + record.payment
        instrument = self._registry.get(record.instrument_id)
        self._update_pnl(position, instrument)
        if record.account_id == self.account_id:
            venue, currency = instrument.id.venue, instrument.settle
            for balances in (self._venue_balances(venue), self._funding_since.setdefault(venue, {})):
                balances[currency] = balances.get(currency, _ZERO) + record.payment

    # -- balances -------------------------------------------------------------------------------

    def _venue_balances(self, venue: Venue) -> dict[str, Decimal]:
        balances = self._balances.get(venue)
        if balances is None:
            balances = self._balances[venue] = {}
        return balances

    def _book_fill(self, instrument: Instrument, fill: Fill) -> None:
        """Move the expected balances by one of our fills, in the venue's execution order.

        Venues book realised PnL by average cost in the order they executed
        fills. A fill learned late (at reconciliation after a restart, after
        fills the venue executed later) would book another realised PnL than the
        venue did; so balances keep their own positions, and a fill executed
        before the latest one booked rebuilds the venue's figures in execution
        order (``ts_event``; arrival order among equal times).
        """
        venue = instrument.id.venue
        executed_to = self._executed_to.get(venue)
        if executed_to is not None and fill.ts_event < executed_to:
            self._rebuild_balances(venue)
            return
        self._executed_to[venue] = fill.ts_event
        shadow = self._shadows.get(instrument.id)
        if shadow is None:
            shadow = self._shadows[instrument.id] = Position(instrument_id=instrument.id, account_id=self.account_id)
        move_balances(self._venue_balances(venue), instrument, fill, shadow.apply_fill(instrument, fill))

    def _rebuild_balances(self, venue: Venue) -> None:
        """Recompute a venue's balances and positions from the baseline and every fill, in execution order."""
        base, fills_before = self._baselines.get(venue) or (self.config.starting_balances.get(venue.value, {}), 0)
        account, registry = self.account_id, self._registry
        ours = [
            (index, fill)
            for index, fill in enumerate(self._fills)
            if fill.instrument_id.venue is venue and (fill.account_id or account) == account
        ]
        ours.sort(key=lambda item: item[1].ts_event)  # stable: arrival order among equal times
        balances = dict(base)
        shadows: dict[InstrumentId, Position] = {}
        for index, fill in ours:
            iid = fill.instrument_id
            instrument = registry.get(iid)
            shadow = shadows.get(iid)
            if shadow is None:
                shadow = shadows[iid] = Position(instrument_id=iid, account_id=account)
            realised = shadow.apply_fill(instrument, fill)
            if index >= fills_before:
                move_balances(balances, instrument, fill, realised)
        for currency, amount in self._funding_since.get(venue, {}).items():
            balances[currency] = balances.get(currency, _ZERO) + amount
        self._balances[venue] = balances
        self._shadows = {iid: p for iid, p in self._shadows.items() if iid.venue is not venue} | shadows
        if ours:
            self._executed_to[venue] = max(self._executed_to.get(venue, 0), ours[-1][1].ts_event)
        self._count("balances_rebuilt_in_execution_order")

    def _apply_baseline(self, record: BalancesBaselined) -> None:
        venue = record.venue
        self._baselines[venue] = (dict(record.balances), record.fills_before)
        self._funding_since[venue] = {}
        self._baselined.add(venue)
        if record.fills_before == len(self._fills):
            self._balances[venue] = dict(record.balances)
        else:  # balances as they were before the fills since: move them by those fills
            self._rebuild_balances(venue)

    def expected_balances(self, venue: Venue) -> dict[str, Decimal]:
        """What the account should hold at ``venue`` (asset -> amount): the baseline moved by fills and funding.

        Empty until the first reconciliation with ``venue`` set the baseline
        (unless starting balances are configured for it).
        """
        if venue not in self._baselined and venue.value not in self.config.starting_balances:
            return {}
        return dict(self._balances.get(venue, {}))

    def _reconcile_balances(self, snapshot: VenueSnapshot, venue: Venue, report: ReconcileReport, now: int) -> None:
        """Baseline the venue's balances on first sight, then report every asset the OMS and the venue disagree on."""
        currencies: dict[str, Decimal] = {}
        positions: dict[InstrumentId, Decimal] = {}
        for asset, amount in snapshot.balances.items():
            instrument_id = _instrument_key(asset)
            if instrument_id is None:
                currencies[asset] = amount
            elif instrument_id.venue is venue:
                positions[instrument_id] = amount
        if venue not in self._baselined:
            starting = self.config.starting_balances.get(venue.value)
            if starting is not None:  # held before the first fill: every fill since moves it
                record = BalancesBaselined(now, venue, dict(starting), "config", 0)
            else:  # the venue's own figures include every fill the OMS has now
                record = BalancesBaselined(now, venue, currencies, "venue", len(self._fills))
            self._append(record)
            self._apply_baseline(record)
            self._count("balances_baselined")
        expected = self._balances[venue]
        report.expected_balances = dict(expected)
        diffs = report.differences
        tolerance = self.config.balance_tolerance
        for asset in sorted(expected.keys() | currencies.keys()):
            ours = expected.get(asset, _ZERO)
            theirs = currencies.get(asset, _ZERO)
            if abs(theirs - ours) > tolerance:
                diffs.append(
                    Difference(
                        "balance_mismatch",
                        "",
                        f"{asset}: ours {ours}, at the venue {theirs} (venue - ours = {theirs - ours}); fills "
                        "and funding do not explain it: check deposits, withdrawals, fees and fills from "
                        "before the journal",
                        asset=asset,
                        ours=ours,
                        at_venue=theirs,
                    )
                )
        if not positions:
            return  # this venue does not list positions among its balances
        held = {
            iid: position.net_lots
            for (account, iid), position in self._positions.items()
            if account == self.account_id and iid.venue is venue and position.net_lots
        }
        for iid in sorted(positions.keys() | held.keys(), key=str):
            net = held.get(iid, 0)
            ours = _ZERO
            if net and iid in self._registry:
                size = self._registry.get(iid).lots_to_size(abs(net)).as_decimal()
                ours = size if net > 0 else -size
            theirs = positions.get(iid, _ZERO)
            if theirs != ours:
                diffs.append(
                    Difference(
                        "position_mismatch",
                        "",
                        f"position in {iid}: ours {ours}, at the venue {theirs}: fills the OMS never saw, or "
                        "fills of another session of the venue",
                        asset=str(iid),
                        ours=ours,
                        at_venue=theirs,
                    )
                )

    # -- daily loss and the kill switch ---------------------------------------------------------

    def _roll_day(self, now: int) -> list[Output]:
        day = now // NS_PER_DAY
        if day == self.risk.day or self._replaying:
            return []
        record = DayStarted(now, day, self.risk.total_pnl)
        self._append(record)
        self.risk.start_day(day, record.baseline)
        return []

    def _check_loss(self, now: int) -> list[Output]:
        risk = self.risk
        if risk.killed or self._replaying or not risk.loss_breached():
            return []
        self._count("daily_loss_limit_tripped")
        return self._kill(
            now,
            f"daily loss limit: lost {-risk.day_pnl:.2f} {risk.limits.common_currency} today "
            f"(limit {risk.limits.daily_loss_limit})",
            "risk",
        )

    def _kill(self, now: int, reason: str, operator: str) -> list[Output]:
        record = RiskStateChanged(now, True, reason, operator)
        self._append(record)
        outputs = self._apply_risk_state(record)
        outputs += self._cancel_many(list(self._open), operator, "kill", now)
        return outputs

    def _apply_risk_state(self, record: RiskStateChanged) -> list[Output]:
        if record.killed:
            self.risk.trip(record.reason)
        else:
            self.risk.reset()
            if record.rebase is not None:
                self.risk.start_day(self.risk.day, record.rebase)
        if self._replaying:
            return []
        return [Publish(TOPIC_RISK, RiskStateUpdate(ts=record.ts, killed=record.killed, reason=record.reason))]

    def on_timer(self, now_ns: int) -> list[Output]:
        """Start a new day's PnL at UTC midnight and check the daily loss limit."""
        outputs = self._roll_day(now_ns)
        if self._track_pnl:
            outputs += self._check_loss(now_ns)
        return outputs

    # -- operator commands ---------------------------------------------------------------------

    def _control(self, cmd: ControlRequest, sender: Sender) -> list[Output]:
        now = self._clock()
        handler = self._controls.get(cmd.command.strip().lower())
        if handler is None:
            self._count("control_unknown")
            reply = ControlReply(
                ts=now,
                ok=False,
                message=f"unknown command {cmd.command!r}: expected one of {', '.join(self._controls)}",
            )
            return [ToClient(sender, reply)]
        self._count("control." + cmd.command.strip().lower())
        return handler(cmd, sender, now)

    def _control_status(self, cmd: ControlRequest, sender: Sender, now: int) -> list[Output]:
        self._refresh_pnl()
        payload = {
            "account_id": self.account_id,
            "risk": self.risk.status(),
            "open_orders": len(self._open),
            "orders": len(self._orders),
            "fills": len(self._fills),
            "positions": sum(1 for p in self._positions.values() if p.net_lots),
            "routes": {venue.value: gateway for venue, gateway in self._routes.items()},
            "pnl": self._pnl_totals(),
            "counters": dict(sorted(self.counters.items())),
        }
        return [ToClient(sender, ControlReply(ts=now, ok=True, message="status", payload=payload))]

    def _control_orders(self, cmd: ControlRequest, sender: Sender, now: int) -> list[Output]:
        every = cmd.args.get("all", "").lower() in _TRUE
        lives = self._orders.values() if every else self._open.values()
        payload = [_order_json(live) for live in lives]
        message = f"{len(payload)} {'orders' if every else 'open orders'}"
        return [ToClient(sender, ControlReply(ts=now, ok=True, message=message, payload=payload))]

    def _control_positions(self, cmd: ControlRequest, sender: Sender, now: int) -> list[Output]:
        payload = self.positions_json()
        return [ToClient(sender, ControlReply(ts=now, ok=True, message=f"{len(payload)} positions", payload=payload))]

    def _control_kill(self, cmd: ControlRequest, sender: Sender, now: int) -> list[Output]:
        if self.risk.killed:
            reply = ControlReply(ts=now, ok=True, message=f"already killed ({self.risk.kill_reason})")
            return [ToClient(sender, reply)]
        operator = cmd.operator or _sender_name(sender)
        reason = cmd.args.get("reason") or f"operator {operator}"
        outputs = self._kill(now, reason, operator)
        cancels = sum(1 for o in outputs if type(o) is ToVenue)
        reply = ControlReply(
            ts=now,
            ok=True,
            message=f"killed: {cancels} cancels sent, new orders refused",
            payload={"cancels_sent": cancels},
        )
        outputs.append(ToClient(sender, reply))
        return outputs

    def _control_reset(self, cmd: ControlRequest, sender: Sender, now: int) -> list[Output]:
        rebase = cmd.args.get("rebase", "").lower() in _TRUE
        if not self.risk.killed and not rebase:
            return [ToClient(sender, ControlReply(ts=now, ok=True, message="not killed: nothing to reset"))]
        self._refresh_pnl()
        record = RiskStateChanged(
            now, False, "reset", cmd.operator or _sender_name(sender), self.risk.total_pnl if rebase else None
        )
        self._append(record)
        outputs = self._apply_risk_state(record)
        message = "reset: orders accepted again" + ("; the day's PnL restarts at zero" if rebase else "")
        outputs.append(ToClient(sender, ControlReply(ts=now, ok=True, message=message)))
        return outputs

    def _control_flatten(self, cmd: ControlRequest, sender: Sender, now: int) -> list[Output]:
        """Cancel every open order, then send reduce-only IOC market orders that bring each position to zero."""
        outputs = self._cancel_many(list(self._open), sender, "flatten", now)
        sent: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        for position in list(self._positions.values()):
            net = position.net_lots
            if net == 0:
                continue
            iid = position.instrument_id
            gateway = self._routes.get(iid.venue)
            info = self._info(iid)
            if gateway is None or info is None:
                skipped.append({"instrument_id": str(iid), "net_lots": net, "why": "no route"})
                continue
            lots = abs(net) - abs(net) % info.lot_step
            if lots < info.min_lots:
                skipped.append({"instrument_id": str(iid), "net_lots": net, "why": "below the minimum order size"})
                continue
            self._flatten_seq += 1
            submit = SubmitOrder(
                ts=now,
                client_order_id=f"flatten-{now}-{self._flatten_seq}",
                instrument_id=iid,
                side=Side.SELL if net > 0 else Side.BUY,
                order_type=OrderType.MARKET,
                quantity_lots=lots,
                time_in_force=TimeInForce.IOC,
                reduce_only=not info.spot,
                strategy_id=self.config.flatten_strategy_id,
            )
            # Operator orders bypass risk: they only reduce, and must pass with the kill switch on.
            record = OrderAccepted(now, sender, submit)
            self._append(record)
            outputs += self._apply_accepted(record, None, gateway)
            sent.append(
                {
                    "client_order_id": submit.client_order_id,
                    "instrument_id": str(iid),
                    "side": submit.side.value,
                    "quantity_lots": lots,
                }
            )
        reply = ControlReply(
            ts=now,
            ok=not skipped,
            message=f"flatten: cancels sent, {len(sent)} closing orders, {len(skipped)} skipped",
            payload={"orders": sent, "skipped": skipped},
        )
        outputs.append(ToClient(sender, reply))
        return outputs

    # -- reconciliation -------------------------------------------------------------------------

    def reconcile(self, snapshot: VenueSnapshot, venue: Venue | None = None) -> ReconcileReport:
        """Compare the OMS with a venue's own record and repair the OMS; list every difference.

        - fills the OMS missed are applied (fills are facts);
        - an order open at the venue but new here is acked, one with another
          size or price is amended to the venue's values;
        - an order open here but not at the venue: if the venue had acked it (or
          it has fills) it is closed as cancelled; if it was never acked the
          venue never received it (lost between journal and send) and it is
          rejected or resubmitted by ``OmsConfig.lost_order_policy``;
        - an order open at the venue but closed here gets a cancel; one the OMS
          never had is reported (cancelled if ``cancel_unknown_venue_orders``);
        - orders accepted after ``snapshot.ts`` are left alone;
        - balances: the first reconciliation with a venue takes its balances as
          the baseline (or the configured ``starting_balances`` moved by the fills
          since); from then on fills and funding move the expected balances, and
          every currency whose venue balance differs by more than
          ``balance_tolerance`` is reported (``balance_mismatch``). A venue that lists
          positions among its balances (keys that are instrument ids, as the
          simulated venue does) has them compared with the OMS's
          (``position_mismatch``). Both are reported, never repaired.

        Every change is journaled like the venue event it stands for.
        """
        venue = venue or _snapshot_venue(snapshot, self._routes)
        if venue is None:
            raise OmsError("reconcile: the snapshot names no instrument; pass the venue it came from")
        now = self._clock()
        report = ReconcileReport(venue=venue, differences=[], balances=dict(snapshot.balances), outputs=[])
        diffs = report.differences
        outputs = report.outputs
        gateway = self._routes.get(venue)
        for fill in snapshot.fills:
            if fill.instrument_id.venue is not venue:
                continue
            if (fill.instrument_id, fill.trade_id, fill.client_order_id) in self._fill_keys:
                continue
            if self._info(fill.instrument_id) is None:
                diffs.append(
                    Difference(
                        "unknown_instrument",
                        fill.client_order_id,
                        f"fill {fill.trade_id} on unknown instrument {fill.instrument_id}",
                    )
                )
            else:
                diffs.append(
                    Difference(
                        "missed_fill",
                        fill.client_order_id,
                        f"fill {fill.trade_id}: {fill.side.value} {fill.size_lots} lots @ {fill.price_ticks} ticks",
                    )
                )
                report.fills_applied += 1
            outputs += self._venue_event(VenueFill(ts=now, fill=fill), now)
        at_venue = {}
        for state in snapshot.open_orders:
            if state.instrument_id.venue is not venue:
                continue
            cid = state.client_order_id
            at_venue[cid] = state
            live = self._orders.get(cid)
            if live is None:
                diffs.append(
                    Difference(
                        "unknown_venue_order",
                        cid,
                        f"{state.side.value} {state.quantity_lots} lots of {state.instrument_id} "
                        f"(venue id {state.venue_order_id}) is open at the venue, unknown here",
                    )
                )
                if self.config.cancel_unknown_venue_orders and gateway is not None:
                    outputs.append(
                        ToVenue(
                            venue, gateway, VenueCancel(ts=now, client_order_id=cid, instrument_id=state.instrument_id)
                        )
                    )
                    report.cancels_sent += 1
                continue
            o = live.order
            if o.status not in _OPEN:
                diffs.append(
                    Difference(
                        "open_at_venue_closed_locally", cid, f"{o.status.value} here, open at the venue: cancel sent"
                    )
                )
                if gateway is not None:
                    outputs.append(
                        ToVenue(venue, gateway, VenueCancel(ts=now, client_order_id=cid, instrument_id=o.instrument_id))
                    )
                    report.cancels_sent += 1
                continue
            if o.status is _NEW:
                diffs.append(Difference("missed_ack", cid, f"acknowledged by the venue as {state.venue_order_id}"))
                outputs += self._venue_event(
                    VenueAck(ts=now, client_order_id=cid, venue_order_id=state.venue_order_id), now
                )
                report.orders_acked += 1
            price_differs = state.price_ticks is not None and state.price_ticks != o.price_ticks
            if state.quantity_lots != o.quantity_lots or price_differs:
                diffs.append(
                    Difference(
                        "missed_amend",
                        cid,
                        f"venue has {state.quantity_lots} lots @ {state.price_ticks}, "
                        f"here {o.quantity_lots} lots @ {o.price_ticks}",
                    )
                )
                outputs += self._venue_event(
                    VenueAmended(
                        ts=now, client_order_id=cid, quantity_lots=state.quantity_lots, price_ticks=state.price_ticks
                    ),
                    now,
                )
                report.orders_amended += 1
            if state.filled_lots != o.filled_lots:
                diffs.append(
                    Difference(
                        "filled_mismatch",
                        cid,
                        f"venue says {state.filled_lots} lots filled, fills here add up to "
                        f"{o.filled_lots}: fetch the venue's fills from earlier and reconcile again",
                    )
                )
        for cid, live in list(self._open.items()):
            o = live.order
            if o.instrument_id.venue is not venue or cid in at_venue:
                continue
            if snapshot.ts and o.ts_init > snapshot.ts:
                diffs.append(Difference("too_new", cid, "accepted after the snapshot was taken: left alone"))
                continue
            if o.status is _NEW and o.filled_lots == 0:
                if self.config.lost_order_policy == "resubmit" and gateway is not None:
                    diffs.append(Difference("lost_order", cid, "never reached the venue: resubmitted"))
                    s = live.submit
                    outputs.append(
                        ToVenue(
                            venue,
                            gateway,
                            VenueSubmit(
                                ts=now,
                                client_order_id=cid,
                                instrument_id=o.instrument_id,
                                side=o.side,
                                order_type=o.order_type,
                                quantity_lots=o.quantity_lots,
                                price_ticks=o.price_ticks,
                                trigger_ticks=s.trigger_ticks,
                                time_in_force=o.time_in_force,
                                account_id=self.account_id,
                            ),
                        )
                    )
                    report.orders_resubmitted += 1
                else:
                    diffs.append(Difference("lost_order", cid, "never reached the venue: rejected"))
                    lost = VenueReject(
                        ts=now,
                        client_order_id=cid,
                        reason=RejectReason.VENUE_REJECT,
                        message="reconcile: the venue has no record of this order (lost before "
                        "it was sent); submit it again under a new id",
                    )
                    outputs += self._venue_event(lost, now)
                    report.orders_rejected += 1
            else:
                diffs.append(
                    Difference(
                        "closed_at_venue",
                        cid,
                        f"{o.status.value} here with {o.filled_lots}/{o.quantity_lots} lots filled, "
                        "not open at the venue: closed as cancelled",
                    )
                )
                outputs += self._venue_event(
                    VenueCancelled(ts=now, client_order_id=cid, reason="reconcile: not open at the venue"), now
                )
                report.orders_closed += 1
        self._reconcile_balances(snapshot, venue, report, now)
        if self._track_pnl:
            outputs += self._check_loss(now)
        self._count("reconciled_clean" if not diffs else "reconciled_with_differences")
        return report

    # -- views ----------------------------------------------------------------------------------

    def order(self, client_order_id: str) -> Order | None:
        """The order (live object: do not modify), or None."""
        live = self._orders.get(client_order_id)
        return None if live is None else live.order

    def open_orders(self) -> list[Order]:
        """Open orders in acceptance order (live objects: do not modify)."""
        return [live.order for live in self._open.values()]

    def position(self, instrument_id: InstrumentId, account_id: str | None = None) -> Position | None:
        """The position (live object: do not modify), or None."""
        return self._positions.get((account_id or self.account_id, instrument_id))

    def fills(self) -> list[Fill]:
        """Every applied fill, in the order applied."""
        return list(self._fills)

    def funding_total(self, instrument_id: InstrumentId, account_id: str | None = None) -> Decimal:
        """Total funding booked on a position (already included in its realised PnL)."""
        return self._funding.get((account_id or self.account_id, instrument_id), _ZERO)

    def unrealised(self, instrument_id: InstrumentId, account_id: str | None = None) -> Decimal:
        """Unrealised PnL of a position at the current mark (0 without a mark), settlement currency."""
        position = self.position(instrument_id, account_id)
        if position is None:
            return _ZERO
        return self._unrealised(position, self._registry.get(instrument_id))

    def _refresh_pnl(self) -> None:
        for position in self._positions.values():
            self._update_pnl(position, self._registry.get(position.instrument_id))

    def _pnl_totals(self) -> dict[str, str]:
        return {
            "total": str(self.risk.total_pnl),
            "day": str(self.risk.day_pnl),
            "currency": self.risk.limits.common_currency,
        }

    def positions_json(self) -> list[dict[str, Any]]:
        """Positions with realised, unrealised, fees and funding as decimal strings (JSON-able)."""
        rows = []
        for (account, iid), position in sorted(self._positions.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            instrument = self._registry.get(iid)
            rows.append(
                {
                    "account_id": account,
                    "instrument_id": str(iid),
                    "net_lots": position.net_lots,
                    "net_quantity": str(
                        instrument.lots_to_size(abs(position.net_lots))
                        if position.net_lots >= 0
                        else "-" + str(instrument.lots_to_size(-position.net_lots))
                    ),
                    "avg_entry": str(position.avg_entry),
                    "realised_pnl": str(position.realised_pnl),
                    "unrealised_pnl": str(self._unrealised(position, instrument)),
                    "fees": str(position.fees),
                    "funding": str(self._funding.get((account, iid), _ZERO)),
                    "currency": instrument.settle,
                }
            )
        return rows

    def snapshot(self) -> OmsSnapshot:
        """Copies of every order, fill and position, with the kill-switch latch: equal snapshots, equal state."""
        pending = {
            cid: PendingState(live.cancel_pending, live.amend_qty, live.amend_price)
            for cid, live in sorted(self._open.items())
            if live.cancel_pending or live.amend_qty is not None
        }
        positions = sorted(self._positions.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
        return OmsSnapshot(
            account_id=self.account_id,
            orders=[msgspec.structs.replace(self._orders[cid].order) for cid in sorted(self._orders)],
            fills=list(self._fills),
            positions=[msgspec.structs.replace(p) for _, p in positions],
            funding={f"{a}|{i}": v for (a, i), v in sorted(self._funding.items(), key=lambda kv: str(kv[0]))},
            pending=pending,
            killed=self.risk.killed,
            kill_reason=self.risk.kill_reason,
            risk=self.risk.state(),
            balances={
                venue.value: dict(sorted(amounts.items()))
                for venue, amounts in sorted(self._balances.items())
                if amounts
            },
            balances_baselined=sorted(venue.value for venue in self._baselined),
        )

    def changes_since(self, cursor: ChangeCursor | None = None) -> OmsChanges:
        """Orders and positions changed and fills applied since ``cursor`` (None: everything), as copies.

        Costs O(changes), not O(state): the runtime's SQL snapshot reads only
        what moved. Cursors belong to this engine (a recovered engine starts
        again from None); one older than the change log gets everything again.
        """
        orders_log, positions_log = self._order_log, self._position_log
        order_start, position_start = self._order_log_start, self._position_log_start
        full = cursor is None or cursor.orders < order_start or cursor.positions < position_start
        copy = msgspec.structs.replace
        if full:
            orders = [copy(live.order) for live in self._orders.values()]
            positions = [copy(position) for position in self._positions.values()]
        else:
            assert cursor is not None
            changed = {id(live): live for live in orders_log[cursor.orders - order_start :]}
            orders = [copy(live.order) for live in changed.values()]
            moved = {id(p): p for p in positions_log[cursor.positions - position_start :]}
            positions = [copy(position) for position in moved.values()]
        fills = self._fills[cursor.fills :] if cursor is not None else list(self._fills)
        return OmsChanges(
            cursor=ChangeCursor(order_start + len(orders_log), len(self._fills), position_start + len(positions_log)),
            full=full,
            orders=orders,
            fills=fills,
            positions=positions,
        )

    def _reset_changes(self) -> None:
        """Forget the change logs (after recovery, or when too long): readers behind get everything again."""
        self._order_log_start += len(self._order_log)
        self._order_log.clear()
        self._position_log_start += len(self._position_log)
        self._position_log.clear()

    @property
    def open_order_count(self) -> int:
        """How many orders are open (O(1))."""
        return len(self._open)

    def state_digest(self) -> str:
        """A SHA-256 over the canonical msgpack encoding of :meth:`snapshot`."""
        return hashlib.sha256(msgspec.msgpack.encode(self.snapshot())).hexdigest()


def _order_json(live: _Live) -> dict[str, Any]:
    o = live.order
    data = msgspec.to_builtins(o)
    data["instrument_id"] = str(o.instrument_id)
    data["cancel_pending"] = live.cancel_pending
    data["amend_pending"] = live.amend_qty is not None
    return data


def _sender_name(sender: Sender) -> str:
    return sender.decode(errors="replace") if isinstance(sender, bytes) else str(sender)


def _instrument_key(asset: str) -> InstrumentId | None:
    """The instrument a balance key names (``"BTCUSDT.sim"``: a position), or None for a currency."""
    if "." not in asset:
        return None
    try:
        return InstrumentId.parse(asset)
    except InvalidValue:
        return None


def _snapshot_venue(snapshot: VenueSnapshot, routes: Mapping[Venue, str]) -> Venue | None:
    venues = {s.instrument_id.venue for s in snapshot.open_orders} | {f.instrument_id.venue for f in snapshot.fills}
    if len(venues) == 1:
        return venues.pop()
    if not venues and len(routes) == 1:
        return next(iter(routes))
    return None
