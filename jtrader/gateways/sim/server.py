"""The simulated venue as a process: OMS gateways connect, the replay moves the book, market data goes out.

Run it with ``python -m jtrader.gateways.sim --config sim.toml``
(:func:`main`), from Python with :func:`serve`, or inside a desk run as
:class:`SimVenueNode` (``jtrader.live.process``). One loop, one thread:

- a :class:`~jtrader.bus.transport.CommandServer` (ROUTER, bound on
  loopback tcp or ipc; CURVE when configured, ``allow_insecure`` only for
  tests) takes :data:`~jtrader.bus.messages.VenueCommand` structs and answers
  with :data:`~jtrader.bus.messages.VenueEvent` structs;
- a :class:`~jtrader.bus.transport.Publisher` sends the venue's public data on
  ``md.sim.<symbol>.<kind>`` (``trade``, ``quote``, ``book_delta``, and a full
  ``book_snapshot`` every ``snapshot_interval_s``);
- a :class:`~jtrader.gateways.sim.replay.MarketReplay` applies the recording when due.

Accounts and connections: a connection (ROUTER identity) trades the account
named in its ``VenueSubmit.account_id``; until it names one (and for every
command without an account field: cancel, amend, query) it uses the last
account it named, or its identity as the account. Connections that keep their
identity across restarts (ROUTER_HANDOVER; :class:`SimExecutionClient` does)
are the same connection to the venue.

The venue outlives its clients. Events for an account whose connection is gone
(ZeroMQ says the peer is unreachable) are kept, in order, and delivered when
a connection of that account is heard again (any message, heartbeats
included), up to ``max_pending_events`` per account. Events ZeroMQ accepted
for a peer that then died are lost in transit: the contract for recovery is
``VenueQuery`` -> ``VenueSnapshot`` (open orders, every fill since a time,
balances) from the venue's record, which never drops anything. A silent
client's orders are not cancelled. SIGTERM stops the loop between messages;
the record is then written to ``record_path`` (JSON) if configured.

Exceptions::

    SimConfigError(ValueError)        a bad configuration (config.py)
    BusConfigError(BusError, ValueError)  an endpoint that cannot be bound, or a
                                      cross-process endpoint without CURVE
    CurveError(ValueError)            missing or unreadable CURVE keys
    (a command that makes the venue raise is logged and counted; the loop goes on)
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import zmq

from jtrader.bus.auth import ServerCurve
from jtrader.bus.messages import Heartbeat, VenueCommand, VenueEvent, VenueSubmit, md_topic
from jtrader.bus.transport import CommandServer, Poller, Publisher
from jtrader.domain import BookDelta, BookSnapshot, InstrumentRegistry, Quote, Trade
from jtrader.gateways.instruments import default_registry
from jtrader.gateways.sim.config import (
    ReplaySource,
    SimConfigError,
    SimMarketConfig,
    SimVenueConfig,
    load_config,
)
from jtrader.gateways.sim.replay import MarketReplay, ReplayClock, ReplayFeed
from jtrader.gateways.sim.venue import SimVenue, VenueOutput, VenueRecord, write_record

__all__ = ["RECORD_FILE", "SimVenueNode", "SimVenueServer", "main", "serve"]

log = logging.getLogger("jtrader.gateways.sim")

RECORD_FILE = "venue-record.json"
"""Name of the record file a :class:`SimVenueNode` writes into its run directory."""

_KINDS: dict[type, bytes] = {Trade: b"trade", Quote: b"quote", BookDelta: b"book_delta", BookSnapshot: b"book_snapshot"}
_COMMAND_BATCH = 1000
# Replay work per loop pass is bounded in time, not steps: a replay that falls behind its pace (a
# loaded machine, a high speed) must still let commands, heartbeats and SIGTERM through every pass.
_REPLAY_SLICE_STEPS = 200
_REPLAY_BUDGET_NS = 20_000_000
_LIVENESS_NS = 100_000_000


def _identity_name(client: bytes) -> str:
    try:
        text = client.decode()
    except UnicodeDecodeError:
        return "0x" + client.hex()
    return text if text.isprintable() else "0x" + client.hex()


class SimVenueServer:
    """The venue's sockets around a :class:`SimVenue`; bind on construction, then :meth:`run` or :meth:`run_once`.

    Guarantees: commands are handled one at a time in arrival order; every
    event the venue makes for an account is sent to its connection or kept for
    it (see the module docstring); a command that makes the venue raise is
    logged and counted in ``counters["handler_errors"]``; nothing blocks.
    Not thread-safe: use it from one thread (``stop`` events may be set from any).

    Example::

        server = SimVenueServer(load_config("sim.toml"))
        try:
            server.run(stop_event)
        finally:
            server.close()
    """

    def __init__(
        self,
        config: SimVenueConfig,
        *,
        context: zmq.Context[Any] | None = None,
        registry: InstrumentRegistry | None = None,
        wall: Callable[[], int] = time.time_ns,
        metrics_registry: Any = None,
    ) -> None:
        # Compile the matching kernel before serving (25-35 s on a cold numba cache, e.g. a fresh
        # checkout): otherwise the loop stalls on its first order, past its clients' heartbeat timeout.
        from jtrader.matching import warm_up

        warm_up()
        self.config = config
        pairs = config.instruments(registry or default_registry())
        replayed = [m.replay is not None for m in config.markets]
        # Without a recording the venue's time is the wall clock whatever the speed.
        self.clock = ReplayClock(config.speed if any(replayed) else 1.0, wall=wall)
        try:
            balances = {ccy: Decimal(v) for ccy, v in config.initial_balances.items()}
        except ArithmeticError:
            raise SimConfigError(f"initial_balances: expected decimal strings, got {config.initial_balances}") from None
        self.venue = SimVenue(
            [sim for _, sim in pairs],
            self.clock.now,
            book_depth=config.book_depth,
            check_minimums=config.check_minimums,
            initial_balances=balances,
            session=f"{time.time_ns() // 1_000_000:x}.",  # unique per venue process start (ms)
        )
        feeds = [
            _feed(market.replay, real, sim, registry or default_registry())
            for market, (real, sim) in zip(config.markets, pairs, strict=True)
            if market.replay is not None
        ]
        self.feeds = feeds
        self.replay = MarketReplay(self.venue, feeds, self.clock, loop=config.loop)
        self._own_context = context is None
        self.context: zmq.Context[Any] = context or zmq.Context()
        try:
            curve = (
                ServerCurve(config.curve_secret_key, config.allowed_clients_dir) if config.curve_secret_key else None
            )
            self.commands = CommandServer(
                self.context,
                config.command_endpoint,
                VenueCommand,
                name="sim-venue",
                registry=metrics_registry,
                curve=curve,
                allow_insecure=config.allow_insecure,
                heartbeat_timeout=config.heartbeat_timeout_s,
                deliver_heartbeats=True,
                on_disconnect=self._on_silent,
            )
        except BaseException:
            if self._own_context:
                self.context.term()
            raise
        try:
            self.publisher = Publisher(
                self.context, config.publish_endpoint, name="sim-venue-md", registry=metrics_registry
            )
        except BaseException:
            self.commands.close()
            if self._own_context:
                self.context.term()
            raise
        self._poller = Poller(self.commands)
        self._identity_account: dict[bytes, str] = {}
        self._account_identity: dict[str, bytes] = {}
        self._pending: dict[str, deque[VenueEvent]] = {}
        self._last_liveness = 0
        self._last_snapshot = time.monotonic()
        self._closed = False
        self.counters: Counter[str] = Counter()
        if feeds:
            log.info(
                "sim venue: replaying %s at %s",
                ", ".join(str(f.recorded.id) for f in feeds),
                config.speed or "full speed",
            )

    # -- endpoints and state -----------------------------------------------------------------

    @property
    def command_endpoint(self) -> str:
        """The command endpoint as bound (the actual port for ``tcp://127.0.0.1:*``)."""
        return self.commands.endpoint

    @property
    def publish_endpoint(self) -> str:
        return self.publisher.endpoint

    def record(self) -> VenueRecord:
        """The venue's record now (see :meth:`SimVenue.record`)."""
        return self.venue.record()

    def pending(self, account: str) -> int:
        """Events kept for ``account`` until its connection is heard again."""
        queue = self._pending.get(account)
        return len(queue) if queue else 0

    def account_of(self, client: bytes) -> str:
        """The account a connection trades now (the last one it named, else its identity)."""
        return self._identity_account.get(client) or _identity_name(client)

    # -- the loop ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set (checked at least every 50 ms)."""
        while not stop.is_set():
            self.run_once(50)

    def run_once(self, timeout_ms: int = 50) -> None:
        """Wait up to ``timeout_ms`` for a command or the next due replay step, then handle what is ready."""
        wait = timeout_ms
        delay = self.replay.delay_ns()
        if delay is not None:
            wait = min(wait, delay // 1_000_000)
        if self._poller.poll(wait):
            self.serve_commands()
        if not self.replay.exhausted:
            deadline = time.monotonic_ns() + _REPLAY_BUDGET_NS
            while time.monotonic_ns() < deadline:
                out = self.replay.run_due(_REPLAY_SLICE_STEPS)
                if not out and self.replay.delay_ns() != 0:
                    break  # nothing due now
                self._dispatch(out)
            if self.replay.exhausted and not self.config.loop:
                log.info("sim venue: the recording is over; the book stays as it was")
        now_ns = time.monotonic_ns()
        if now_ns - self._last_liveness >= _LIVENESS_NS:
            self._last_liveness = now_ns
            self.commands.check_liveness(now_ns)
        interval = self.config.snapshot_interval_s
        if interval > 0 and time.monotonic() - self._last_snapshot >= interval:
            self._last_snapshot = time.monotonic()
            self.publish_snapshots()

    def serve_commands(self, max_commands: int = _COMMAND_BATCH) -> int:
        """Handle the commands already received (at most ``max_commands``) without waiting; return how many.

        Heartbeats are answered but not counted: they change nothing.
        """
        handled = 0
        for _ in range(max_commands):
            item = self.commands.recv(0)
            if item is None:
                break
            client, command = item
            account = self._bind(client, command)
            if type(command) is not Heartbeat:
                handled += 1
            try:
                out = self.venue.handle(command, account)
            except Exception:
                self.counters["handler_errors"] += 1
                log.exception("sim venue: %s from %r raised; carrying on", type(command).__name__, client)
                continue
            self._dispatch(out)
        return handled

    def step_replay(self) -> bool:
        """Apply the next replay step now, whether due or not, and send what it produced; False when over.

        For a lockstep driver (:mod:`jtrader.live.lockstep`) that releases the
        recording one step at a time (with ``speed`` 0 the venue's time is the
        step's recorded time); :meth:`run_once` paces the replay by itself.
        """
        if self.replay.exhausted:
            return False
        self._dispatch(self.replay.step())
        return True

    def _bind(self, client: bytes, command: Any) -> str:
        if type(command) is VenueSubmit and command.account_id:
            account: str = command.account_id
        else:
            account = self.account_of(client)
        if self._identity_account.get(client) != account:
            self._identity_account[client] = account
        if self._account_identity.get(account) != client:
            self._account_identity[account] = client
        if self._pending.get(account):
            self._flush(account)
        return account

    def _dispatch(self, out: VenueOutput) -> None:
        for account, event in out.private:
            self._deliver(account, event)
        publish = self.publisher.publish
        for msg in out.public:
            publish(md_topic(msg.instrument_id, _KINDS[type(msg)].decode()), msg)

    def _deliver(self, account: str, event: VenueEvent) -> None:
        queue = self._pending.get(account)
        if queue:  # keep the order: older events are waiting
            self._keep(account, event)
            return
        client = self._account_identity.get(account)
        if client is None or not self.commands.send(client, event):
            self._keep(account, event)

    def _keep(self, account: str, event: VenueEvent) -> None:
        limit = self.config.max_pending_events
        if limit == 0:
            self.counters["pending_dropped"] += 1
            return
        queue = self._pending.get(account)
        if queue is None:
            queue = self._pending[account] = deque(maxlen=limit)
        if len(queue) == limit:
            self.counters["pending_dropped"] += 1
        queue.append(event)
        self.counters["pending_kept"] += 1

    def _flush(self, account: str) -> None:
        queue = self._pending[account]
        client = self._account_identity[account]
        sent = 0
        while queue:
            if not self.commands.send(client, queue[0]):
                break
            queue.popleft()
            sent += 1
        if sent:
            self.counters["pending_delivered"] += sent
            log.info("sim venue: delivered %d kept events to %s", sent, account)

    def _on_silent(self, client: bytes) -> None:
        log.warning(
            "sim venue: %s (%r) went silent; its orders stay, its events are kept", self.account_of(client), client
        )

    def publish_snapshots(self) -> None:
        """Publish a full ``BookSnapshot`` (top ``book_depth`` levels) of every instrument now."""
        for instrument in self.venue.instruments:
            snapshot = self.venue.book_snapshot(instrument.id)
            self.publisher.publish(md_topic(instrument.id, "book_snapshot"), snapshot)

    def close(self) -> None:
        """Close the sockets (and the context if this server made it). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.commands.close()
        self.publisher.close()
        if self._own_context:
            self.context.term()

    def __enter__(self) -> SimVenueServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _feed(source: ReplaySource, real: Any, sim: Any, registry: InstrumentRegistry) -> ReplayFeed:
    if source.capture_files:
        missing = [p for p in source.capture_files if not Path(p).is_file()]
        if missing:
            raise SimConfigError(f"replay.capture_files: {', '.join(missing)} not found; check the path (data_path)")
        return ReplayFeed.from_captures(
            source.capture_files, registry, real, sim, max_lines=source.max_lines, trades=source.trades
        )
    from datetime import date

    from jtrader.storage.lake import Lake

    try:
        start = date.fromisoformat(source.start) if source.start else None
        end = date.fromisoformat(source.end) if source.end else None
    except ValueError as exc:
        raise SimConfigError(f"replay.start/end: expected ISO dates (2024-08-08): {exc}") from None
    return ReplayFeed.from_lake(Lake(Path(source.lake_root)), real, sim, start=start, end=end, trades=source.trades)


def serve(
    config: SimVenueConfig,
    stop: threading.Event,
    *,
    context: zmq.Context[Any] | None = None,
    registry: InstrumentRegistry | None = None,
    ready: Callable[[SimVenueServer], object] | None = None,
) -> VenueRecord:
    """Run the venue until ``stop`` is set; write and return its record.

    ``ready`` is called with the server once its sockets are bound (its
    endpoints then hold the actual ports). The record goes to
    ``config.record_path`` if set.
    """
    server = SimVenueServer(config, context=context, registry=registry)
    try:
        if ready is not None:
            ready(server)
        server.run(stop)
        record = server.record()
        if config.record_path:
            write_record(record, config.record_path)
            log.info("sim venue: record written to %s", config.record_path)
        return record
    finally:
        server.close()


class SimVenueNode:
    """The venue process of a desk run: build, :meth:`start` (binds), :meth:`run` until :meth:`stop`.

    On leaving :meth:`run` it writes its record to ``config.record_path`` and
    closes its sockets.
    """

    def __init__(
        self,
        config: SimVenueConfig,
        *,
        context: zmq.Context[Any] | None = None,
        registry: InstrumentRegistry | None = None,
    ) -> None:
        self.config = config
        self._context = context
        self._registry = registry
        self._stop = threading.Event()
        self.server: SimVenueServer | None = None

    @classmethod
    def from_run_config(cls, run_config: Any, settings: Any) -> SimVenueNode:
        """Build from a desk run's config (``jtrader.live.config.RunConfig``) and settings.

        The capture path is relative to ``settings.data_path``; endpoints come
        from ``run_config.endpoints``; CURVE keys from ``run.keys_dir`` (made
        if missing) unless the endpoint is ``inproc``; the record goes to
        ``<run_dir>/venue-record.json``.
        """
        from jtrader.live.keys import ensure_keys

        endpoints = run_config.endpoints(settings.root)
        venue = run_config.venue
        capture = Path(venue.capture)
        if not capture.is_absolute():
            capture = settings.resolve(Path(settings.data_path)) / capture
        run_dir = settings.resolve(Path(run_config.run.run_dir))
        secret = allowed = ""
        if not endpoints.venue_commands.startswith("inproc://"):
            keys = ensure_keys(settings.resolve(Path(run_config.run.keys_dir)))
            secret, allowed = str(keys.server_secret), str(keys.allowed_clients)
        config = SimVenueConfig(
            markets=(
                SimMarketConfig(
                    mirror=venue.mirror,
                    replay=ReplaySource(capture_files=(str(capture),), max_lines=venue.max_lines),
                ),
            ),
            command_endpoint=endpoints.venue_commands,
            publish_endpoint=endpoints.venue_market_data,
            curve_secret_key=secret,
            allowed_clients_dir=allowed,
            speed=venue.speed,
            loop=venue.loop,
            record_path=str(run_dir / RECORD_FILE),
        )
        return cls(config)

    def start(self) -> None:
        """Bind the sockets and load the recording (the process reports ready after this returns)."""
        if self.server is None:
            self.server = SimVenueServer(self.config, context=self._context, registry=self._registry)

    def run(self) -> None:
        """Serve until :meth:`stop`; then write the record and close."""
        self.start()
        assert self.server is not None
        try:
            self.server.run(self._stop)
            if self.config.record_path:
                write_record(self.server.record(), self.config.record_path)
        finally:
            self.server.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler or another thread)."""
        self._stop.set()


def main(argv: list[str] | None = None) -> int:
    """``python -m jtrader.gateways.sim --config FILE [--record PATH]``: serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m jtrader.gateways.sim", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="TOML (or .json) SimVenueConfig")
    parser.add_argument("--record", type=Path, default=None, help="write the venue's record here on exit")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        if args.record is not None:
            import msgspec

            config = msgspec.structs.replace(config, record_path=str(args.record))
    except SimConfigError as exc:
        print(f"sim venue: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        serve(
            config,
            stop,
            ready=lambda s: log.info(
                "sim venue: commands on %s, market data on %s", s.command_endpoint, s.publish_endpoint
            ),
        )
    except (SimConfigError, ValueError) as exc:
        print(f"sim venue: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
