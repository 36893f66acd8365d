"""Shared builders for the bus tests: domain events, commands, contexts, warm-up helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import zmq
from prometheus_client import CollectorRegistry

from jtrader.bus.messages import ExecutionReport, PositionUpdate, SubmitOrder
from jtrader.domain import (
    Bar,
    BookDelta,
    BookSnapshot,
    InstrumentId,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    Trade,
    Venue,
)

BTC = InstrumentId("BTCUSDT", Venue.BINANCE_USDM)
ETH = InstrumentId("ETHUSDT", Venue.BINANCE_USDM)
TRANSPORTS = ("inproc", "ipc", "tcp")


def endpoint(transport: str, tmp_path: Path, name: str = "bus") -> str:
    """A fresh endpoint to bind: inproc name, ipc socket under tmp_path, tcp loopback with a random port."""
    if transport == "inproc":
        return f"inproc://{name}-{time.monotonic_ns()}"
    if transport == "ipc":
        return f"ipc://{tmp_path / (name + '.sock')}"
    return "tcp://127.0.0.1:*"


def trade(i: int = 1, instrument: InstrumentId = BTC) -> Trade:
    return Trade(
        instrument, 6_000_000 + i, 3, Side.BUY, f"t{i}", 1_700_000_000_000_000_000 + i, 1_700_000_000_000_100_000 + i
    )


def quote(instrument: InstrumentId = BTC) -> Quote:
    return Quote(instrument, 100, 5, 101, 7, 1, 2, update_id=9)


def market_events(instrument: InstrumentId = BTC) -> list[tuple[str, Any]]:
    return [
        ("trade", trade(1, instrument)),
        ("quote", quote(instrument)),
        ("book_delta", BookDelta(instrument, [(100, 0), (99, 4)], [(102, 1)], 10, 12, 9, 5, 6)),
        ("book_snapshot", BookSnapshot(instrument, [(100, 5), (99, 2)], [(101, 1), (105, 9)], 8, 3, 4)),
        ("bar", Bar(instrument, 100, 110, 95, 105, 12.5, 1300.25, 42, 60_000_000_000, 60_000_000_000, 60_000_000_001)),
    ]


def submit(cid: str = "c-1", strategy: str = "s1", qty: int = 2) -> SubmitOrder:
    return SubmitOrder(
        client_order_id=cid,
        instrument_id=BTC,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity_lots=qty,
        price_ticks=6_000_000,
        strategy_id=strategy,
    )


def ack(order: SubmitOrder) -> ExecutionReport:
    return ExecutionReport(
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        status=OrderStatus.ACKED,
        filled_lots=0,
        leaves_lots=order.quantity_lots,
        strategy_id=order.strategy_id,
    )


def position() -> PositionUpdate:
    return PositionUpdate(
        instrument_id=BTC,
        account_id="acc",
        net_lots=3,
        avg_entry=Decimal("60000.1"),
        realised_pnl=Decimal("-1.5"),
        unrealised_pnl=Decimal("2.25"),
        fees=Decimal("0.01"),
    )


def counter(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """The value of a bus counter sample (0 if never incremented)."""
    return registry.get_sample_value(f"jtrader_bus_{name}_total", labels) or 0.0


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, step: float = 0.005) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def warm_up(publish: Callable[[], None], receive: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Publish until the subscriber sees one message (subscriptions propagate asynchronously)."""

    def step() -> Any:
        publish()
        return receive()

    return wait_until(step, timeout)


def term_or_fail(ctx: zmq.Context[Any], timeout: float = 5.0) -> None:
    """Terminate ``ctx``; fail (instead of hanging) if a socket was left open."""
    done = threading.Event()

    def run() -> None:
        ctx.term()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    if not done.wait(timeout):
        raise AssertionError("zmq.Context.term() hung: a socket was left open")


@contextmanager
def context() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        yield ctx
    finally:
        term_or_fail(ctx)
