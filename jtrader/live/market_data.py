"""The live desk's market-data process: the venue's WebSocket feed, normalised, published on the bus.

In ``--mode live`` this node takes the place of the simulated venue: it runs
:class:`~jtrader.gateways.stream.StreamingMarketDataClient` over the feed of
``live.venue`` (its own reconnect, resubscribe and book resync) for every
instrument the configured strategies trade there, and publishes each domain
event on the venue market-data endpoint as ``md.<venue>.<symbol>.<kind>``,
where the strategy host and the OMS already listen.

Guarantees: a crossed book is never published (the feed withholds it); a
book that stops being trustworthy (a gap, a reconnect) is published as a
``BookStatus`` (strategies are told) and logged at WARNING with the feed's
reason, and again when it is rebuilt; a handler error is
counted and logged, never fatal. The feed runs in its own thread; the
publishing socket is only ever used from that thread.

Exceptions::

    RunConfigError   no strategy trades an instrument on the live venue
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import zmq

from jtrader.bus.messages import md_topic
from jtrader.bus.transport import Publisher
from jtrader.config import Settings
from jtrader.domain import Bar, BookDelta, BookSnapshot, BookStatus, InstrumentId, Quote, Trade
from jtrader.live.config import RunConfig, RunConfigError
from jtrader.live.venues import live_venue

__all__ = ["LiveMarketDataNode", "MD_KINDS"]

log = logging.getLogger("jtrader.marketdata")

# The topic kind of each published event type (the simulated venue uses the same names).
MD_KINDS: dict[type, str] = {
    Trade: "trade",
    Quote: "quote",
    BookDelta: "book_delta",
    BookSnapshot: "book_snapshot",
    Bar: "bar",
    BookStatus: "book_status",
}


class LiveMarketDataNode:
    """Build, :meth:`start`, then :meth:`run` until :meth:`stop`.

    ``client`` replaces the feed client built from the config (tests point one
    at a loopback WebSocket server); it needs ``start(on_data)`` and ``close()``.
    """

    def __init__(
        self,
        config: RunConfig,
        settings: Settings,
        *,
        context: zmq.Context[Any] | None = None,
        client: Any = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.venue = live_venue(config)
        self.symbols = sorted(
            {
                iid.symbol
                for section in config.strategies
                for iid in map(InstrumentId.parse, section.instruments)
                if iid.venue is self.venue
            }
        )
        if not self.symbols:
            raise RunConfigError(
                f"live market data: no strategy trades an instrument on {self.venue.value}; "
                f"list e.g. 'BTCUSDT.{self.venue.value}' in a strategy's instruments"
            )
        self.ctx = context or zmq.Context()
        self.client = client
        self.published: Counter[str] = Counter()
        self.book_invalid = 0
        self._stop = threading.Event()
        self.publisher: Publisher | None = None

    def bind(self) -> Publisher:
        """Bind the publishing socket (idempotent); :meth:`start` does it if needed."""
        if self.publisher is None:
            endpoint = self.config.endpoints(self.settings.root).venue_market_data
            self.publisher = Publisher(self.ctx, endpoint, name="live-md")
        return self.publisher

    def start(self) -> None:
        """Bind the publisher and start the feed (it connects and subscribes in the background)."""
        self.bind()
        if self.client is None:
            from jtrader.gateways.live import build_feed, snapshot_fetcher_for
            from jtrader.gateways.stream import StreamingMarketDataClient

            feed = build_feed(self.venue, self.symbols)
            self.client = StreamingMarketDataClient(
                feed, snapshot_fetcher=snapshot_fetcher_for(self.venue), url=self.config.live.ws_url or None
            )
        log.info("live market data: %s %s", self.venue.value, ", ".join(self.symbols))
        self.client.start(self._on_data)

    def _on_data(self, event: Any) -> None:
        kind = MD_KINDS.get(type(event))
        if kind is None:
            return  # venue extras (mark price, funding) are not bus market data yet
        if kind == "book_status":
            self._on_book_status(event)
        assert self.publisher is not None
        self.publisher.publish(md_topic(event.instrument_id, kind), event)
        self.published[kind] += 1

    def _on_book_status(self, status: Any) -> None:
        if status.valid:
            log.info("%s: book rebuilt (%s)", status.instrument_id, status.reason)
        else:
            self.book_invalid += 1
            log.warning("%s: book not trustworthy (%s); resyncing", status.instrument_id, status.reason)

    def run(self) -> None:
        """Wait until :meth:`stop`; then stop the feed and close the socket."""
        if self.publisher is None:
            self.start()
        try:
            while not self._stop.wait(0.5):  # a timed wait, so SIGTERM's handler runs promptly
                pass
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.publisher is not None:
            self.publisher.close()
            self.publisher = None
        log.info("live market data stopped: published %s", dict(self.published))
