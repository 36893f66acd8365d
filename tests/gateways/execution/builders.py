"""Shared builders of the live order-entry tests: venue emulators on loopback, clients pointed at them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jtrader.bus.messages import VenueCancel, VenueSubmit
from jtrader.domain import InstrumentId, OrderType, Side, TimeInForce, Venue
from jtrader.gateways.ccxt_execution import CcxtExecutionClient, live_execution_client
from jtrader.gateways.credentials import ApiCredentials
from jtrader.gateways.instruments import default_registry
from tests.gateways.execution.emulators import KEY, SECRET, BinanceEmulator, HtxEmulator

SPOT_BTC = InstrumentId("BTCUSDT", Venue.BINANCE)  # tick 0.01, size increment 0.00000001 (lot step 0.00001)
USDM_BTC = InstrumentId("BTCUSDT", Venue.BINANCE_USDM)  # tick 0.10, lot 0.001
HTX_BTC = InstrumentId("btcusdt", Venue.HUOBI)  # tick 0.01, lot 0.000001


class Session:
    """A client connected to an emulator, with the events it delivered (in delivery order)."""

    def __init__(self, client: CcxtExecutionClient) -> None:
        self.client = client
        self.events: list[Any] = []
        client.connect(self.events.append)

    def send(self, command: Any) -> None:
        self.client.send(command)

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; events so far: {self.events}")
            self.client.wait(20)
        return self.events

    def wait_idle(self, seconds: float = 0.3) -> None:
        """Let the worker finish what is queued and poll the venue a few times."""
        deadline = time.monotonic() + 5.0
        while self.client.pending and time.monotonic() < deadline:
            self.client.wait(20)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.client.wait(20)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def make_client(venue: Venue, url: str, **options: Any) -> CcxtExecutionClient:
    settings: dict[str, Any] = dict(
        base_url=url, poll_interval=0.05, timeout=1.0, rate_limit_ms=1, backoff_base=0.05, backoff_cap=0.5
    )
    settings |= options
    return live_execution_client(venue, default_registry(), ApiCredentials(venue, KEY, SECRET, "test"), **settings)


@pytest.fixture
def spot() -> Iterator[BinanceEmulator]:
    emulator = BinanceEmulator("spot")
    yield emulator
    emulator.close()


@pytest.fixture
def usdm() -> Iterator[BinanceEmulator]:
    emulator = BinanceEmulator("usdm")
    yield emulator
    emulator.close()


@pytest.fixture
def htx() -> Iterator[HtxEmulator]:
    emulator = HtxEmulator()
    yield emulator
    emulator.close()


@pytest.fixture
def session_factory() -> Iterator[Callable[..., Session]]:
    sessions: list[Session] = []

    def build(venue: Venue, url: str, **options: Any) -> Session:
        session = Session(make_client(venue, url, **options))
        sessions.append(session)
        return session

    yield build
    for session in sessions:
        session.client.close()


def submit(
    cid: str,
    instrument: InstrumentId,
    lots: int,
    price: int | None,
    side: Side = Side.BUY,
    kind: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
) -> VenueSubmit:
    return VenueSubmit(
        client_order_id=cid,
        instrument_id=instrument,
        side=side,
        order_type=kind,
        quantity_lots=lots,
        price_ticks=price,
        time_in_force=tif,
    )


def cancel(cid: str, instrument: InstrumentId) -> VenueCancel:
    return VenueCancel(client_order_id=cid, instrument_id=instrument)
