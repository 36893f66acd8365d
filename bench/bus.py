"""The bus: command round-trip latency and PUB/SUB throughput, beside raw pyzmq on the same machine.

Round trip (µs, p50/p99; lower is better): a strategy-side DEALER sends and
waits for the answer from a ROUTER in another process. Baseline: raw pyzmq
frames of 100 bytes echoed back. Ours: :class:`CommandClient` sends a
``SubmitOrder`` and :class:`CommandServer` decodes it and answers an
``ExecutionReport`` (encode, decode, kind check, metrics on both sides), over
ipc and tcp loopback, and over tcp with CURVE.

Throughput (msgs/s, higher is better): a publisher process sends as fast as
it can to a subscriber in this process. Baseline: raw PUB/SUB frames of the
same size as the encoded trade. Ours: :class:`Publisher` encodes domain
``Trade`` events and :class:`Subscriber` decodes and validates them.

The far side runs in a separate process (``multiprocessing`` spawn), so the
two sides do not share a GIL: on a 2-core machine each gets a core. The
round-trip variants run in alternating blocks of 500 and throughput is the
best of two alternating runs, so load from other processes hits ours and the
baseline alike: compare the ratio, not the absolute figures.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import zmq
from rich.console import Console

from jtrader.config import Settings

ROUND_TRIPS = 10_000
WARMUP_TRIPS = 1_000
BLOCK = 500
PUBLISHED = 200_000
THROUGHPUT_RUNS = 2
RAW_PAYLOAD = b"x" * 100
_TIMEOUT_S = 30


# -- far side (runs in a spawned process) --------------------------------------------------


def _raw_echo(endpoint: str, conn: Connection) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    sock.bind(endpoint)
    conn.send(sock.getsockopt_string(zmq.LAST_ENDPOINT))
    while True:
        frames = sock.recv_multipart()
        if frames[1] == b"stop":
            break
        sock.send_multipart(frames)
    sock.close()
    ctx.term()


def _bus_echo(endpoint: str, conn: Connection, keys: str | None) -> None:
    from jtrader.bus.auth import ServerCurve
    from jtrader.bus.messages import ControlRequest, ExecutionReport, OrderStatus
    from jtrader.bus.transport import CommandServer

    ctx = zmq.Context()
    curve = ServerCurve(Path(keys) / "server.key_secret", Path(keys) / "allowed_clients") if keys else None
    server = CommandServer(ctx, endpoint, name="bench.oms", curve=curve, allow_insecure=curve is None)
    conn.send(server.endpoint)
    while True:
        item = server.recv(None)
        if item is None:
            continue
        client_id, cmd = item
        if isinstance(cmd, ControlRequest):
            break
        server.send(
            client_id,
            ExecutionReport(
                client_order_id=cmd.client_order_id,
                instrument_id=cmd.instrument_id,
                status=OrderStatus.ACKED,
                filled_lots=0,
                leaves_lots=cmd.quantity_lots,
                strategy_id=cmd.strategy_id,
                venue_order_id="v-1",
            ),
        )
    server.close()
    ctx.term()


def _publisher(endpoint: str, conn: Connection, raw: bool, count: int) -> None:
    from jtrader.bus.messages import encode, md_topic
    from jtrader.bus.transport import Publisher

    ctx = zmq.Context()
    pub = Publisher(ctx, endpoint, bind=False, name="bench.pub", hwm=0)
    events = [_trade(i) for i in range(1000)]
    topic = md_topic(events[0].instrument_id, "trade")
    version, sample = encode(events[0])
    payload = b"x" * len(sample)
    while not conn.poll(0.001):  # until the subscriber has seen a warm-up message
        pub.publish(b"warmup", events[0])
    conn.recv()
    send = pub.socket.send_multipart
    if raw:
        for _ in range(count):
            send((topic, version, payload))
    else:
        publish = pub.publish
        for i in range(count):
            publish(topic, events[i % 1000])
    conn.recv()  # keep the socket open until the subscriber is done
    pub.close()
    ctx.term()


def _trade(i: int) -> Any:
    from jtrader.domain import InstrumentId, Side, Trade, Venue

    return Trade(
        InstrumentId("BTCUSDT", Venue.BINANCE_USDM), 6_000_000 + i, 3, Side.BUY, f"{i}", 10**18 + i, 10**18 + i
    )


# -- near side ------------------------------------------------------------------------------


def _spawn(target: Any, *args: Any) -> tuple[mp.process.BaseProcess, Connection, str]:
    ctx = mp.get_context("spawn")
    near, far = ctx.Pipe()
    proc = ctx.Process(target=target, args=(args[0], far, *args[1:]), daemon=True)
    proc.start()
    deadline = time.monotonic() + _TIMEOUT_S
    while not near.poll(0.05):
        if not proc.is_alive() or time.monotonic() > deadline:
            proc.terminate()
            proc.join(5)
            raise RuntimeError(f"{target.__name__} did not start (exit code {proc.exitcode})")
    return proc, near, near.recv()


def _finish(proc: mp.process.BaseProcess) -> None:
    proc.join(5)
    if proc.is_alive():
        proc.terminate()
        proc.join(5)


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    samples = sorted(samples_ns)
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def raw_round_trip(tmp: Path, trips: int = 3000, warmup: int = 500) -> tuple[float, float]:
    """The raw pyzmq DEALER/ROUTER round trip over ipc in ``tmp``: (p50, p99) in µs, the desks' baseline."""
    raw = _RawDriver(f"ipc://{tmp}/raw.sock")
    samples = []
    for i in range(trips):
        t0 = time.perf_counter_ns()
        raw.trip(i)
        samples.append(time.perf_counter_ns() - t0)
    raw.close()
    return _percentiles(samples[warmup:])


class _RawDriver:
    """A raw pyzmq DEALER against the raw echo process: ``trip()`` is one round trip of 100-byte frames."""

    def __init__(self, endpoint: str) -> None:
        self.proc, _conn, bound = _spawn(_raw_echo, endpoint)
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(bound)
        self.frames = [b"submit", b"\x01", RAW_PAYLOAD]

    def trip(self, _i: int) -> None:
        self.sock.send_multipart(self.frames)
        self.sock.recv_multipart()

    def close(self) -> None:
        self.sock.send_multipart([b"stop", b"stop"])
        self.sock.close()
        self.ctx.term()
        _finish(self.proc)


class _BusDriver:
    """A CommandClient against the CommandServer echo process: SubmitOrder out, ExecutionReport back."""

    def __init__(self, endpoint: str, keys: Path | None) -> None:
        from jtrader.bus.auth import ClientCurve
        from jtrader.bus.messages import SubmitOrder
        from jtrader.bus.transport import CommandClient
        from jtrader.domain import InstrumentId, OrderType, Side, Venue

        self.proc, _conn, bound = _spawn(_bus_echo, endpoint, str(keys) if keys else None)
        self.ctx = zmq.Context()
        curve = ClientCurve(keys / "client.key_secret", keys / "server.key") if keys else None
        self.client = CommandClient(self.ctx, bound, name="bench.client", curve=curve, allow_insecure=curve is None)
        instrument = InstrumentId("BTCUSDT", Venue.BINANCE_USDM)
        self.orders = [
            SubmitOrder(
                client_order_id=f"c-{i}",
                instrument_id=instrument,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                quantity_lots=1 + i % 7,
                price_ticks=6_000_000 + i,
                strategy_id="bench",
            )
            for i in range(1000)
        ]
        if not self.client.send(self.orders[0], timeout_ms=_TIMEOUT_S * 1000) or not self.client.recv(
            _TIMEOUT_S * 1000
        ):
            raise RuntimeError(f"no answer from the bus echo server at {bound}")

    def trip(self, i: int) -> None:
        self.client.send(self.orders[i % 1000], timeout_ms=None)
        self.client.recv(None)

    def close(self) -> None:
        from jtrader.bus.messages import ControlRequest

        self.client.send(ControlRequest(command="stop"))
        self.client.close()
        self.ctx.term()
        _finish(self.proc)


def _interleaved_rtt(drivers: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Round trips in alternating blocks, so load from other processes hits every variant alike."""
    samples: dict[str, list[int]] = {name: [] for name in drivers}
    clock = time.perf_counter_ns
    for driver in drivers.values():
        for i in range(WARMUP_TRIPS):
            driver.trip(i)
    for _block in range(ROUND_TRIPS // BLOCK):
        for name, driver in drivers.items():
            out = samples[name]
            trip = driver.trip
            for i in range(BLOCK):
                started = clock()
                trip(i)
                out.append(clock() - started)
    return {name: _percentiles(values) for name, values in samples.items()}


def _throughput(endpoint: str, raw: bool) -> tuple[float, int]:
    from jtrader.bus.messages import MarketData
    from jtrader.bus.transport import Subscriber

    ctx = zmq.Context()
    sub = Subscriber(ctx, endpoint, [b"md.", b"warmup"], MarketData, bind=True, name="bench.sub", hwm=0)
    proc, conn, _ = _spawn(_ready_then_publish, sub.endpoint, raw, PUBLISHED)
    deadline = time.monotonic() + _TIMEOUT_S
    while sub.recv(100) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("publisher never reached the subscriber")
    conn.send("go")
    received = 0
    started = None
    if raw:
        sock = sub.socket
        sock.rcvtimeo = 2000
        try:
            while received < PUBLISHED:
                frames = sock.recv_multipart()
                if frames[0] != b"warmup":
                    received += 1
                    if started is None:
                        started = time.perf_counter()
        except zmq.Again:
            pass
    else:
        recv = sub.recv
        while received < PUBLISHED:
            item = recv(2000)
            if item is None:
                break
            if item[0] != b"warmup":
                received += 1
                if started is None:
                    started = time.perf_counter()
    elapsed = time.perf_counter() - (started or time.perf_counter())
    conn.send("done")
    sub.close()
    ctx.term()
    _finish(proc)
    return (received - 1) / elapsed if elapsed > 0 else 0.0, received


def _ready_then_publish(endpoint: str, conn: Connection, raw: bool, count: int) -> None:
    conn.send(endpoint)
    _publisher(endpoint, conn, raw, count)


def run(settings: Settings, console: Console) -> list[dict]:
    from jtrader.bus.auth import keys_command

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="jtbus-") as tmp:
        keys = Path(tmp) / "keys"
        keys_command(keys, echo=lambda _line: None)
        for transport in ("ipc", "tcp"):
            drivers: dict[str, Any] = {
                "raw": _RawDriver(_endpoint(transport, tmp, "rtt-raw")),
                "bus": _BusDriver(_endpoint(transport, tmp, "rtt-bus"), None),
            }
            if transport == "tcp":
                drivers["curve"] = _BusDriver("tcp://127.0.0.1:*", keys)
            try:
                result = _interleaved_rtt(drivers)
            finally:
                for driver in drivers.values():
                    driver.close()
            raw, ours = result["raw"], result["bus"]
            console.print(
                f"  {transport} round trip: raw p50 {raw[0]:.0f} µs p99 {raw[1]:.0f} µs; "
                f"bus p50 {ours[0]:.0f} µs p99 {ours[1]:.0f} µs"
            )
            rows += _rtt_rows(f"bus.command_rtt.{transport}", ours, raw, f"raw pyzmq DEALER/ROUTER {transport}")
            if "curve" in result:
                curve = result["curve"]
                console.print(f"  tcp+CURVE round trip: bus p50 {curve[0]:.0f} µs p99 {curve[1]:.0f} µs")
                rows += _rtt_rows("bus.command_rtt.tcp_curve", curve, raw, "raw pyzmq DEALER/ROUTER tcp, no CURVE")
        for transport in ("ipc", "tcp"):
            runs = [
                _throughput(_endpoint(transport, tmp, f"md-{kind}{i}"), raw=kind == "raw")
                for i in range(THROUGHPUT_RUNS)
                for kind in ("raw", "bus")
            ]
            (raw_rate, raw_n), (ours_rate, ours_n) = max(runs[0::2]), max(runs[1::2])  # best of alternating runs
            console.print(
                f"  {transport} pub/sub: raw {raw_rate:,.0f} msg/s ({raw_n:,} received); "
                f"bus {ours_rate:,.0f} msg/s ({ours_n:,} received) of {PUBLISHED:,}"
            )
            rows.append(
                {
                    "name": f"bus.pubsub_throughput.{transport}",
                    "value": ours_rate,
                    "unit": "msgs/s",
                    "baseline": f"raw pyzmq PUB/SUB {transport}, same-size bytes",
                    "baseline_value": raw_rate,
                }
            )
    return rows


def _endpoint(transport: str, tmp: str, name: str) -> str:
    return f"ipc://{tmp}/{name}.sock" if transport == "ipc" else "tcp://127.0.0.1:*"


def _rtt_rows(name: str, ours: tuple[float, float], raw: tuple[float, float], baseline: str) -> list[dict]:
    return [
        {
            "name": f"{name}.p50",
            "value": ours[0],
            "unit": "µs",
            "baseline": f"{baseline} p50",
            "baseline_value": raw[0],
        },
        {
            "name": f"{name}.p99",
            "value": ours[1],
            "unit": "µs",
            "baseline": f"{baseline} p99",
            "baseline_value": raw[1],
        },
    ]
