"""The OMS process: the pure :class:`~jtrader.oms.OmsEngine` wired to sockets, journal, metrics and SQL.

One event loop polls the strategy/operator command server, the venue
gateway and the venue's market data. Each pass handles a batch of inputs,
then **flushes the journal once, and only then sends that batch's outputs**
(group commit): nothing reaches a venue or a strategy before the record
that explains it is written, so a restart after ``kill -9`` recovers every
order, fill and position exactly, then reconciles with the venue
(:meth:`OmsEngine.reconcile`) for what happened while it was down.

SIGTERM (or :meth:`OmsNode.stop`) shuts down gracefully: open orders are
cancelled or kept per ``oms.on_shutdown``, the journal is flushed and a last
snapshot goes to the SQL store.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import zmq
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from jtrader.bus.auth import ClientCurve, ServerCurve
from jtrader.bus.messages import (
    Command,
    MarketData,
    MassCancel,
    VenueQuery,
    VenueSnapshot,
)
from jtrader.bus.transport import CommandServer, Poller, Publisher, Subscriber
from jtrader.config import Settings
from jtrader.domain import InstrumentRegistry
from jtrader.live.config import Endpoints, RunConfig
from jtrader.live.keys import ensure_keys
from jtrader.live.venues import build_registry, execution_client, venue_route
from jtrader.oms import ChangeCursor, Journal, OmsEngine, Publish, ToClient, ToVenue, journal_exists
from jtrader.ops.http import OpsServer
from jtrader.risk import RiskEngine

__all__ = ["OmsNode"]

log = logging.getLogger("jtrader.oms")

BATCH = 512  # inputs per socket per pass: bounds latency of the other sockets
MD_BATCH = 4096  # market-data events drained per pass (conflated to the newest per topic)
TIMER_NS = 100_000_000
SHUTDOWN_CANCEL_WAIT_S = 2.0
CHECKPOINT_RETRY_S = 60.0
OPERATOR = b"operator.shutdown"


class OmsNode:
    """The OMS with its I/O. Build, :meth:`start`, then :meth:`run` until :meth:`stop`."""

    def __init__(self, config: RunConfig, settings: Settings, *, context: zmq.Context[Any] | None = None) -> None:
        self.config = config
        self.settings = settings
        self.run_dir = settings.resolve(Path(config.run.run_dir))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.endpoints: Endpoints = config.endpoints(settings.root)
        self.ctx = context or zmq.Context()
        self.registry_metrics = CollectorRegistry()
        self.instruments: InstrumentRegistry = build_registry(config)
        self._stop = threading.Event()
        self._started_ns = time.time_ns()
        self.reconciled = False
        self.last_reconcile: Any = None
        self._last_snapshot = 0.0
        self._last_timer = 0
        self._health: dict[str, Any] = {"ok": False, "starting": True}
        self.store: Any = None
        self._define_metrics()

    # -- set-up ----------------------------------------------------------------

    def _define_metrics(self) -> None:
        r = self.registry_metrics
        self.m_inputs = Counter("jtrader_oms_inputs", "inputs handled by kind", ["kind"], registry=r)
        self.m_md = Counter("jtrader_oms_market_data", "market-data events (ticks) handled", registry=r)
        self.m_batch = Histogram(
            "jtrader_oms_batch_seconds",
            "input received to outputs sent, per batch",
            buckets=(5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2),
            registry=r,
        )
        self.m_open_orders = Gauge("jtrader_oms_open_orders", "open orders", registry=r)
        self.m_position = Gauge("jtrader_oms_position_lots", "net position in lots", ["instrument"], registry=r)
        self.m_realised = Gauge("jtrader_oms_realised_pnl", "realised PnL, settlement ccy", ["instrument"], registry=r)
        self.m_unrealised = Gauge("jtrader_oms_unrealised_pnl", "unrealised PnL", ["instrument"], registry=r)
        self.m_killed = Gauge("jtrader_oms_kill_switch", "1 while the kill switch is latched", registry=r)

    def start(self) -> None:
        """Recover from the journal (if any), open the sockets and ask the venue for its record."""
        keys = ensure_keys(self.settings.resolve(Path(self.config.run.keys_dir)))
        oms_cfg = self.config.oms
        journal_path = self.run_dir / "oms.journal"
        risk = self.risk = RiskEngine(self.config.risk, self.instruments)
        policies = oms_cfg.policies()
        routes = dict([venue_route(self.config)])  # the simulated venue on paper, the live venue live
        if journal_exists(journal_path):  # any segment or checkpoint: a restart
            self.oms = OmsEngine.from_journal(
                journal_path,
                self.instruments,
                risk,
                time.time_ns,
                oms_cfg.account_id,
                routes=routes,
                config=policies,
                fsync=oms_cfg.journal_fsync,
                metrics_registry=self.registry_metrics,
            )
            info = self.oms.recovery
            log.info(
                "recovered from %s and %d journal records (%d torn bytes ignored): %d open orders",
                (info.checkpoint if info else "") or "no checkpoint",
                info.records if info else 0,
                info.ignored_bytes if info else 0,
                len(self.oms.open_orders()),
            )
            for skipped in info.skipped_checkpoints if info else []:
                log.warning("journal checkpoint not used: %s", skipped)
        else:
            self.oms = OmsEngine(
                self.instruments,
                risk,
                time.time_ns,
                oms_cfg.account_id,
                routes=routes,
                journal=Journal(journal_path, fsync=oms_cfg.journal_fsync),
                config=policies,
                metrics_registry=self.registry_metrics,
            )
        self._snapshot_cursor: ChangeCursor | None = None  # the SQL store has nothing of this engine yet
        self._checkpoint_retry_at = 0.0
        ep = self.endpoints
        insecure = ep.oms_commands.startswith("inproc://")
        self.server = CommandServer(
            self.ctx,
            ep.oms_commands,
            Command,
            name="oms",
            registry=self.registry_metrics,
            curve=None if insecure else ServerCurve(keys.server_secret, keys.allowed_clients),
            allow_insecure=insecure,
            heartbeat_timeout=oms_cfg.heartbeat_timeout_s,
        )
        self.state = Publisher(self.ctx, ep.oms_state, name="oms-state", registry=self.registry_metrics)
        self.market_data = Subscriber(
            self.ctx, ep.venue_market_data, [b"md."], MarketData, name="oms-md", registry=self.registry_metrics
        )
        self.venue = execution_client(
            self.config,
            self.settings,
            self.instruments,
            self.ctx,
            ep.venue_commands,
            None if insecure else ClientCurve(keys.client_secret, keys.server_public),
        )
        self.venue.connect(self._on_venue_event)
        self._venue_events: list[Any] = []
        self.poller = Poller(self.server, self.market_data)
        self.poller.register(self.venue)
        self.ops = (
            OpsServer(self.registry_metrics, self.health, port=oms_cfg.metrics_port) if oms_cfg.metrics_port else None
        )
        self._send([ToVenue(*venue_route(self.config), VenueQuery(ts=time.time_ns()))])

    # -- the loop --------------------------------------------------------------

    def _on_venue_event(self, event: Any) -> None:
        self._venue_events.append(event)

    def run(self) -> None:
        """Handle inputs until :meth:`stop`; then shut down per policy."""
        while not self._stop.is_set():
            self.run_once(50)
        self._shutdown()

    def run_once(self, timeout_ms: int = 0) -> int:
        """One pass of the loop: wait up to ``timeout_ms`` for input, handle a batch, commit, send; return the work.

        The work is the number of commands, venue events and market-data
        events handled (heartbeats are not work): 0 means the pass changed
        nothing, which a lockstep driver (:mod:`jtrader.live.lockstep`) takes
        as quiescence. Timers run on the wall clock, at most every ``TIMER_NS``.
        """
        if timeout_ms:
            self.poller.poll(timeout_ms)
        oms = self.oms
        started = time.perf_counter()
        outputs: list[Any] = []
        work = 0
        for _ in range(BATCH):
            got = self.server.recv(0)
            if got is None:
                break
            sender, command = got
            work += 1
            self.m_inputs.labels(type(command).__name__).inc()
            outputs += oms.on_command(command, sender)
        self.venue.drain(BATCH)
        events, self._venue_events = self._venue_events, []
        work += len(events)
        for event in events:
            self.m_inputs.labels(type(event).__name__).inc()
            if isinstance(event, VenueSnapshot):
                report = oms.reconcile(event, self.venue.venue)
                self.reconciled, self.last_reconcile = True, report
                log.info("reconciled with the venue: %d differences", len(report.differences))
                outputs += report.outputs
            else:
                outputs += oms.on_venue_event(event, self.venue.venue)
        # Marks and reference prices need only the newest event per topic: older ones in the
        # batch are dropped undecoded, so the OMS keeps up with the full tick rate.
        ticks, drained = self.market_data.recv_latest(MD_BATCH)
        for _, event in ticks:
            outputs += oms.on_market_data(event)
        if drained:
            work += drained
            self.m_md.inc(drained)
        now = time.time_ns()
        if now - self._last_timer >= TIMER_NS:
            self._last_timer = now
            outputs += oms.on_timer(now)
            for client in self.server.check_liveness():  # the server keeps its own (monotonic) clock
                outputs += oms.on_client_disconnected(client)
            self._update_health()
        if outputs:
            self._send(outputs)
            self.m_batch.observe(time.perf_counter() - started)
        self._maybe_snapshot()
        return work

    def _send(self, outputs: list[Any]) -> None:
        journal = self.oms.journal
        if journal is not None:
            journal.flush()  # write-ahead: the records reach the OS (and disk, per policy) first
        for output in outputs:
            if isinstance(output, ToVenue):
                self.venue.send(output.command)
            elif isinstance(output, ToClient):
                self.server.send(output.sender, output.report)
            elif isinstance(output, Publish):
                self.state.publish(output.topic.encode(), output.msg)

    def stop(self) -> None:
        self._stop.set()

    # -- shutdown, snapshots, health -------------------------------------------

    def _shutdown(self) -> None:
        if self.config.oms.on_shutdown == "cancel" and self.oms.open_orders():
            self._send(self.oms.on_command(MassCancel(ts=time.time_ns()), OPERATOR))
            deadline = time.monotonic() + SHUTDOWN_CANCEL_WAIT_S
            while self.oms.open_orders() and time.monotonic() < deadline:
                self.poller.poll(50)
                self.venue.drain(BATCH)
                events, self._venue_events = self._venue_events, []
                outputs: list[Any] = []
                for event in events:
                    if not isinstance(event, VenueSnapshot):
                        outputs += self.oms.on_venue_event(event, self.venue.venue)
                if outputs:
                    self._send(outputs)
        if self.oms.journal is not None:
            self.oms.journal.flush()
            self.oms.journal.sync()
        self._maybe_snapshot(force=True)
        for closable in (self.ops, self.server, self.state, self.market_data, self.venue, self.store):
            if closable is not None:
                closable.close()
        log.info("OMS stopped: %d open orders left", len(self.oms.open_orders()))

    def _maybe_snapshot(self, force: bool = False) -> None:
        """Checkpoint the journal when due; every ``snapshot_interval_s``, copy what changed to the SQL store.

        Runs after a batch's outputs were sent, never inside an event. A snapshot
        costs O(changes since the last one) (:meth:`OmsEngine.changes_since`); if
        the store fails, the same changes are sent again next time.
        """
        self._maybe_checkpoint()
        interval = self.config.oms.snapshot_interval_s
        if not force and (interval <= 0 or time.monotonic() - self._last_snapshot < interval):
            return
        self._last_snapshot = time.monotonic()
        oms = self.oms
        changes = oms.changes_since(self._snapshot_cursor)
        self.m_open_orders.set(oms.open_order_count)
        self.m_killed.set(1 if oms.risk.killed else 0)
        for position in changes.positions:
            label = str(position.instrument_id)
            self.m_position.labels(label).set(position.net_lots)
            self.m_realised.labels(label).set(float(position.realised_pnl))
        try:
            if self.store is None:
                from jtrader.storage.sql import SqlStore

                self.store = SqlStore.from_settings(self.settings)
            if changes.orders:
                self.store.upsert_orders(changes.orders)
            if changes.fills:
                self.store.insert_fills(changes.fills)  # idempotent: a resend after a failure inserts nothing twice
            if changes.positions:
                self.store.upsert_positions(changes.positions)
            self._snapshot_cursor = changes.cursor
        except Exception as exc:  # the desk keeps trading if the reporting store is down
            self.store = None
            log.warning("snapshot to the SQL store failed (%s); trading continues", type(exc).__name__)

    def _maybe_checkpoint(self) -> None:
        """Checkpoint the journal when it grew enough; a failed checkpoint is retried a minute later.

        A failure leaves the files recoverable (checkpoints are atomic) and the
        journal appending where it was; only a journal that can no longer be
        written stops the process, since nothing may be sent unjournaled.
        """
        if time.monotonic() < self._checkpoint_retry_at:
            return
        try:
            path = self.oms.maybe_checkpoint()
        except OSError as exc:
            journal = self.oms.journal
            if journal is None or journal.closed:
                raise
            self._checkpoint_retry_at = time.monotonic() + CHECKPOINT_RETRY_S
            log.error("journal checkpoint failed (%s); trading continues, retrying in %.0f s", exc, CHECKPOINT_RETRY_S)
            return
        if path is not None:
            log.info("journal checkpoint %s written; older segments pruned", path.name)

    def _update_health(self) -> None:
        """Refresh the health report from the loop thread (the HTTP thread only reads the reference).

        ``ok`` means running and reconciled with the venue; the differences the
        reconciliation found (balance and position ones are never repaired) and
        the journal's progress toward its next checkpoint are reported beside it.
        """
        report = self.last_reconcile
        journal = self.oms.journal
        self._health = {
            "ok": not self._stop.is_set() and self.reconciled,
            "reconciled": self.reconciled,
            "reconcile_differences": None if report is None else len(report.differences),
            "balance_differences": None
            if report is None
            else sum(1 for d in report.differences if d.kind in ("balance_mismatch", "position_mismatch")),
            "killed": self.risk.killed,
            "open_orders": self.oms.open_order_count,
            "clients": len(self.server.live_clients()),
            "journal_segment": None if journal is None else journal.segment,
            "journal_records_since_checkpoint": None if journal is None else journal.records_since_checkpoint,
            "uptime_s": (time.time_ns() - self._started_ns) / 1e9,
        }

    def health(self) -> dict[str, Any]:
        """The report as of the loop's last timer tick (at most ~100 ms old); safe from any thread."""
        return self._health
