"""ZeroMQ transport of the bus: PUB/SUB for events, DEALER->ROUTER for commands and reports.

Frames on the wire are ``[topic-or-kind, version, payload]`` (see
:mod:`jtrader.bus.messages`); a ROUTER sees the peer's identity frame in
front. The topic of an event is ``md.<venue>.<symbol>.<kind>`` for market
data and ``oms.<what>`` for OMS state; the kind of a command or report is its
message tag (``submit``, ``execution_report``...), checked against the payload.

Every class works over ``inproc://`` (one process, shared ``zmq.Context``),
``ipc://`` and ``tcp://``. Guarantees:

- A frame that is not a valid message (wrong frame count, wrong version,
  undecodable or invalid payload, kind that does not match the payload) never
  raises out of ``recv``: it is counted in ``jtrader_bus_rejects_total`` by
  reason, logged sparingly, and skipped; a command server answers it with an
  :class:`~jtrader.bus.messages.OrderRejected` when the sender can be reached.
- ``send``/``publish`` never block unless given a timeout; a message ZeroMQ
  cannot take (high-water mark, no connected peer, unknown client) makes
  ``send`` return ``False`` and is counted, never raised.
- A TCP bind on every interface (``*``, ``0.0.0.0``, ``::``) is refused unless
  ``allow_all_interfaces=True``.
- The command channel over ``ipc://``/``tcp://`` requires CURVE
  (:mod:`jtrader.bus.auth`) unless ``allow_insecure=True`` is passed.
- Sockets close with LINGER 0: unsent messages are dropped on close.
- Callbacks (``on_disconnect``...) that raise are logged and counted; the loop goes on.

Objects are not thread-safe (ZeroMQ sockets are not): use each from one thread.

Exceptions::

    BusError(Exception)
     +-- BusConfigError(BusError, ValueError)   bad endpoint, bind on all interfaces,
                                                unauthenticated cross-process command
                                                channel, address in use
    CurveError(ValueError)                      key problems (jtrader.bus.auth)
    ProtocolError(ValueError)                   never escapes recv: counted and skipped
    zmq.ZMQError                                only for misuse, e.g. a closed socket
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Self

import msgspec
import zmq
import zmq.backend
from prometheus_client import CollectorRegistry

from jtrader.bus.auth import ClientCurve, ServerCurve, ZapHandle, start_zap
from jtrader.bus.messages import (
    Command,
    Heartbeat,
    OrderRejected,
    ProtocolError,
    RejectReason,
    Report,
    decode,
    encode,
)
from jtrader.bus.metrics import BusMetrics, bus_metrics, is_log_point

__all__ = [
    "BusError",
    "BusConfigError",
    "Publisher",
    "Subscriber",
    "CommandServer",
    "CommandClient",
    "Poller",
    "DEFAULT_HOST",
]

log = logging.getLogger("jtrader.bus")

DEFAULT_HOST = "127.0.0.1"
_ALL_INTERFACES = frozenset({"*", "0.0.0.0", "::", "[::]", "[::0]", ""})
_IPC_PATH_MAX = 107  # sun_path is 108 bytes on Linux, one for the NUL
_MAX_REASON_TEXT = 300
_NS = 1_000_000_000


class BusError(Exception):
    """Base of the transport's own errors."""


class BusConfigError(BusError, ValueError):
    """A socket cannot be set up as asked; the message says what was wrong and what to do."""


def _check_endpoint(endpoint: str, bind: bool, allow_all_interfaces: bool) -> str:
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme not in ("inproc", "ipc", "tcp") or not rest:
        raise BusConfigError(
            f"endpoint {endpoint!r}: expected inproc://NAME, ipc:///PATH or tcp://HOST:PORT "
            f"(e.g. tcp://{DEFAULT_HOST}:5555)"
        )
    if scheme == "tcp":
        host, colon, port = rest.rpartition(":")
        if not colon or not port:
            raise BusConfigError(f"endpoint {endpoint!r}: expected tcp://HOST:PORT, e.g. tcp://{DEFAULT_HOST}:5555")
        if bind and host in _ALL_INTERFACES and not allow_all_interfaces:
            raise BusConfigError(
                f"endpoint {endpoint!r} binds every network interface: bind tcp://{DEFAULT_HOST}:{port} "
                "(loopback), or pass allow_all_interfaces=True if remote hosts must connect"
            )
    if scheme == "ipc" and len(rest.encode()) > _IPC_PATH_MAX:
        raise BusConfigError(
            f"endpoint {endpoint!r}: an ipc path may be at most {_IPC_PATH_MAX} bytes; use a shorter directory"
        )
    return scheme


def _kind(cls: type) -> bytes:
    tag = getattr(getattr(cls, "__struct_config__", None), "tag", None)
    return (tag if isinstance(tag, str) else cls.__name__).encode()


_KINDS: dict[type, bytes] = {}

# Frames go through the Cython socket methods directly: pyzmq's Python layer converts flags and
# options to enums on every call, which cost ~2 µs a message (about half of a send or receive).
_raw_send = zmq.backend.Socket.send
_raw_recv = zmq.backend.Socket.recv
_raw_get = zmq.backend.Socket.get
_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)


def send_frames(sock: zmq.Socket[Any], frames: Sequence[bytes], flags: int = 0) -> None:
    """Send a multipart message of bytes frames (atomically: ZeroMQ queues all parts or none).

    Raises zmq.Again (with NOBLOCK, or after SNDTIMEO) when the first part cannot be queued.
    """
    more = flags | _SNDMORE
    last = len(frames) - 1
    for i in range(last):
        _raw_send(sock, frames[i], more)
    _raw_send(sock, frames[last], flags)


def recv_frames(sock: zmq.Socket[Any], flags: int = 0) -> list[bytes]:
    """Receive every part of the next message as bytes; raises zmq.Again when none is ready (NOBLOCK)."""
    frames = [_raw_recv(sock, flags)]
    while _raw_get(sock, _RCVMORE):
        frames.append(_raw_recv(sock, 0))
    return frames


def _kind_of(msg: object) -> bytes:
    cls = type(msg)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KINDS[cls] = _kind(cls)
    return kind


class _Socket:
    """What every bus socket shares: options, bind/connect, metrics, close."""

    def __init__(
        self,
        ctx: zmq.Context[Any],
        socket_type: int,
        endpoint: str,
        *,
        bind: bool,
        name: str,
        registry: CollectorRegistry | None,
        hwm: int,
        max_message_size: int,
        curve: ServerCurve | ClientCurve | None,
        allow_all_interfaces: bool,
    ) -> None:
        self._endpoint = endpoint
        self.scheme = _check_endpoint(endpoint, bind, allow_all_interfaces)
        self.name = name
        self.metrics: BusMetrics = bus_metrics(registry)
        self._in: dict[type, Any] = {}
        self._out: dict[type, Any] = {}
        self._reject_counts: dict[RejectReason, int] = {}
        self._zap: ZapHandle | None = None
        self._rcvtimeo = -1
        self._sndtimeo = -1
        self._closed = False
        sock = ctx.socket(socket_type)
        self.socket: zmq.Socket[Any] = sock
        try:
            sock.linger = 0
            sock.sndhwm = hwm
            sock.rcvhwm = hwm
            if max_message_size > 0:
                sock.maxmsgsize = max_message_size
            if self.scheme == "tcp":
                sock.tcp_keepalive = 1
                sock.tcp_keepalive_idle = 30
                sock.tcp_keepalive_intvl = 10
                sock.tcp_keepalive_cnt = 3
            if not bind:
                sock.reconnect_ivl = 100
                sock.reconnect_ivl_max = 5000
            self._configure(sock)
            if isinstance(curve, ServerCurve):
                if not bind:
                    raise BusConfigError(f"{name}: a ServerCurve goes on the binding side; this socket connects")
                self._zap = start_zap(ctx, curve.allowed_clients_dir, name, self._on_denied)
                curve.apply(sock, self._zap.domain)
            elif isinstance(curve, ClientCurve):
                if bind:
                    raise BusConfigError(f"{name}: a ClientCurve goes on the connecting side; this socket binds")
                curve.apply(sock)
            if bind:
                try:
                    sock.bind(endpoint)
                except zmq.ZMQError as exc:
                    raise BusConfigError(
                        f"{name}: cannot bind {endpoint} ({exc}); pick a free port/path or stop the process using it"
                    ) from None
            else:
                sock.connect(endpoint)
        except BaseException:
            self.close()
            raise
        self._endpoint = sock.last_endpoint.decode() if bind else endpoint

    def _configure(self, sock: zmq.Socket[Any]) -> None:
        """Set the socket-type-specific options (before bind/connect)."""

    @property
    def endpoint(self) -> str:
        """The endpoint as bound (with the actual port for ``tcp://HOST:*``) or as connected."""
        return self._endpoint

    def _on_denied(self) -> None:
        self.metrics.rejects.labels(self.name, RejectReason.NOT_AUTHORISED.value).inc()

    # -- counting ---------------------------------------------------------------------------

    def _count_in(self, msg: object) -> None:
        cls = type(msg)
        child = self._in.get(cls)
        if child is None:
            child = self._in[cls] = self.metrics.messages_in.labels(self.name, _kind_of(msg).decode())
        child.inc()

    def _count_out(self, msg: object) -> None:
        cls = type(msg)
        child = self._out.get(cls)
        if child is None:
            child = self._out[cls] = self.metrics.messages_out.labels(self.name, _kind_of(msg).decode())
        child.inc()

    def _reject(self, reason: RejectReason, detail: str) -> None:
        self.metrics.rejects.labels(self.name, reason.value).inc()
        count = self._reject_counts[reason] = self._reject_counts.get(reason, 0) + 1
        if is_log_point(count):
            log.warning("%s: dropped a frame (%s): %s; %d so far", self.name, reason.value, detail, count)

    def _send_failed(self, reason: str) -> bool:
        self.metrics.send_failures.labels(self.name, reason).inc()
        return False

    def _handler_failed(self, what: str) -> None:
        self.metrics.handler_errors.labels(self.name).inc()
        log.exception("%s: %s raised; carrying on", self.name, what)

    # -- raw frames -------------------------------------------------------------------------

    def _recv_frames(self, timeout_ms: int | None) -> list[bytes] | None:
        sock = self.socket
        if timeout_ms == 0:
            try:
                return recv_frames(sock, _NOBLOCK)
            except zmq.Again:
                return None
        wanted = -1 if timeout_ms is None else max(int(timeout_ms), 1)
        if wanted != self._rcvtimeo:
            sock.rcvtimeo = self._rcvtimeo = wanted
        try:
            return recv_frames(sock)
        except zmq.Again:
            return None

    def _send_frames(self, frames: list[bytes], timeout_ms: int | None) -> None:
        """Send or raise zmq.Again / zmq.ZMQError; callers turn those into a False return."""
        sock = self.socket
        if timeout_ms == 0:
            send_frames(sock, frames, _NOBLOCK)
            return
        wanted = -1 if timeout_ms is None else max(int(timeout_ms), 1)
        if wanted != self._sndtimeo:
            sock.sndtimeo = self._sndtimeo = wanted
        send_frames(sock, frames)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the socket at once (LINGER 0) and release its ZAP domain. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.socket.close(linger=0)
        if self._zap is not None:
            self._zap.close()
            self._zap = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, endpoint={self._endpoint!r})"


def _remaining_ms(deadline: float | None) -> int | None:
    if deadline is None:
        return None
    return max(0, int((deadline - time.monotonic()) * 1000))


def _deadline(timeout_ms: int | None) -> float | None:
    return None if timeout_ms is None else time.monotonic() + timeout_ms / 1000


# -- PUB/SUB ------------------------------------------------------------------------------


class Publisher(_Socket):
    """Publish events (market data, OMS state) as ``[topic, version, payload]``; binds by default.

    PUB never blocks: a subscriber that falls ``hwm`` messages behind loses
    messages (ZeroMQ semantics), which suits market data; consumers that
    must not miss state changes resynchronise from a snapshot.

    Example::

        pub = Publisher(ctx, "tcp://127.0.0.1:5556", name="md")
        pub.publish(md_topic(trade.instrument_id, "trade"), trade)
    """

    def __init__(
        self,
        ctx: zmq.Context[Any],
        endpoint: str,
        bind: bool = True,
        *,
        name: str = "pub",
        registry: CollectorRegistry | None = None,
        hwm: int = 100_000,
        curve: ServerCurve | ClientCurve | None = None,
        allow_all_interfaces: bool = False,
    ) -> None:
        super().__init__(
            ctx,
            zmq.PUB,
            endpoint,
            bind=bind,
            name=name,
            registry=registry,
            hwm=hwm,
            max_message_size=-1,
            curve=curve,
            allow_all_interfaces=allow_all_interfaces,
        )

    def publish(self, topic: bytes, msg: msgspec.Struct) -> None:
        """Encode ``msg`` and publish it under ``topic`` (subscribers filter on its prefix)."""
        version, payload = encode(msg)
        send_frames(self.socket, (topic, version, payload), _NOBLOCK)
        self._count_out(msg)

    def publish_raw(self, topic: bytes, version: bytes, payload: bytes) -> None:
        """Publish pre-encoded frames (a relay); not counted per type."""
        send_frames(self.socket, (topic, version, payload), _NOBLOCK)


class Subscriber(_Socket):
    """Receive events whose topic starts with one of ``topics``, decoded into ``expected``; connects by default.

    ``recv`` returns ``(topic, message)`` or ``None`` when nothing valid
    arrived in time; invalid frames are counted and skipped, never raised.
    An empty ``topics`` list subscribes to nothing; ``[b""]`` to everything.
    Subscriptions reach the publisher asynchronously: the first messages
    published after connecting may be missed (ZeroMQ's slow joiner).

    Example::

        sub = Subscriber(ctx, "tcp://127.0.0.1:5556", [b"md.binance_usdm.BTCUSDT."], MarketData)
        item = sub.recv(timeout_ms=100)
    """

    def __init__(
        self,
        ctx: zmq.Context[Any],
        endpoint: str,
        topics: list[bytes],
        expected: Any,
        bind: bool = False,
        *,
        name: str = "sub",
        registry: CollectorRegistry | None = None,
        hwm: int = 100_000,
        max_message_size: int = 16 * 1024 * 1024,
        curve: ServerCurve | ClientCurve | None = None,
        allow_all_interfaces: bool = False,
    ) -> None:
        self.expected = expected
        super().__init__(
            ctx,
            zmq.SUB,
            endpoint,
            bind=bind,
            name=name,
            registry=registry,
            hwm=hwm,
            max_message_size=max_message_size,
            curve=curve,
            allow_all_interfaces=allow_all_interfaces,
        )
        self.topics: set[bytes] = set()
        self.conflated = 0  # events dropped undecoded by recv_latest because a newer one of their topic followed
        for topic in topics:
            self.subscribe(topic)

    def subscribe(self, topic: bytes) -> None:
        """Also receive topics starting with ``topic``."""
        if not isinstance(topic, bytes):
            raise BusConfigError(f"{self.name}: topics are bytes, got {type(topic).__name__} {topic!r}")
        self.socket.subscribe(topic)
        self.topics.add(topic)

    def unsubscribe(self, topic: bytes) -> None:
        """Stop receiving ``topic`` (as subscribed; prefixes are not split)."""
        self.socket.unsubscribe(topic)
        self.topics.discard(topic)

    def _decode(self, frames: list[bytes]) -> tuple[bytes, Any] | None:
        item = self._decode_uncounted(frames)
        if item is not None:
            self._count_in(item[1])
        return item

    def _decode_uncounted(self, frames: list[bytes]) -> tuple[bytes, Any] | None:
        if len(frames) != 3:
            self._reject(RejectReason.MALFORMED, f"expected 3 frames [topic, version, payload], got {len(frames)}")
            return None
        topic, version, payload = frames
        try:
            msg = decode(version, payload, self.expected)
        except ProtocolError as exc:
            self._reject(exc.reason, str(exc)[:_MAX_REASON_TEXT])
            return None
        except Exception as exc:  # a decoder bug must not stop the consumer's loop
            self._reject(RejectReason.MALFORMED, f"{type(exc).__name__}: {exc}"[:_MAX_REASON_TEXT])
            return None
        return topic, msg

    def recv(self, timeout_ms: int | None = 0) -> tuple[bytes, Any] | None:
        """Return the next valid ``(topic, message)``, waiting up to ``timeout_ms`` (0: don't wait; None: forever)."""
        deadline = None if timeout_ms == 0 else _deadline(timeout_ms)
        wait = timeout_ms
        while True:
            frames = self._recv_frames(wait)
            if frames is None:
                return None
            item = self._decode(frames)
            if item is not None:
                return item
            if timeout_ms != 0:
                wait = _remaining_ms(deadline)

    def poll(self) -> tuple[bytes, Any] | None:
        """Return the next valid event already queued, or None at once."""
        return self.recv(0)

    def _drain_frames(self, max_messages: int) -> list[list[bytes]]:
        """Up to ``max_messages`` queued messages as frame lists, without waiting (the hot path: no per-part sugar)."""
        sock = self.socket
        drained: list[list[bytes]] = []
        for _ in range(max_messages):
            try:
                frames = [_raw_recv(sock, _NOBLOCK)]
            except zmq.Again:
                break
            while _raw_get(sock, _RCVMORE):
                frames.append(_raw_recv(sock, 0))
            drained.append(frames)
        return drained

    def _count_batch(self, items: list[tuple[bytes, Any]]) -> None:
        counts: dict[type, int] = {}
        first: dict[type, Any] = {}
        for _, msg in items:
            cls = type(msg)
            if cls in counts:
                counts[cls] += 1
            else:
                counts[cls] = 1
                first[cls] = msg
        for cls, n in counts.items():
            child = self._in.get(cls)
            if child is None:
                child = self._in[cls] = self.metrics.messages_in.labels(self.name, _kind_of(first[cls]).decode())
            child.inc(n)

    def recv_batch(self, max_messages: int = 1024) -> list[tuple[bytes, Any]]:
        """Return every valid event already queued, up to ``max_messages``, without waiting."""
        decode = self._decode_uncounted
        out = [item for frames in self._drain_frames(max_messages) if (item := decode(frames)) is not None]
        self._count_batch(out)
        return out

    def recv_latest(self, max_messages: int = 1024) -> tuple[list[tuple[bytes, Any]], int]:
        """Drain up to ``max_messages`` queued events and return the newest of each topic, and how many were drained.

        For consumers that only need the latest value per topic (marks, reference
        prices): older events of a topic are dropped undecoded and counted in
        ``conflated``. The events returned are in the order their newest
        arrived, so "whichever came last" across topics is kept.
        """
        drained = self._drain_frames(max_messages)
        newest: dict[bytes, list[bytes]] = {}
        for frames in drained:
            topic = frames[0] if len(frames) == 3 else b"\x00malformed%d" % len(newest)  # decode rejects it
            newest.pop(topic, None)
            newest[topic] = frames
        self.conflated += len(drained) - len(newest)
        decode = self._decode_uncounted
        out = [item for frames in newest.values() if (item := decode(frames)) is not None]
        self._count_batch(out)
        return out, len(drained)


# -- DEALER -> ROUTER ---------------------------------------------------------------------


def _best_effort_ids(payload: bytes) -> tuple[str, str]:
    """The client_order_id/strategy_id of a rejected payload, if it decodes as a map at all."""
    try:
        raw = msgspec.msgpack.decode(payload)
    except Exception:
        return "", ""
    if not isinstance(raw, dict):
        return "", ""
    cid, sid = raw.get("client_order_id"), raw.get("strategy_id")
    return (
        cid if isinstance(cid, str) and len(cid) <= 128 else "",
        sid if isinstance(sid, str) and len(sid) <= 128 else "",
    )


class CommandServer(_Socket):
    """The OMS side of the order channel (ROUTER, binds): receive commands, send reports to a client.

    ``recv`` returns ``(client_id, message)`` for valid messages only. An
    invalid frame is counted by reason and answered with
    ``OrderRejected(reason=MALFORMED|WRONG_VERSION)`` (carrying the
    ``client_order_id`` if one can be read from the payload, else ``""``).
    A :class:`~jtrader.bus.messages.Heartbeat` is answered with a heartbeat
    and not returned unless ``deliver_heartbeats``. Every valid message
    refreshes its client's liveness; :meth:`check_liveness` declares clients
    silent for longer than ``heartbeat_timeout`` seconds lost, calling
    ``on_disconnect(client_id)`` once per loss (until the client is heard
    again). With CURVE, a peer without an allowed key never gets a message
    through and gets nothing back.

    Clients that set an ``identity`` keep their ``client_id`` across
    reconnects (ROUTER_HANDOVER: the newest connection wins).

    Example::

        server = CommandServer(ctx, "tcp://127.0.0.1:5555", curve=ServerCurve(secret, allowed), name="oms")
        server.on_disconnect = oms.cancel_all_of
        while running:
            item = server.recv(timeout_ms=50)
            if item:
                client_id, command = item
                server.send(client_id, oms.handle(command))
            server.check_liveness()
    """

    def __init__(
        self,
        ctx: zmq.Context[Any],
        endpoint: str,
        expected: Any = Command,
        *,
        name: str = "commands",
        registry: CollectorRegistry | None = None,
        curve: ServerCurve | None = None,
        allow_insecure: bool = False,
        heartbeat_timeout: float = 5.0,
        on_disconnect: Callable[[bytes], object] | None = None,
        deliver_heartbeats: bool = False,
        hwm: int = 10_000,
        max_message_size: int = 1024 * 1024,
        allow_all_interfaces: bool = False,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if curve is None and not endpoint.startswith("inproc://") and not allow_insecure:
            raise BusConfigError(
                f"{name}: the order channel at {endpoint} crosses processes and must be authenticated: "
                "pass curve=ServerCurve(secret_key_file, allowed_clients_dir) (create keys with `jtrader keys DIR`), "
                "or allow_insecure=True for a loopback test"
            )
        self.expected = expected
        self.heartbeat_timeout = heartbeat_timeout
        self.on_disconnect = on_disconnect
        self.deliver_heartbeats = deliver_heartbeats
        self._clock = clock
        self._last_seen: dict[bytes, int] = {}
        self.curve = curve
        super().__init__(
            ctx,
            zmq.ROUTER,
            endpoint,
            bind=True,
            name=name,
            registry=registry,
            hwm=hwm,
            max_message_size=max_message_size,
            curve=curve,
            allow_all_interfaces=allow_all_interfaces,
        )

    def _configure(self, sock: zmq.Socket[Any]) -> None:
        sock.router_mandatory = 1  # an unknown client is an error we count, not a silent drop
        sock.router_handover = 1

    def _decode(self, frames: list[bytes]) -> tuple[bytes, Any] | None:
        client_id = frames[0]
        if len(frames) != 4:
            self._reject_and_answer(
                client_id,
                RejectReason.MALFORMED,
                f"expected 3 frames [kind, version, payload] after the identity, got {len(frames) - 1}",
                b"",
            )
            return None
        _, kind, version, payload = frames
        try:
            msg = decode(version, payload, self.expected)
        except ProtocolError as exc:
            self._reject_and_answer(client_id, exc.reason, str(exc), payload)
            return None
        except Exception as exc:
            self._reject_and_answer(client_id, RejectReason.MALFORMED, f"{type(exc).__name__}: {exc}", payload)
            return None
        if kind != _kind_of(msg):
            self._reject_and_answer(
                client_id,
                RejectReason.MALFORMED,
                f"kind frame {kind[:64]!r} does not match the payload's type {_kind_of(msg)!r}",
                payload,
            )
            return None
        self._last_seen[client_id] = self._clock()
        self._count_in(msg)
        return client_id, msg

    def _reject_and_answer(self, client_id: bytes, reason: RejectReason, detail: str, payload: bytes) -> None:
        detail = detail[:_MAX_REASON_TEXT]
        self._reject(reason, detail)
        cid, sid = _best_effort_ids(payload) if payload else ("", "")
        self.send(client_id, OrderRejected(client_order_id=cid, reason=reason, message=detail, strategy_id=sid))

    def recv(self, timeout_ms: int | None = 0) -> tuple[bytes, Any] | None:
        """Return the next valid ``(client_id, command)``, waiting up to ``timeout_ms`` (0: don't; None: forever)."""
        deadline = None if timeout_ms == 0 else _deadline(timeout_ms)
        wait = timeout_ms
        while True:
            frames = self._recv_frames(wait)
            if frames is None:
                return None
            item = self._decode(frames)
            if item is not None:
                msg = item[1]
                if type(msg) is not Heartbeat:
                    return item
                self.send(item[0], Heartbeat(sender=self.name, sequence=msg.sequence, ts=time.time_ns()))
                if self.deliver_heartbeats:
                    return item
            if timeout_ms != 0:
                wait = _remaining_ms(deadline)

    def send(self, client_id: bytes, msg: msgspec.Struct) -> bool:
        """Queue ``msg`` for ``client_id``; False (counted) if the client is unknown/gone or its queue is full."""
        version, payload = encode(msg)
        try:
            send_frames(self.socket, (client_id, _kind_of(msg), version, payload), _NOBLOCK)
        except zmq.Again:
            return self._send_failed("would_block")
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                return self._send_failed("unroutable")
            raise
        self._count_out(msg)
        return True

    def check_liveness(self, now_ns: int | None = None) -> list[bytes]:
        """Declare clients silent for over ``heartbeat_timeout`` lost; return them, calling ``on_disconnect`` for each.

        Each loss is reported once: the client is forgotten until it sends a
        valid message again, which makes it live again.
        """
        now = self._clock() if now_ns is None else now_ns
        limit = now - int(self.heartbeat_timeout * _NS)
        lost = [client for client, seen in self._last_seen.items() if seen < limit]
        for client in lost:
            del self._last_seen[client]
            self.metrics.peers_lost.labels(self.name).inc()
            log.warning(
                "%s: client %r silent for more than %.1fs: disconnected", self.name, client, self.heartbeat_timeout
            )
            if self.on_disconnect is not None:
                try:
                    self.on_disconnect(client)
                except Exception:
                    self._handler_failed("on_disconnect")
        return lost

    def live_clients(self) -> list[bytes]:
        """The clients heard from and not (yet) declared lost."""
        return list(self._last_seen)

    def reload_allowed_clients(self) -> None:
        """Re-read the allowed-clients directory (after adding or removing a client key)."""
        if self._zap is None:
            raise BusConfigError(f"{self.name}: this server does not use CURVE; there is nothing to reload")
        self._zap.reload()


class CommandClient(_Socket):
    """The strategy side of the order channel (DEALER, connects): send commands, receive reports.

    ``send`` never waits unless given ``timeout_ms``; with IMMEDIATE set,
    nothing is queued while no server connection is up, so a command sent
    while the OMS is unreachable returns False at once instead of arriving
    minutes later. ``maybe_heartbeat(now_ns)`` (call it from the loop) sends
    a heartbeat every ``heartbeat_interval`` seconds and calls
    ``on_disconnect()`` once when the server has been silent for more than
    ``heartbeat_timeout`` seconds (counted from construction until it is first
    heard); ``on_reconnect()`` runs when it is heard again. Heartbeat replies
    are consumed by ``recv`` unless ``deliver_heartbeats``.

    Example::

        client = CommandClient(ctx, "tcp://127.0.0.1:5555", curve=ClientCurve(secret, server_public), identity=b"mm-1")
        client.send(SubmitOrder(...))
        while running:
            client.maybe_heartbeat()
            report = client.recv(timeout_ms=50)
    """

    def __init__(
        self,
        ctx: zmq.Context[Any],
        endpoint: str,
        expected: Any = Report,
        *,
        name: str = "client",
        identity: bytes | None = None,
        registry: CollectorRegistry | None = None,
        curve: ClientCurve | None = None,
        allow_insecure: bool = False,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 5.0,
        on_disconnect: Callable[[], object] | None = None,
        on_reconnect: Callable[[], object] | None = None,
        deliver_heartbeats: bool = False,
        hwm: int = 10_000,
        max_message_size: int = 16 * 1024 * 1024,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if curve is None and not endpoint.startswith("inproc://") and not allow_insecure:
            raise BusConfigError(
                f"{name}: the order channel at {endpoint} crosses processes and must be authenticated: "
                "pass curve=ClientCurve(client_secret_file, server_public_file), "
                "or allow_insecure=True for a loopback test"
            )
        if identity is not None and (not identity or len(identity) > 255 or identity[0] == 0):
            raise BusConfigError(
                f"{name}: identity must be 1-255 bytes not starting with a zero byte, got {identity!r}"
            )
        self.expected = expected
        self.identity = identity
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.on_disconnect = on_disconnect
        self.on_reconnect = on_reconnect
        self.deliver_heartbeats = deliver_heartbeats
        self._clock = clock
        self._sequence = 0
        self._last_sent_hb: int | None = None
        self._last_heard = clock()
        self.live = True
        super().__init__(
            ctx,
            zmq.DEALER,
            endpoint,
            bind=False,
            name=name,
            registry=registry,
            hwm=hwm,
            max_message_size=max_message_size,
            curve=curve,
            allow_all_interfaces=False,
        )

    def _configure(self, sock: zmq.Socket[Any]) -> None:
        sock.immediate = 1
        if self.identity is not None:
            sock.routing_id = self.identity

    def send(self, msg: msgspec.Struct, timeout_ms: int | None = 0) -> bool:
        """Send ``msg`` to the server; False (counted) if it could not be queued within ``timeout_ms``."""
        version, payload = encode(msg)
        try:
            self._send_frames([_kind_of(msg), version, payload], timeout_ms)
        except zmq.Again:
            return self._send_failed("would_block")
        self._count_out(msg)
        return True

    def _decode(self, frames: list[bytes]) -> Any | None:
        if len(frames) != 3:
            self._reject(RejectReason.MALFORMED, f"expected 3 frames [kind, version, payload], got {len(frames)}")
            return None
        kind, version, payload = frames
        try:
            msg = decode(version, payload, self.expected)
        except ProtocolError as exc:
            self._reject(exc.reason, str(exc)[:_MAX_REASON_TEXT])
            return None
        except Exception as exc:
            self._reject(RejectReason.MALFORMED, f"{type(exc).__name__}: {exc}"[:_MAX_REASON_TEXT])
            return None
        if kind != _kind_of(msg):
            self._reject(RejectReason.MALFORMED, f"kind frame {kind[:64]!r} does not match {_kind_of(msg)!r}")
            return None
        self._heard()
        self._count_in(msg)
        return msg

    def _heard(self) -> None:
        self._last_heard = self._clock()
        if not self.live:
            self.live = True
            log.info("%s: server heard again", self.name)
            if self.on_reconnect is not None:
                try:
                    self.on_reconnect()
                except Exception:
                    self._handler_failed("on_reconnect")

    def recv(self, timeout_ms: int | None = 0) -> Any | None:
        """Return the next valid report, waiting up to ``timeout_ms`` (0: don't wait; None: forever)."""
        deadline = None if timeout_ms == 0 else _deadline(timeout_ms)
        wait = timeout_ms
        while True:
            frames = self._recv_frames(wait)
            if frames is None:
                return None
            msg = self._decode(frames)
            if msg is not None and (type(msg) is not Heartbeat or self.deliver_heartbeats):
                return msg
            if timeout_ms != 0:
                wait = _remaining_ms(deadline)

    def heartbeat(self, now_ns: int | None = None) -> bool:
        """Send a heartbeat now; False if it could not be queued (no connection)."""
        self._last_sent_hb = self._clock() if now_ns is None else now_ns
        self._sequence += 1
        return self.send(Heartbeat(sender=self.name, sequence=self._sequence, ts=time.time_ns()))

    def maybe_heartbeat(self, now_ns: int | None = None) -> None:
        """Heartbeat if one is due and declare the server lost if it has been silent too long."""
        now = self._clock() if now_ns is None else now_ns
        if self._last_sent_hb is None or now - self._last_sent_hb >= int(self.heartbeat_interval * _NS):
            self.heartbeat(now)
        if self.live and now - self._last_heard > int(self.heartbeat_timeout * _NS):
            self.live = False
            self.metrics.peers_lost.labels(self.name).inc()
            log.warning("%s: server silent for more than %.1fs: disconnected", self.name, self.heartbeat_timeout)
            if self.on_disconnect is not None:
                try:
                    self.on_disconnect()
                except Exception:
                    self._handler_failed("on_disconnect")


class Poller:
    """Wait on several bus sockets at once; returns the objects with something to read.

    Readable means a frame is queued, not that it is valid: ``recv(0)`` on a
    returned object may still give None (the frame was invalid and skipped).

    Example::

        poller = Poller(server, md_sub)
        for ready in poller.poll(timeout_ms=50):
            item = ready.recv(0)
    """

    def __init__(self, *sockets: _Socket) -> None:
        self._poller = zmq.Poller()
        self._owners: dict[zmq.Socket[Any], _Socket] = {}
        for sock in sockets:
            self.register(sock)

    def register(self, sock: _Socket) -> None:
        """Watch ``sock`` for incoming messages."""
        self._poller.register(sock.socket, zmq.POLLIN)
        self._owners[sock.socket] = sock

    def unregister(self, sock: _Socket) -> None:
        """Stop watching ``sock``."""
        self._poller.unregister(sock.socket)
        self._owners.pop(sock.socket, None)

    def poll(self, timeout_ms: int | None = 0) -> list[Any]:
        """Return the registered objects with a message queued, waiting up to ``timeout_ms`` (None: forever)."""
        return [self._owners[s] for s, _ in self._poller.poll(timeout_ms) if s in self._owners]
