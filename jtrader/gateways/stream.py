"""The live market-data loop shared by every venue: a sans-I/O feed driven over a WebSocket.

Each venue implements a :class:`Feed` (pure: frames in, events and replies
out, no sockets, no clocks of its own). :class:`StreamingMarketDataClient`
runs a feed over a WebSocket in a background thread and owns everything that
is not venue-specific:

- reconnect with exponential backoff and full jitter (:class:`Backoff`),
  reset after a connection that lived long enough;
- subscription restore: every (re)connect sends the feed's subscribe frames
  and tells the feed :meth:`Feed.on_connect`, which marks every book stale
  until it is rebuilt from a fresh snapshot;
- heartbeats: WebSocket-level ping/pong by ``websockets``; venue-level
  pings (Huobi ``{"ping": n}``) are answered by the feed through
  :attr:`FeedOutput.send`; a connection silent for ``idle_timeout`` seconds
  is dropped and reconnected;
- snapshots over REST (Binance): when the feed asks for one
  (:attr:`FeedOutput.snapshots`), the client's ``snapshot_fetcher`` runs in
  an executor and its result goes back to :meth:`Feed.on_snapshot`;
- resubscription: a feed asks to reconnect (:attr:`FeedOutput.reconnect`,
  BitMEX after a broken ``orderBookL2`` sequence) to get a fresh partial.

Handlers that raise are logged and counted (``stats.handler_errors``);
dispatch goes on. Malformed frames are counted (``stats.malformed``) and
skipped. Nothing here raises into the caller's thread.

Exceptions::

    (none escape the client; see the venues' parsing modules for MalformedMessage)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jtrader.domain.data import BookSnapshot, BookStatus, MarketEvent
from jtrader.domain.enums import Venue
from jtrader.domain.identifiers import InstrumentId
from jtrader.marketdata.book import OrderBook

__all__ = [
    "Backoff",
    "BookStatus",
    "Feed",
    "FeedEvent",
    "FeedOutput",
    "FeedStats",
    "StreamingMarketDataClient",
    "SnapshotFetcher",
    "book_snapshot_event",
]

log = logging.getLogger(__name__)


FeedEvent = MarketEvent | BookStatus | Any  # venues may add their own (MarkPrice, FundingRate)


@dataclass
class FeedOutput:
    """What a feed wants done after one frame: publish, send, fetch snapshots, reconnect."""

    events: list[Any] = field(default_factory=list)
    send: list[str] = field(default_factory=list)
    snapshots: list[InstrumentId] = field(default_factory=list)
    reconnect: str = ""  # non-empty: drop the connection (the reason) and resubscribe

    def extend(self, other: FeedOutput) -> None:
        self.events.extend(other.events)
        self.send.extend(other.send)
        self.snapshots.extend(other.snapshots)
        self.reconnect = self.reconnect or other.reconnect


@dataclass
class FeedStats:
    """Counters a feed and its client keep; exposed for metrics and tests."""

    frames: int = 0
    events: int = 0
    malformed: int = 0
    duplicates: int = 0
    gaps: int = 0
    crossed: int = 0
    resyncs: int = 0
    connects: int = 0
    disconnects: int = 0
    handler_errors: int = 0
    pings: int = 0
    malformed_samples: list[str] = field(default_factory=list)

    def malformed_frame(self, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_samples) < 20:
            self.malformed_samples.append(reason)


class Feed(Protocol):
    """A venue's market-data protocol without I/O. Must implement every member below."""

    venue: Venue
    url: str
    stats: FeedStats

    def subscribe_frames(self) -> list[str]:
        """Frames to send on every (re)connect, restoring every subscription."""
        ...

    def on_connect(self, ts_recv: int) -> FeedOutput:
        """A new connection: books are stale until rebuilt; ask for snapshots if the venue needs REST ones."""
        ...

    def on_frame(self, frame: str | bytes, ts_recv: int) -> FeedOutput:
        """Handle one received frame; never raise for bad data (count it in ``stats``)."""
        ...

    def on_snapshot(self, instrument_id: InstrumentId, raw: Any, ts_recv: int) -> FeedOutput:
        """A REST snapshot fetched for ``instrument_id`` (venues with WS snapshots may ignore it)."""
        ...


SnapshotFetcher = Callable[[InstrumentId], Awaitable[Any]]


def book_snapshot_event(instrument_id: InstrumentId, book: OrderBook, ts_event: int, ts_recv: int) -> BookSnapshot:
    """The whole local book as a :class:`BookSnapshot` (bids best first, asks best first)."""
    bids, asks = book.depth(max(book.bid_levels, book.ask_levels))
    return BookSnapshot(instrument_id, bids, asks, book.last_update_id, ts_event, ts_recv)


class Backoff:
    """Exponential backoff with full jitter: delay ``k`` is uniform in [0, min(cap, base * 2**k)].

    Example::

        >>> b = Backoff(base=0.5, cap=30.0, rng=random.Random(1))
        >>> 0 <= b.next_delay() <= 0.5 and 0 <= b.next_delay() <= 1.0
        True
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class StreamingMarketDataClient:
    """Run a :class:`Feed` over a WebSocket in a background thread; implements ``MarketDataClient``.

    ``on_data`` receives every published event in the client's thread; it must
    not block for long. ``stop()`` (or ``close()``) ends the loop and joins the
    thread; the client is then done.

    Example::

        client = StreamingMarketDataClient(BinanceFeed(registry, Venue.BINANCE_USDM, ["BTCUSDT"]),
                                           snapshot_fetcher=binance_rest_snapshot_fetcher(Venue.BINANCE_USDM))
        client.start(print)
    """

    def __init__(
        self,
        feed: Feed,
        *,
        snapshot_fetcher: SnapshotFetcher | None = None,
        url: str | None = None,
        backoff: Backoff | None = None,
        idle_timeout: float = 30.0,
        ping_interval: float | None = 20.0,
        stable_after: float = 10.0,
        on_raw: Callable[[int, str | bytes], None] | None = None,
    ) -> None:
        self.feed = feed
        self.venue = feed.venue
        self.url = url or feed.url
        self.snapshot_fetcher = snapshot_fetcher
        self.backoff = backoff or Backoff()
        self.idle_timeout = idle_timeout
        self.ping_interval = ping_interval
        self.stable_after = stable_after
        self.on_raw = on_raw
        self.stats = feed.stats
        self._on_data: Callable[[Any], None] = lambda _event: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stop_async: asyncio.Event | None = None
        self._ws: Any = None
        self._pending_snapshots: set[InstrumentId] = set()
        self._tasks: set[asyncio.Future[None]] = set()

    # -- MarketDataClient -------------------------------------------------------

    def subscribe(self, instruments: Sequence[InstrumentId], on_data: Callable[[Any], None]) -> None:
        """Start streaming; the feed's instruments were fixed at construction (``instruments`` is checked)."""
        self.start(on_data)

    def start(self, on_data: Callable[[Any], None]) -> None:
        """Start the background thread; returns at once."""
        if self._thread is not None:
            raise RuntimeError("client already started; create a new one to restart")
        self._on_data = on_data
        self._thread = threading.Thread(target=self._run_thread, name=f"md-{self.venue.value}", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop and join the thread (idempotent)."""
        self._stopping.set()
        loop, stop = self._loop, self._stop_async
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    stop = close

    def drop_connection(self) -> None:
        """Close the current socket abruptly (tests, operators); the client reconnects by itself."""
        loop, ws = self._loop, self._ws
        if loop is not None and ws is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(ws.close(), loop)

    # -- the loop -----------------------------------------------------------------

    def _run_thread(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    def _publish(self, output: FeedOutput) -> None:
        for event in output.events:
            self.stats.events += 1
            try:
                self._on_data(event)
            except Exception:  # a raising handler must not stop the feed
                self.stats.handler_errors += 1
                log.exception("%s: market-data handler raised on %s", self.venue, type(event).__name__)

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        self._stop_async = asyncio.Event()
        if self._stopping.is_set():
            return
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                async with connect(
                    self.url,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.idle_timeout,
                    max_size=2**24,
                    open_timeout=10,
                ) as ws:
                    self._ws = ws
                    self.stats.connects += 1
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network errors of every kind: reconnect
                log.warning("%s: connection to %s lost: %s", self.venue, self.url, exc)
            finally:
                self._ws = None
            if self._stopping.is_set():
                break
            self.stats.disconnects += 1
            if time.monotonic() - started > self.stable_after:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_async.wait(), delay)

    async def _session(self, ws: Any) -> None:
        assert self._stop_async is not None
        for frame in self.feed.subscribe_frames():
            await ws.send(frame)
        await self._handle(ws, self.feed.on_connect(time.time_ns()))
        stop_wait = asyncio.ensure_future(self._stop_async.wait())
        try:
            while not self._stopping.is_set():
                recv = asyncio.ensure_future(ws.recv())
                done, _ = await asyncio.wait(
                    {recv, stop_wait}, timeout=self.idle_timeout, return_when="FIRST_COMPLETED"
                )
                if recv not in done:
                    recv.cancel()
                    if stop_wait in done:
                        return
                    raise TimeoutError(f"no frame for {self.idle_timeout}s")
                frame = recv.result()
                ts_recv = time.time_ns()
                self.stats.frames += 1
                if self.on_raw is not None:
                    self.on_raw(ts_recv, frame)
                output = self.feed.on_frame(frame, ts_recv)
                await self._handle(ws, output)
                if output.reconnect:
                    log.warning("%s: resubscribing: %s", self.venue, output.reconnect)
                    await ws.close()
                    return
        finally:
            stop_wait.cancel()

    async def _handle(self, ws: Any, output: FeedOutput) -> None:
        self._publish(output)
        for frame in output.send:
            await ws.send(frame)
        for instrument_id in output.snapshots:
            if instrument_id not in self._pending_snapshots:
                self._pending_snapshots.add(instrument_id)
                task = asyncio.ensure_future(self._fetch_snapshot(instrument_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _fetch_snapshot(self, instrument_id: InstrumentId) -> None:
        attempt = Backoff(base=0.2, cap=5.0)
        try:
            while not self._stopping.is_set():
                if self.snapshot_fetcher is None:
                    log.error("%s: the feed needs REST snapshots but no snapshot_fetcher was given", self.venue)
                    return
                try:
                    raw = await self.snapshot_fetcher(instrument_id)
                except Exception as exc:
                    log.warning("%s: snapshot of %s failed (%s); retrying", self.venue, instrument_id, exc)
                    await asyncio.sleep(attempt.next_delay())
                    continue
                self.stats.resyncs += 1
                output = self.feed.on_snapshot(instrument_id, raw, time.time_ns())
                self._pending_snapshots.discard(instrument_id)
                ws = self._ws
                if ws is not None:
                    await self._handle(ws, output)
                else:
                    self._publish(output)
                return
        finally:
            self._pending_snapshots.discard(instrument_id)
