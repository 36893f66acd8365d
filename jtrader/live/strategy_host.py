"""The strategy host process: runs strategies live or on paper through :class:`LiveContext`.

Market data comes from the venue's PUB socket (books are kept per
instrument), orders go to the OMS over the authenticated DEALER channel,
execution reports come back on it. A strategy sees the same handlers and the
same context methods as in a backtest; only the clock differs: the wall
clock by default, the simulated venue's time when injected (a lockstep run,
:mod:`jtrader.live.lockstep`).

One pass of the loop (:meth:`StrategyHost.run_once`) delivers every report
already received, then the market data already received, then refusals of
requests that could not be sent, then due timers; :meth:`StrategyHost.run`
repeats it until stopped.

If the OMS is unreachable, a submit cannot be queued: the strategy receives
an ``OrderRejected(NO_ROUTE)`` for it at once instead of waiting for a reply
that will never come.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from jtrader.bus.auth import ClientCurve
from jtrader.bus.messages import (
    AmendOrder,
    CancelOrder,
    ExecutionReport,
    MarketData,
    MassCancel,
    OrderRejected,
    RejectReason,
    Report,
    RequestKind,
    SubmitOrder,
)
from jtrader.bus.transport import CommandClient, Poller, Subscriber
from jtrader.config import Settings
from jtrader.domain import (
    Bar,
    BookDelta,
    BookSnapshot,
    BookStatus,
    Instrument,
    InstrumentId,
    InstrumentRegistry,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from jtrader.live.config import RunConfig
from jtrader.live.keys import ensure_keys
from jtrader.live.venues import build_registry, build_strategies
from jtrader.marketdata.book import OrderBook
from jtrader.strategies.base import OpenOrder, Strategy, StrategyState

__all__ = ["LiveContext", "StrategyHost"]

log = logging.getLogger("jtrader.strategies")


class LiveContext:
    """The live :class:`~jtrader.strategies.base.StrategyContext` of one strategy."""

    def __init__(self, host: StrategyHost, strategy: Strategy) -> None:
        self.strategy_id = strategy.strategy_id
        self._host = host
        self._strategy = strategy
        self.state = StrategyState(strategy.strategy_id)
        self.timer_ns = 0
        self.next_timer_ns = 0

    def now(self) -> int:
        return self._host.clock()

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        return self._host.instruments.get(instrument_id)

    def _send(self, message: Any, client_order_id: str, request: RequestKind) -> None:
        if not self._host.client.send(message):
            self._host.deferred.append(
                (
                    self,
                    OrderRejected(
                        client_order_id=client_order_id,
                        reason=RejectReason.NO_ROUTE,
                        message="the OMS is unreachable; nothing was sent",
                        strategy_id=self.strategy_id,
                        request=request,
                        ts=self._host.clock(),
                    ),
                )
            )

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
        client_order_id = self.state.open_order(instrument_id, side, quantity_lots, price_ticks)
        message = SubmitOrder(
            client_order_id=client_order_id,
            instrument_id=instrument_id,
            side=side,
            order_type=order_type,
            quantity_lots=quantity_lots,
            price_ticks=price_ticks,
            trigger_ticks=trigger_ticks,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
            strategy_id=self.strategy_id,
            ts=self._host.clock(),
        )
        self._send(message, client_order_id, RequestKind.SUBMIT)
        return client_order_id

    def cancel(self, client_order_id: str) -> None:
        if self.state.begin_cancel(client_order_id) is None:
            return
        message = CancelOrder(client_order_id=client_order_id, strategy_id=self.strategy_id, ts=self._host.clock())
        self._send(message, client_order_id, RequestKind.CANCEL)

    def amend(self, client_order_id: str, quantity_lots: int | None = None, price_ticks: int | None = None) -> None:
        message = AmendOrder(
            client_order_id=client_order_id,
            quantity_lots=quantity_lots,
            price_ticks=price_ticks,
            strategy_id=self.strategy_id,
            ts=self._host.clock(),
        )
        self._send(message, client_order_id, RequestKind.AMEND)

    def cancel_all(self, instrument_id: InstrumentId | None = None) -> None:
        for order in self.state.open_orders(instrument_id):
            order.pending_cancel = True
        message = MassCancel(strategy_id=self.strategy_id, instrument_id=instrument_id, ts=self._host.clock())
        self._host.client.send(message)

    def position(self, instrument_id: InstrumentId) -> int:
        return self.state.position(instrument_id)

    def open_orders(self, instrument_id: InstrumentId | None = None) -> list[OpenOrder]:
        return self.state.open_orders(instrument_id)

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self._host.books.get(instrument_id)

    def set_timer(self, interval_ns: int) -> None:
        if interval_ns <= 0:
            raise ValueError(f"set_timer: interval must be positive, got {interval_ns} ns")
        self.timer_ns = interval_ns
        self.next_timer_ns = self._host.clock() + interval_ns

    def model(self, name: str) -> Any:
        return self._host.model(name)

    def log(self, message: str) -> None:
        log.info("[%s] %s", self.strategy_id, message)


class StrategyHost:
    """Hosts the configured strategies: :meth:`start`, then :meth:`run` until :meth:`stop` (or :meth:`run_once`).

    ``clock`` is the strategies' clock (``ctx.now()``, timers), in ns.
    """

    def __init__(
        self,
        config: RunConfig,
        settings: Settings,
        *,
        strategies: list[Strategy] | None = None,
        context: zmq.Context[Any] | None = None,
        identity: bytes | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self.settings = settings
        self.clock = clock
        self.ctx = context or zmq.Context()
        self.instruments: InstrumentRegistry = build_registry(config)
        self.strategies = strategies if strategies is not None else build_strategies(config)
        self.books: dict[InstrumentId, OrderBook] = {}
        self.stale_books: set[InstrumentId] = set()  # told untrustworthy by the feed, awaiting a snapshot
        self.deferred: deque[tuple[LiveContext, OrderRejected]] = deque()
        self._models: dict[str, Any] = {}
        self._stop = threading.Event()
        self._identity = identity or f"strategy-host-{config.run.name}".encode()

    def start(self) -> None:
        endpoints = self.config.endpoints(self.settings.root)
        insecure = endpoints.oms_commands.startswith("inproc://")
        keys = ensure_keys(self.settings.resolve(Path(self.config.run.keys_dir)))
        self.client = CommandClient(
            self.ctx,
            endpoints.oms_commands,
            Report,
            name="strategy-host",
            identity=self._identity,
            curve=None if insecure else ClientCurve(keys.client_secret, keys.server_public),
            allow_insecure=insecure,
        )
        self.market_data = Subscriber(self.ctx, endpoints.venue_market_data, [b"md."], MarketData, name="host-md")
        self.poller = Poller(self.client, self.market_data)
        self.contexts = {s.strategy_id: LiveContext(self, s) for s in self.strategies}
        for strategy in self.strategies:
            strategy.on_start(self.contexts[strategy.strategy_id])

    def _dispatch_market_data(self, event: Any) -> None:
        kind = type(event)
        if kind is BookSnapshot or kind is BookDelta:
            book = self.books.get(event.instrument_id)
            if book is None:
                if kind is BookDelta and event.instrument_id in self.stale_books:
                    return  # no trustworthy book to apply it to until the next snapshot
                book = self.books[event.instrument_id] = OrderBook()
            if kind is BookSnapshot:
                self.stale_books.discard(event.instrument_id)
                book.apply_snapshot(event.bids, event.asks)
            else:
                book.apply_levels(event.bids, event.asks)
        elif kind is BookStatus:
            if not event.valid:  # strategies see no book (ctx.book() is None) until it is rebuilt
                self.books.pop(event.instrument_id, None)
                self.stale_books.add(event.instrument_id)
            for strategy in self.strategies:
                if event.instrument_id in strategy.instruments:
                    strategy.on_book_status(self.contexts[strategy.strategy_id], event)
            return
        for strategy in self.strategies:
            if event.instrument_id not in strategy.instruments:
                continue
            ctx = self.contexts[strategy.strategy_id]
            if kind is Quote:
                strategy.on_quote(ctx, event)
            elif kind is Trade:
                strategy.on_trade(ctx, event)
            elif kind is Bar:
                strategy.on_bar(ctx, event)
            else:
                strategy.on_book(ctx, event.instrument_id, self.books[event.instrument_id])

    def _dispatch_report(self, report: Any) -> None:
        ctx = self.contexts.get(getattr(report, "strategy_id", "")) or self._owner(report)
        if ctx is None:
            return
        strategy = ctx._strategy
        if isinstance(report, ExecutionReport):
            ctx.state.on_report(report, lambda fill: strategy.on_fill(ctx, fill))
            strategy.on_order_update(ctx, report)
        elif isinstance(report, OrderRejected):
            ctx.state.on_rejected(report)
            strategy.on_reject(ctx, report)

    def _owner(self, report: Any) -> LiveContext | None:
        client_order_id = getattr(report, "client_order_id", "")
        return self.contexts.get(client_order_id.rpartition("-")[0]) if client_order_id else None

    def run(self) -> None:
        """Run passes until :meth:`stop`; then stop the strategies and close the sockets."""
        while not self._stop.is_set():
            self.run_once(20)
        self.stop_strategies()
        self.close()

    def run_once(self, timeout_ms: int = 0) -> int:
        """Wait up to ``timeout_ms`` for input, then handle one pass (see the module docstring); return the work done.

        The count is of reports, market data, deferred refusals and timers
        handled (heartbeats are not work): 0 means nothing happened.
        """
        if timeout_ms:
            self.poller.poll(timeout_ms)
        self.client.maybe_heartbeat()
        work = 0
        while (report := self.client.recv(0)) is not None:
            self._dispatch_report(report)
            work += 1
        batch = self.market_data.recv_batch(1024)
        for _, event in batch:
            self._dispatch_market_data(event)
        work += len(batch)
        while self.deferred:
            ctx, reject = self.deferred.popleft()
            ctx.state.on_rejected(reject)
            ctx._strategy.on_reject(ctx, reject)
            work += 1
        now = self.clock()
        for ctx in self.contexts.values():
            if ctx.timer_ns and now >= ctx.next_timer_ns:
                ctx.next_timer_ns = now + ctx.timer_ns
                ctx._strategy.on_timer(ctx, now)
                work += 1
        return work

    def next_timer_ns(self) -> int | None:
        """When the next strategy timer is due (the host's clock), or None if no strategy set one."""
        due = [ctx.next_timer_ns for ctx in self.contexts.values() if ctx.timer_ns]
        return min(due) if due else None

    def stop_strategies(self) -> None:
        """Call every strategy's ``on_stop`` (what they send then still goes out until :meth:`close`)."""
        for strategy in self.strategies:
            strategy.on_stop(self.contexts[strategy.strategy_id])

    def close(self) -> None:
        """Close the sockets (unsent messages are dropped)."""
        self.client.close()
        self.market_data.close()

    def stop(self) -> None:
        self._stop.set()

    def model(self, name: str) -> Any:
        """Load ``models:/<name>@champion`` from MLflow once and log which version it was."""
        if name not in self._models:
            import mlflow

            mlflow.set_tracking_uri(self.settings.resolved_mlflow_uri)
            uri = f"models:/{name}@champion"
            version = mlflow.MlflowClient().get_model_version_by_alias(name, "champion").version
            self._models[name] = mlflow.pyfunc.load_model(uri)
            log.info("loaded model %s version %s", uri, version)
        return self._models[name]
