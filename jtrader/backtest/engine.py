"""The backtest node: replays market events through a simulated venue to an unchanged strategy.

:class:`BacktestEngine` drives any :class:`~jtrader.strategies.base.Strategy`
through :class:`BacktestContext`, which implements the same
:class:`~jtrader.strategies.base.StrategyContext` as the live host: the same
client order ids, the same :class:`~jtrader.bus.messages.ExecutionReport` /
:class:`~jtrader.bus.messages.OrderRejected` reports in the same handler
order (``on_fill`` then ``on_order_update``), and a clock that is the
simulated time.

Time. Each market event happens at its venue time ``t`` (its ``ts_event``,
or its ``ts_recv`` with ``time_key="ts_recv"``, the clock paper trading
replays by): the instrument's matcher sees it then; the strategy sees it at
``t + market-data latency``. An order request made at strategy time ``s``
reaches the matcher at ``s + order latency``, and each venue report reaches
the strategy one order-latency draw after the venue made it. Scheduled
actions due *before* the next market event run first; at equal times the
market event goes first (a conservative tie-break: the market moves before
our order lands). Reports due at the event's own time are delivered before
the strategy sees the event (a fill, then the bar that filled it).

Zero delays. What happens at one instant happens in rounds, as in paper
trading run in lockstep (:mod:`jtrader.live.lockstep`): the venue's reports
of a round reach the strategy before its market data of that round, and the
requests the strategy makes on them reach the venue only after it has seen
all of that round (the next round). Everything a market event causes with
zero delay is done before the next market event, even one at the same time.

Full-book matching (``matching="book"``) is the simulated venue itself
(:class:`~jtrader.backtest.matching.BookMatcher`): the strategy sees the
venue's public data (its book, with our orders in it, quotes and trades)
rather than the recording, as it does on paper.

Guarantees: the same events, strategy, config and seed give the same reports,
fills and metrics, bit for bit. A strategy exception is not caught: a
backtest with a broken strategy should fail loudly. So is a strategy that
never comes to rest with zero delays (it answers its own orders with new
orders at the same instant): past ``MAX_ACTIONS_PER_INSTANT`` actions at one
time the run raises RuntimeError instead of spinning.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jtrader.backtest.latency import ConstantLatency, LatencyModel
from jtrader.backtest.matching import BaseMatcher, Report, SimOrder, make_matcher
from jtrader.bus.messages import ExecutionReport, OrderRejected, RejectReason, RequestKind
from jtrader.domain import (
    Bar,
    BookDelta,
    BookSnapshot,
    Fill,
    Instrument,
    InstrumentId,
    InstrumentKind,
    InstrumentRegistry,
    MarketEvent,
    OrderType,
    Position,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from jtrader.marketdata.book import OrderBook
from jtrader.strategies.base import OpenOrder, Strategy, StrategyState

__all__ = ["BacktestConfig", "BacktestContext", "BacktestEngine", "BacktestResult", "run_backtest"]

_SECOND = 1_000_000_000
_HOUR = 3600 * _SECOND

# heap entry kinds, and their order among entries of one round at one instant
_VENUE_SUBMIT, _VENUE_CANCEL, _VENUE_AMEND, _REPORT, _MD, _TIMER = range(6)
_CLASS = {_VENUE_SUBMIT: 0, _VENUE_CANCEL: 0, _VENUE_AMEND: 0, _REPORT: 1, _MD: 2, _TIMER: 3}
_TIME_KEYS = ("ts_event", "ts_recv")
MAX_ACTIONS_PER_INSTANT = 1_000_000


@dataclass
class BacktestConfig:
    """How a run matches, delays and accounts. Plain values, so a run is reproducible from its config.

    ``matching``: ``bar`` (bars/touch), ``queue`` (L2 queue position, with
    ``queue_model`` ``risk_averse``/``proportional``/``power<n>``) or ``book``
    (full book through the venue's matching engine). ``touch``: bar mode fills
    limits touched, not only traded through. Latency models default to zero.
    ``funding_rates``: per-8h funding rate of perpetuals by instrument (longs pay
    a positive rate), charged at 00:00, 08:00 and 16:00 UTC on the position's
    notional at the mark. ``sample_interval_ns``: the equity curve's step.
    ``capital``: the base for returns (Sharpe and friends use PnL increments
    when it is 0). ``time_key``: which timestamp of an event is its venue time
    (``ts_recv`` replays by the recorder's clock, as paper trading does; load
    the events with the same key). ``book_depth`` and ``check_minimums``: the
    simulated venue's settings in ``book`` matching (levels it publishes per
    side; refuse orders below the instrument's minimum quantity or notional).
    """

    matching: str = "bar"
    queue_model: str = "risk_averse"
    touch: bool = False
    replay_trades: bool = True
    md_latency: LatencyModel = field(default_factory=ConstantLatency)
    order_latency: LatencyModel = field(default_factory=ConstantLatency)
    seed: int = 0
    sample_interval_ns: int = _SECOND
    funding_rates: dict[InstrumentId, float] = field(default_factory=dict)
    funding_interval_ns: int = 8 * _HOUR
    markout_horizons_ns: tuple[int, ...] = (_SECOND, 10 * _SECOND, 60 * _SECOND)
    capital: float = 0.0
    time_key: str = "ts_event"
    book_depth: int = 20
    check_minimums: bool = True

    def __post_init__(self) -> None:
        if self.time_key not in _TIME_KEYS:
            raise ValueError(f"time_key: expected 'ts_event' or 'ts_recv', got {self.time_key!r}")

    def params(self) -> dict[str, Any]:
        """The config as flat, JSON-friendly parameters (for the SQL store and MLflow)."""
        return {
            "matching": self.matching,
            "queue_model": self.queue_model,
            "touch": self.touch,
            "md_latency": repr(self.md_latency)[:200],
            "order_latency": repr(self.order_latency)[:200],
            "seed": self.seed,
            "sample_interval_ns": self.sample_interval_ns,
            "capital": self.capital,
            "time_key": self.time_key,
            "book_depth": self.book_depth,
            "check_minimums": self.check_minimums,
        }


@dataclass
class BacktestResult:
    """Everything a run produced: fills, reports, curves and the metrics computed from them."""

    strategy_id: str
    config: BacktestConfig
    instruments: dict[InstrumentId, Instrument]
    fills: list[Fill]
    fill_realised: list[float]  # realised PnL of each fill (settlement currency, before fees)
    positions: dict[InstrumentId, Position]
    funding: dict[InstrumentId, float]
    equity_ts: list[int]
    equity: list[float]
    inventory: dict[InstrumentId, list[int]]  # net lots at each equity sample
    marks: dict[InstrumentId, tuple[list[int], list[float]]]  # (ts, mark price) whenever the mark changed
    orders_submitted: int
    orders_filled: int
    reports: int
    events: int
    wall_seconds: float
    logs: list[tuple[int, str]]
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def final_pnl(self) -> float:
        return self.equity[-1] if self.equity else 0.0


class BacktestContext:
    """The backtest :class:`~jtrader.strategies.base.StrategyContext`: simulated clock, simulated venue."""

    def __init__(self, engine: BacktestEngine, strategy: Strategy) -> None:
        self.strategy_id = strategy.strategy_id
        self._engine = engine
        self._strategy = strategy
        self.state = StrategyState(strategy.strategy_id)
        self.timer_ns = 0

    def now(self) -> int:
        return self._engine.now

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        return self._engine.registry.get(instrument_id)

    def submit(
        self,
        instrument_id: InstrumentId,
        side: Side,
        quantity_lots: int,
        price_ticks: int | None = None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        trigger_ticks: int | None = None,
        reduce_only: bool = False,
    ) -> str:
        client_order_id = self.state.new_client_order_id()
        self.state.on_submitted(OpenOrder(client_order_id, instrument_id, side, quantity_lots, price_ticks))
        order = SimOrder(
            client_order_id,
            self.strategy_id,
            side,
            order_type,
            time_in_force,
            quantity_lots,
            price_ticks,
            trigger_ticks,
            ts_arrived=0,
        )
        self._engine._request(_VENUE_SUBMIT, (instrument_id, order))
        return client_order_id

    def cancel(self, client_order_id: str) -> None:
        order = self.state.orders.get(client_order_id)
        if order is None or order.pending_cancel:
            return
        order.pending_cancel = True
        self._engine._request(_VENUE_CANCEL, (order.instrument_id, client_order_id, self.strategy_id))

    def amend(self, client_order_id: str, quantity_lots: int | None = None, price_ticks: int | None = None) -> None:
        order = self.state.orders.get(client_order_id)
        if order is None:
            self._engine._deliver_later(
                OrderRejected(
                    client_order_id=client_order_id,
                    reason=RejectReason.UNKNOWN_ORDER,
                    message="amend: no such open order",
                    strategy_id=self.strategy_id,
                    request=RequestKind.AMEND,
                    ts=self._engine.now,
                ),
                self._engine._round + 1,
            )
            return
        self._engine._request(
            _VENUE_AMEND, (order.instrument_id, client_order_id, self.strategy_id, quantity_lots, price_ticks)
        )

    def cancel_all(self, instrument_id: InstrumentId | None = None) -> None:
        for order in self.state.open_orders(instrument_id):
            self.cancel(order.client_order_id)

    def position(self, instrument_id: InstrumentId) -> int:
        return self.state.position(instrument_id)

    def open_orders(self, instrument_id: InstrumentId | None = None) -> list[OpenOrder]:
        return self.state.open_orders(instrument_id)

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self._engine.view_books.get(instrument_id)

    def set_timer(self, interval_ns: int) -> None:
        if interval_ns <= 0:
            raise ValueError(f"set_timer: interval must be positive, got {interval_ns} ns")
        self.timer_ns = interval_ns
        self._engine._schedule(self._engine.now + interval_ns, _TIMER, interval_ns, 0)

    def model(self, name: str) -> Any:
        try:
            return self._engine.models[name]
        except KeyError:
            raise KeyError(f"model {name!r} was not given to the backtest; pass models={{{name!r}: ...}}") from None

    def log(self, message: str) -> None:
        self._engine.logs.append((self._engine.now, message))


class BacktestEngine:
    """Replay events to one strategy through per-instrument matchers; :meth:`run` returns a :class:`BacktestResult`.

    Example::

        >>> from jtrader.strategies.base import Strategy
        >>> engine = BacktestEngine(Strategy("idle", []), [], BacktestConfig())
        >>> engine.run([]).fills
        []
    """

    def __init__(
        self,
        strategy: Strategy,
        instruments: Iterable[Instrument],
        config: BacktestConfig | None = None,
        models: dict[str, Any] | None = None,
        matcher_factory: Callable[[Instrument], BaseMatcher] | None = None,
    ) -> None:
        self.strategy = strategy
        self.config = config or BacktestConfig()
        self.registry = InstrumentRegistry(instruments)
        self.models = dict(models or {})
        cfg = self.config
        factory = matcher_factory or self._make_matcher
        self.now = 0
        self.matchers: dict[InstrumentId, BaseMatcher] = {i.id: factory(i) for i in self.registry}
        self._publishing = any(m.publishes for m in self.matchers.values())
        self.view_books: dict[InstrumentId, OrderBook] = {}
        self.logs: list[tuple[int, str]] = []
        # (time, round, class, sequence, kind, payload): see "Zero delays" in the module docstring
        self._heap: list[tuple[int, int, int, int, int, Any]] = []
        self._seq = 0
        self._round = 0  # the round of what is being handled: 0 for a market event and its venue output
        self._at_instant = 0  # scheduled actions handled at the current time: bounds a zero-delay loop
        cfg.md_latency.reset(cfg.seed)
        cfg.order_latency.reset(cfg.seed + 1)
        self._md_zero = isinstance(cfg.md_latency, ConstantLatency) and cfg.md_latency.ns == 0
        self.ctx = BacktestContext(self, strategy)
        # accounting, at venue time
        self._positions = {i.id: Position(instrument_id=i.id) for i in self.registry}
        self._fills: list[Fill] = []
        self._fill_realised: list[float] = []
        self._funding = {i.id: 0.0 for i in self.registry}
        self._marks: dict[InstrumentId, float] = {}
        self._mark_series: dict[InstrumentId, tuple[list[int], list[float]]] = {i.id: ([], []) for i in self.registry}
        self._venue_books: dict[InstrumentId, OrderBook] = {}
        self._matcher_keeps_book: dict[InstrumentId, bool] = {}
        self._equity_ts: list[int] = []
        self._equity: list[float] = []
        self._inventory: dict[InstrumentId, list[int]] = {i.id: [] for i in self.registry}
        self._submitted = 0
        self._filled_orders: set[str] = set()
        self._reports = 0
        self._realised_f = {i.id: 0.0 for i in self.registry}
        self._fees_f = {i.id: 0.0 for i in self.registry}

    # -- scheduling ------------------------------------------------------------------------------

    def _clock(self) -> int:
        return self.now

    def _make_matcher(self, instrument: Instrument) -> BaseMatcher:
        cfg = self.config
        return make_matcher(
            cfg.matching,
            instrument,
            cfg.queue_model,
            cfg.touch,
            cfg.replay_trades,
            clock=self._clock,
            book_depth=cfg.book_depth,
            check_minimums=cfg.check_minimums,
        )

    def _schedule(self, ts: int, kind: int, payload: Any, round_: int | None = None) -> None:
        self._seq += 1
        round_ = self._round if round_ is None else round_
        heapq.heappush(self._heap, (ts, round_, _CLASS[kind], self._seq, kind, payload))

    def _request(self, kind: int, payload: Any) -> None:
        if kind == _VENUE_SUBMIT:
            self._submitted += 1
        # A request made while handling round r is handled by the venue in round r + 1.
        self._schedule(self.now + self.config.order_latency.sample(), kind, payload, self._round + 1)

    def _deliver_later(self, report: Report, round_: int | None = None) -> None:
        self._schedule(self.now + self.config.order_latency.sample(), _REPORT, report, round_)

    def _run_due(self, before: int | None, timers: bool = True, inclusive: bool = False) -> None:
        heap = self._heap
        while heap and (before is None or heap[0][0] < before or (inclusive and heap[0][0] == before)):
            ts, self._round, _, _, kind, payload = heapq.heappop(heap)
            if kind == _TIMER and not timers:
                continue  # after the data: a timer that does not fire does not move the clock either
            if ts > self.now:
                self.now = ts
                self._at_instant = 0
            else:
                self._at_instant += 1
                if self._at_instant > MAX_ACTIONS_PER_INSTANT:
                    raise RuntimeError(
                        f"backtest: {MAX_ACTIONS_PER_INSTANT:,} actions at one instant ({ts} ns) in round "
                        f"{self._round}: the strategy never comes to rest with zero latency (it answers its own "
                        "orders' reports or market data with new orders); throttle it or configure a latency"
                    )
            if kind == _REPORT:
                self._to_strategy(payload)
            elif kind == _MD:
                self._md_to_strategy(payload)
            elif kind == _TIMER:
                self.strategy.on_timer(self.ctx, ts)
                self._schedule(ts + payload, _TIMER, payload, 0)
            else:
                self._at_venue(kind, payload, ts)

    # -- venue side ------------------------------------------------------------------------------

    def _at_venue(self, kind: int, payload: Any, ts: int) -> None:
        instrument_id = payload[0]
        matcher = self.matchers.get(instrument_id)
        if matcher is None:
            cid = payload[1].client_order_id if kind == _VENUE_SUBMIT else payload[1]
            self._deliver_later(
                OrderRejected(
                    client_order_id=cid,
                    reason=RejectReason.UNKNOWN_INSTRUMENT,
                    message=f"unknown instrument {instrument_id}: add it to the backtest's instruments",
                    strategy_id=self.strategy.strategy_id,
                    ts=ts,
                )
            )
            return
        if kind == _VENUE_SUBMIT:
            order: SimOrder = payload[1]
            order.ts_arrived = ts
            reports = matcher.submit(order, ts)
        elif kind == _VENUE_CANCEL:
            reports = matcher.cancel(payload[1], payload[2], ts)
        else:
            reports = matcher.amend(payload[1], payload[2], payload[3], payload[4], ts)
        self._from_venue(reports, ts)
        if matcher.publishes:
            self._publish(matcher, ts)

    def _publish(self, matcher: BaseMatcher, ts: int) -> None:
        """Schedule the venue's public data for the strategy (one market-data delay for one venue step)."""
        public = matcher.take_public()
        if public:
            at = ts + self.config.md_latency.sample()
            for msg in public:
                self._schedule(at, _MD, msg)

    def _from_venue(self, reports: list[Report], ts: int) -> None:
        for report in reports:
            if type(report) is ExecutionReport and report.last_fill is not None:
                self._account(report.last_fill)
            self._deliver_later(report)

    def _account(self, fill: Fill) -> None:
        iid = fill.instrument_id
        instrument = self.registry.get(iid)
        realised = float(self._positions[iid].apply_fill(instrument, fill))
        self._fills.append(fill)
        self._fill_realised.append(realised)
        self._filled_orders.add(fill.client_order_id)
        self._realised_f[iid] += realised
        self._fees_f[iid] += float(fill.fee)
        if iid not in self._marks:
            self._set_mark(iid, instrument.ticks_to_float(fill.price_ticks), fill.ts_event)

    # -- strategy side ---------------------------------------------------------------------------

    def _to_strategy(self, report: Report) -> None:
        self._reports += 1
        ctx, strategy = self.ctx, self.strategy
        if type(report) is ExecutionReport:
            ctx.state.on_report(report, lambda fill: strategy.on_fill(ctx, fill))
            strategy.on_order_update(ctx, report)
        else:
            ctx.state.on_rejected(report)  # type: ignore[arg-type]
            strategy.on_reject(ctx, report)  # type: ignore[arg-type]

    def _md_to_strategy(self, event: MarketEvent) -> None:
        strategy, ctx = self.strategy, self.ctx
        kind = type(event)
        if (kind is BookDelta or kind is BookSnapshot) and self._md_zero and not self._publishing:
            # Seen with no delay, the strategy's book is the venue's book at this moment: share it.
            self.view_books[event.instrument_id] = self._venue_books[event.instrument_id]
        elif kind is BookDelta or kind is BookSnapshot:
            book = self.view_books.get(event.instrument_id)
            if book is None:
                book = self.view_books[event.instrument_id] = OrderBook()
            if kind is BookSnapshot:
                book.apply_snapshot(event.bids, event.asks, event.last_update_id)  # type: ignore[union-attr]
            else:
                book.apply_levels(event.bids, event.asks)  # type: ignore[union-attr]
        if event.instrument_id not in strategy.instruments:
            return
        if kind is Bar:
            strategy.on_bar(ctx, event)  # type: ignore[arg-type]
        elif kind is Trade:
            strategy.on_trade(ctx, event)  # type: ignore[arg-type]
        elif kind is Quote:
            strategy.on_quote(ctx, event)  # type: ignore[arg-type]
        else:
            strategy.on_book(ctx, event.instrument_id, self.view_books[event.instrument_id])

    # -- marks, funding, equity ------------------------------------------------------------------

    def _set_mark(self, iid: InstrumentId, price: float, ts: int) -> None:
        if self._marks.get(iid) != price:
            self._marks[iid] = price
            series = self._mark_series[iid]
            series[0].append(ts)
            series[1].append(price)

    def _update_mark(self, event: MarketEvent, ts: int) -> None:
        iid = event.instrument_id
        instrument = self.registry.get(iid)
        kind = type(event)
        if kind is Bar:
            self._set_mark(iid, instrument.ticks_to_float(event.close_ticks), ts)  # type: ignore[union-attr]
        elif kind is Quote:
            self._set_mark(iid, instrument.ticks_to_float(event.bid_ticks + event.ask_ticks) / 2, ts)  # type: ignore[union-attr]
        elif kind is BookDelta or kind is BookSnapshot:
            book = self._venue_books.get(iid)
            if book is None:
                shared = getattr(self.matchers.get(iid), "book", None)
                book = self._venue_books[iid] = shared if isinstance(shared, OrderBook) else OrderBook()
                self._matcher_keeps_book[iid] = shared is book
            if not self._matcher_keeps_book[iid]:  # else the matcher already applied the event to it
                if kind is BookSnapshot:
                    book.apply_snapshot(event.bids, event.asks)  # type: ignore[union-attr]
                else:
                    book.apply_levels(event.bids, event.asks)  # type: ignore[union-attr]
            bid, ask = book.best_bid(), book.best_ask()
            if bid is not None and ask is not None:
                self._set_mark(iid, instrument.ticks_to_float(bid[0] + ask[0]) / 2, ts)
        elif kind is Trade and iid not in self._venue_books:
            self._set_mark(iid, instrument.ticks_to_float(event.price_ticks), ts)  # type: ignore[union-attr]

    def _pnl(self, iid: InstrumentId) -> float:
        """Net PnL of one instrument in its quote currency: realised + unrealised - fees - funding."""
        instrument = self.registry.get(iid)
        position = self._positions[iid]
        mark = self._marks.get(iid)
        pnl = self._realised_f[iid] - self._fees_f[iid] - self._funding[iid]
        if position.net_lots and mark:
            size = instrument.lots_to_float(position.net_lots) * float(instrument.contract_size)
            entry = float(position.avg_entry)
            pnl += size * (1 / entry - 1 / mark) if instrument.is_inverse else size * (mark - entry)
        if instrument.is_inverse and mark:
            pnl *= mark  # settled in base: shown in quote at the mark
        return pnl

    def _sample(self, ts: int) -> None:
        self._equity_ts.append(ts)
        self._equity.append(sum(self._pnl(iid) for iid in self._positions))
        for iid, series in self._inventory.items():
            series.append(self._positions[iid].net_lots)

    def _charge_funding(self, ts: int) -> None:
        for iid, rate in self.config.funding_rates.items():
            position = self._positions.get(iid)
            mark = self._marks.get(iid)
            if position is None or not position.net_lots or not mark:
                continue
            instrument = self.registry.get(iid)
            if instrument.kind is InstrumentKind.SPOT:
                continue
            size = instrument.lots_to_float(position.net_lots) * float(instrument.contract_size)
            notional = size / mark if instrument.is_inverse else size * mark
            self._funding[iid] += rate * notional

    # -- the run ---------------------------------------------------------------------------------

    def run(self, events: Iterable[MarketEvent]) -> BacktestResult:
        """Replay ``events`` (in replay order) to the strategy; stop it at the end; return the result."""
        started = time.perf_counter()
        cfg = self.config
        strategy, ctx = self.strategy, self.ctx
        interval = cfg.sample_interval_ns
        funding_every = cfg.funding_interval_ns if cfg.funding_rates else 0
        matchers = self.matchers
        md_zero = self._md_zero
        recv_time = cfg.time_key == "ts_recv"
        md_latency = cfg.md_latency
        heap = self._heap
        n = 0
        next_sample = None
        next_funding = None
        stream = iter(events)
        first = next(stream, None)
        if first is not None:  # the strategy starts when the replay does (a timer set then counts from there)
            self.now = first.ts_recv if recv_time else first.ts_event
        strategy.on_start(ctx)
        for event in itertools.chain((first,), stream) if first is not None else ():
            ts = event.ts_recv if recv_time else event.ts_event
            if heap and heap[0][0] < ts:
                self._run_due(ts)
            if ts > self.now:
                self.now = ts
                self._at_instant = 0
            if next_sample is None:
                next_sample = ts - ts % interval + interval
                next_funding = ts - ts % funding_every + funding_every if funding_every else None
            elif ts >= next_sample:
                self._sample(next_sample)  # the state as it stood at the grid point
                next_sample = ts - ts % interval + interval
            if next_funding is not None and ts >= next_funding:
                self._charge_funding(next_funding)
                next_funding = ts - ts % funding_every + funding_every
            n += 1
            self._round = 0
            matcher = matchers.get(event.instrument_id)
            if matcher is not None:
                reports = matcher.on_market(event)
                if reports:
                    self._from_venue(reports, ts)
            self._update_mark(event, ts)
            now = self.now  # the event's time, or later for a recording whose times go back
            if matcher is not None and matcher.publishes:
                self._publish(matcher, now)  # the strategy sees the venue's data, not the recording
            else:
                if heap and heap[0][0] <= now:  # what the venue said reaches us with the event that caused it
                    self._run_due(now, inclusive=True)
                self._round = 0
                if md_zero:
                    self._md_to_strategy(event)
                else:
                    self._schedule(ts + md_latency.sample(), _MD, event)
            if heap and heap[0][0] <= now:  # what it caused with zero delay happens before the next event
                self._run_due(now, inclusive=True)
        self._run_due(None, timers=False)
        strategy.on_stop(ctx)
        self._run_due(None, timers=False)
        self._sample(self.now)
        result = BacktestResult(
            strategy_id=strategy.strategy_id,
            config=cfg,
            instruments={i.id: i for i in self.registry},
            fills=self._fills,
            fill_realised=self._fill_realised,
            positions=self._positions,
            funding=self._funding,
            equity_ts=self._equity_ts,
            equity=self._equity,
            inventory=self._inventory,
            marks=self._mark_series,
            orders_submitted=self._submitted,
            orders_filled=len(self._filled_orders),
            reports=self._reports,
            events=n,
            wall_seconds=time.perf_counter() - started,
            logs=self.logs,
        )
        from jtrader.backtest.metrics import compute_metrics

        result.metrics = compute_metrics(result)
        return result


def run_backtest(
    strategy: Strategy,
    events: Sequence[MarketEvent] | Iterable[MarketEvent],
    instruments: Iterable[Instrument],
    config: BacktestConfig | None = None,
    models: dict[str, Any] | None = None,
) -> BacktestResult:
    """Run ``strategy`` over ``events`` with ``config``; see :class:`BacktestEngine`."""
    return BacktestEngine(strategy, instruments, config, models).run(events)
