"""The OMS side of the simulated venue: :class:`SimExecutionClient`, an :class:`~jtrader.gateways.base.ExecutionClient`.

A DEALER (:class:`~jtrader.bus.transport.CommandClient`, ``expected=VenueEvent``)
connected to a :class:`~jtrader.gateways.sim.server.SimVenueServer`. It never
blocks and never owns a loop: the OMS node registers it with its
:class:`~jtrader.bus.transport.Poller` (it has a ``socket``) and calls
:meth:`SimExecutionClient.poll` (alias ``drain``) when it is readable and at
least once per heartbeat interval.

Guarantees:

- ``send`` returns at once. A command ZeroMQ cannot take now (no connection
  yet, or the venue unreachable) waits in an outbox, in order, and goes out on
  a later ``poll`` once the connection is up; the outbox holds at most
  ``max_outbox`` commands (the oldest are dropped and counted beyond that:
  the OMS's reconciliation finds what never arrived).
- The identity is stable (default ``b"oms"``), so a restarted OMS is the same
  connection to the venue (ROUTER_HANDOVER) and receives the events the venue
  kept for it.
- Heartbeats every ``heartbeat_interval``; the venue silent for
  ``heartbeat_timeout`` is a disconnect (``connected`` False,
  ``on_disconnect`` called). When it is heard again, ``on_reconnect`` runs and,
  with ``query_on_reconnect``, a ``VenueQuery`` for the fills since the last
  one received goes out, so the OMS reconciles what it missed.
- A handler (``on_event``) that raises is logged and counted; the other events are delivered.

Exceptions::

    BusConfigError(BusError, ValueError)   a bad endpoint or identity; a cross-process
                                           endpoint without CURVE and without allow_insecure
    RuntimeError                           poll() before connect()
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import zmq

from jtrader.bus.auth import ClientCurve
from jtrader.bus.messages import VenueCommand, VenueEvent, VenueFill, VenueQuery
from jtrader.bus.transport import CommandClient
from jtrader.domain import Venue
from jtrader.gateways.base import VenueEventHandler

__all__ = ["DEFAULT_IDENTITY", "SimExecutionClient"]

log = logging.getLogger("jtrader.gateways.sim")

DEFAULT_IDENTITY = b"oms"


class SimExecutionClient:
    """Order entry on the simulated venue, for the OMS process.

    Example::

        client = SimExecutionClient(ctx, "ipc:///run/venue.sock", curve=ClientCurve(secret, server_public))
        client.connect(oms_events.append)
        poller.register(client)             # a bus Poller: it watches client.socket
        client.send(VenueSubmit(...))
        ...
        client.poll()                       # when readable, and on the loop's timer
    """

    venue: Venue = Venue.SIM

    def __init__(
        self,
        context: zmq.Context[Any],
        endpoint: str,
        *,
        curve: ClientCurve | None = None,
        allow_insecure: bool = False,
        identity: bytes = DEFAULT_IDENTITY,
        name: str = "sim-exec",
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 5.0,
        query_on_connect: bool = False,
        query_on_reconnect: bool = True,
        max_outbox: int = 10_000,
        metrics_registry: Any = None,
        on_disconnect: Callable[[], object] | None = None,
        on_reconnect: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.query_on_connect = query_on_connect
        self.query_on_reconnect = query_on_reconnect
        self.on_disconnect = on_disconnect
        self.on_reconnect = on_reconnect
        self.counters: Counter[str] = Counter()
        self._handler: VenueEventHandler | None = None
        self._outbox: deque[Any] = deque()
        self._max_outbox = max_outbox
        self._last_fill_ns = 0
        self._query_due = False
        self.channel = CommandClient(
            context,
            endpoint,
            VenueEvent,
            name=name,
            identity=identity,
            registry=metrics_registry,
            curve=curve,
            allow_insecure=allow_insecure,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            on_disconnect=self._lost,
            on_reconnect=self._back,
        )
        self.socket: zmq.Socket[Any] = self.channel.socket

    @property
    def endpoint(self) -> str:
        return self.channel.endpoint

    @property
    def connected(self) -> bool:
        """False once the venue has been silent for ``heartbeat_timeout``, True again when it is heard."""
        return self.channel.live

    @property
    def outbox(self) -> int:
        """Commands waiting for a connection."""
        return len(self._outbox)

    def connect(self, on_event: VenueEventHandler) -> None:
        """Deliver venue events to ``on_event`` from now on (the socket connects by itself, in the background)."""
        self._handler = on_event
        if self.query_on_connect:
            self.query(0)

    def send(self, command: VenueCommand) -> None:
        """Queue ``command`` for the venue without blocking (outbox while there is no connection)."""
        if self._outbox:
            self._flush()
        if self._outbox or not self.channel.send(command):
            self._queue(command)

    def query(self, fills_since_ns: int | None = None) -> None:
        """Ask the venue for a ``VenueSnapshot``: open orders, fills since ``fills_since_ns``
        (default: the last fill received, so nothing is missed), balances."""
        since = self._last_fill_ns if fills_since_ns is None else fills_since_ns
        self.send(VenueQuery(ts=time.time_ns(), fills_since_ns=since))

    def _queue(self, command: Any) -> None:
        if self._max_outbox and len(self._outbox) >= self._max_outbox:
            self._outbox.popleft()
            self.counters["outbox_dropped"] += 1
        self._outbox.append(command)
        self.counters["outbox_queued"] += 1

    def _flush(self) -> None:
        outbox = self._outbox
        while outbox:
            if not self.channel.send(outbox[0]):
                return
            outbox.popleft()
            self.counters["outbox_sent"] += 1

    def _lost(self) -> None:
        self.counters["disconnects"] += 1
        if self.on_disconnect is not None:
            self.on_disconnect()

    def _back(self) -> None:
        self.counters["reconnects"] += 1
        if self.query_on_reconnect:
            self._query_due = True
        if self.on_reconnect is not None:
            self.on_reconnect()

    def poll(self, max_events: int = 1024) -> int:
        """Heartbeat, send what waits in the outbox, deliver up to ``max_events`` received events; return how many."""
        handler = self._handler
        if handler is None:
            raise RuntimeError(f"{self.name}: call connect(on_event) before poll()")
        channel = self.channel
        channel.maybe_heartbeat()
        if self._query_due:
            self._query_due = False
            self.query()
        if self._outbox:
            self._flush()
        delivered = 0
        while delivered < max_events:
            event = channel.recv(0)
            if event is None:
                break
            delivered += 1
            if type(event) is VenueFill and event.fill.ts_event > self._last_fill_ns:
                self._last_fill_ns = event.fill.ts_event
            try:
                handler(event)
            except Exception:
                self.counters["handler_errors"] += 1
                log.exception("%s: the event handler raised on %s; carrying on", self.name, type(event).__name__)
        return delivered

    drain = poll

    def wait(self, timeout_ms: int) -> int:
        """Wait up to ``timeout_ms`` for something to read, then :meth:`poll` (for simple loops and tests)."""
        if not self._outbox:
            self.socket.poll(timeout_ms, zmq.POLLIN)
        return self.poll()

    def close(self) -> None:
        """Close the socket at once; commands still in the outbox are dropped. Idempotent."""
        if self._outbox:
            log.warning("%s: closing with %d unsent commands", self.name, len(self._outbox))
        self.channel.close()

    def __repr__(self) -> str:
        return f"SimExecutionClient({self.endpoint!r}, connected={self.connected}, outbox={len(self._outbox)})"
