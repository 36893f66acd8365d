"""The interface every venue adapter implements (simulated, Binance, BitMEX, Huobi).

The OMS speaks to a venue only through :class:`ExecutionClient`: it sends
:data:`~jtrader.bus.messages.VenueCommand` structs and receives
:data:`~jtrader.bus.messages.VenueEvent` structs through the callback given to
``connect``. Market data arrives through :class:`MarketDataClient` as domain
events. Adapters normalise to these types at the edge, never block the
caller, reconnect by themselves and treat published data as immutable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from jtrader.bus.messages import MarketData, VenueCommand, VenueEvent
from jtrader.domain import InstrumentId, Venue

__all__ = ["ExecutionClient", "MarketDataClient", "VenueEventHandler", "MarketDataHandler"]

VenueEventHandler = Callable[[VenueEvent], None]
MarketDataHandler = Callable[[MarketData], None]


@runtime_checkable
class ExecutionClient(Protocol):
    """Order entry on one venue. Must: connect, send, close. Events come back via the handler."""

    venue: Venue

    def connect(self, on_event: VenueEventHandler) -> None:
        """Start the session; venue events are delivered to ``on_event`` from then on."""
        ...

    def send(self, command: VenueCommand) -> None:
        """Queue ``command`` for the venue without blocking; outcomes arrive as events.

        Submitting an already-known ``client_order_id`` again must not create a
        second order (venues dedupe by client order id; adapters must too).
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class MarketDataClient(Protocol):
    """Public market data on one venue, normalised to domain events."""

    venue: Venue

    def subscribe(self, instruments: Sequence[InstrumentId], on_data: MarketDataHandler) -> None: ...

    def close(self) -> None: ...
