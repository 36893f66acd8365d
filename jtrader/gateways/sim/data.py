"""The simulated venue's public market data, for any process: :class:`SimMarketDataClient`.

A :class:`~jtrader.bus.transport.Subscriber` on the venue's publisher
(topics ``md.sim.<symbol>.<kind>``) implementing
:class:`~jtrader.gateways.base.MarketDataClient`. Like every bus subscriber
it may miss what was published before its subscription reached the venue
(ZeroMQ's slow joiner) and whatever it falls ``hwm`` messages behind on; the
venue publishes a full ``BookSnapshot`` every few seconds to resynchronise
book deltas (``BookDelta.prev_update_id`` must equal the last ``update_id``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import zmq

from jtrader.bus.messages import MarketData, md_topic
from jtrader.bus.transport import Subscriber
from jtrader.domain import InstrumentId, Venue
from jtrader.gateways.base import MarketDataHandler

__all__ = ["SimMarketDataClient"]

log = logging.getLogger("jtrader.gateways.sim")


class SimMarketDataClient:
    """Trades, quotes and book updates of simulated instruments, delivered by :meth:`poll`.

    Example::

        md = SimMarketDataClient(ctx, "ipc:///run/venue-md.sock")
        md.subscribe([InstrumentId.parse("BTCUSDT.sim")], on_data)
        poller.register(md)      # a bus Poller: it watches md.socket
        md.poll()
    """

    venue: Venue = Venue.SIM

    def __init__(self, context: zmq.Context[Any], endpoint: str, *, name: str = "sim-md", metrics_registry: Any = None):
        self.channel = Subscriber(context, endpoint, [], MarketData, name=name, registry=metrics_registry)
        self.socket: zmq.Socket[Any] = self.channel.socket
        self.name = name
        self.counters: Counter[str] = Counter()
        self._handler: Any = None

    def subscribe(self, instruments: Sequence[InstrumentId], on_data: MarketDataHandler) -> None:
        """Receive every kind of data of ``instruments`` (simulated ones) through ``on_data`` (replaces the handler)."""
        for iid in instruments:
            if iid.venue is not Venue.SIM:
                raise ValueError(f"{iid} is not on the simulated venue; subscribe to {iid.symbol}.sim")
            self.channel.subscribe(md_topic(iid, ""))
        self._handler = on_data

    def poll(self, max_events: int = 1024) -> int:
        """Deliver up to ``max_events`` queued events to the handler without waiting; return how many."""
        handler = self._handler
        if handler is None:
            return 0
        batch = self.channel.recv_batch(max_events)
        for _, event in batch:
            try:
                handler(event)
            except Exception:
                self.counters["handler_errors"] += 1
                log.exception("%s: the data handler raised on %s; carrying on", self.name, type(event).__name__)
        return len(batch)

    def close(self) -> None:
        self.channel.close()
