"""Binance live feed on the real captures: replayed over loopback with gaps, duplicates, garbage and disconnects."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path

import msgspec
import pytest

from jtrader.domain import BookDelta, BookSnapshot, InstrumentRegistry, Quote, Trade, Venue
from jtrader.gateways.binance.book_sync import BinanceBookSync
from jtrader.gateways.binance.data import BinanceFeed
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.binance.parsing import BinanceCaptureParser, iter_capture
from jtrader.gateways.stream import Backoff, BookStatus, StreamingMarketDataClient
from tests.gateways.replay import ReplayServer

REGISTRY = InstrumentRegistry(binance_instruments())
USDM = REGISTRY.find("BTCUSDT", "binance_usdm")
SPOT = REGISTRY.find("BTCUSDT", "binance")


def _capture(sample_data_dir: Path, rel: str, limit: int) -> tuple[list[tuple[int, bytes]], bytes]:
    """(recv ns, JSON frame) stream lines, and the REST snapshot JSON, from the first ``limit`` lines."""
    frames, snapshot = [], b""
    for _, line in itertools.islice(iter_capture(sample_data_dir / "binance" / rel), limit):
        head, _, body = line.partition(b" ")
        if body.startswith(b'{"lastUpdateId"'):
            snapshot = body
        else:
            frames.append((int(head), body))
    return frames, snapshot


class Truth:
    """The venue's true book: the capture's snapshot plus every diff the venue published."""

    def __init__(self, instrument, futures: bool, frames, snapshot_json: bytes, snapshot_after: int) -> None:
        self.instrument = instrument
        self.sync = BinanceBookSync(instrument, futures)
        self.parser = BinanceCaptureParser(REGISTRY, instrument.id.venue, symbol=instrument.id.symbol)
        self.frames = frames
        self.snapshot_json = snapshot_json
        self.snapshot_after = snapshot_after
        self.lock = threading.Lock()

    def on_sent(self, index: int) -> None:
        ts, body = self.frames[index]
        for event in self.parser.parse_line(b"%d %s" % (ts, body)):
            if isinstance(event, BookDelta):
                self.sync.on_delta(event)
        if index == self.snapshot_after:
            (snap,) = self.parser.parse_line(b"1 " + self.snapshot_json)
            self.sync.on_snapshot(snap)

    def rest_json(self) -> bytes:
        if not self.sync.is_valid:
            return self.snapshot_json
        bids, asks = self.sync.book.depth(10_000)
        i = self.instrument
        return msgspec.json.encode(
            {
                "lastUpdateId": self.sync.last_update_id,
                "bids": [[str(i.ticks_to_price(p)), str(i.lots_to_size(q))] for p, q in bids],
                "asks": [[str(i.ticks_to_price(p)), str(i.lots_to_size(q))] for p, q in asks],
            }
        )


def _run_replay(frames, truth: Truth, venue: Venue, faults: dict[int, str]):
    published: list = []
    with ReplayServer([body for _, body in frames], faults, on_sent=truth.on_sent, skip_on_disconnect=40) as server:

        async def fetch(_instrument_id):
            await asyncio.sleep(0.005)
            with server.lock:
                return truth.rest_json()

        feed = BinanceFeed(REGISTRY, venue, ["BTCUSDT"], channels=("depth", "trade", "bookTicker"))
        client = StreamingMarketDataClient(
            feed, snapshot_fetcher=fetch, url=server.url, backoff=Backoff(base=0.01, cap=0.05), idle_timeout=5
        )
        client.start(published.append)
        try:
            deadline = time.monotonic() + 30
            book = feed.books[truth.instrument.id]
            while time.monotonic() < deadline:
                if server.done.is_set() and book.announced and book.sync.last_update_id == truth.sync.last_update_id:
                    break
                time.sleep(0.02)
        finally:
            client.close()
    return feed, client, published, server


def _assert_matches_truth(feed: BinanceFeed, truth: Truth, published: list) -> None:
    book = feed.books[truth.instrument.id]
    assert book.announced and book.sync.is_valid
    assert book.sync.last_update_id == truth.sync.last_update_id
    assert book.sync.book.depth(10_000) == truth.sync.book.depth(10_000)
    # what strategies saw: rebuilding from the published snapshots and deltas gives the same book
    from jtrader.marketdata.book import OrderBook

    mirror = OrderBook()
    for event in published:
        if isinstance(event, BookSnapshot):
            mirror.apply_snapshot(event.bids, event.asks, event.last_update_id)
        elif isinstance(event, BookDelta):
            mirror.apply_levels(event.bids, event.asks)
        if isinstance(event, (BookSnapshot, BookDelta)):
            assert not mirror.is_crossed(), "a crossed book was published"
    assert mirror.depth(10_000) == truth.sync.book.depth(10_000)


@pytest.mark.timeout(60)
def test_usdm_replay_with_gap_duplicate_garbage_and_disconnect_resyncs_to_the_truth(sample_data_dir: Path) -> None:
    frames, snapshot = _capture(sample_data_dir, "usdm/btcusdt_20240808.gz", 20000)
    depth_idx = [i for i, (_, b) in enumerate(frames) if b"depthUpdate" in b]
    truth = Truth(USDM, True, frames, snapshot, snapshot_after=53)
    faults = {depth_idx[100]: "drop", depth_idx[200]: "dup", 2500: "garbage", depth_idx[400]: "disconnect"}
    feed, client, published, server = _run_replay(frames, truth, Venue.BINANCE_USDM, faults)
    _assert_matches_truth(feed, truth, published)
    assert feed.stats.gaps >= 1  # the dropped diff
    assert client.stats.resyncs >= 3  # start, after the gap, after the reconnect
    assert feed.stats.duplicates >= 1
    assert feed.stats.malformed >= 2
    assert server.connections >= 2 and client.stats.connects >= 2
    statuses = [e for e in published if isinstance(e, BookStatus)]
    assert [s.valid for s in statuses][:2] == [True, False]  # synced, then told it went stale
    assert statuses[-1].valid
    assert any(not s.valid and s.reason.startswith("reconnected") for s in statuses)
    assert any(isinstance(e, Trade) for e in published) and any(isinstance(e, Quote) for e in published)


@pytest.mark.timeout(60)
def test_spot_replay_with_gap_resyncs_to_the_truth(sample_data_dir: Path) -> None:
    frames, snapshot = _capture(sample_data_dir, "spot/btcusdt_20240808.gz", 4000)
    depth_idx = [i for i, (_, b) in enumerate(frames) if b"depthUpdate" in b]
    truth = Truth(SPOT, False, frames, snapshot, snapshot_after=6)
    feed, _, published, _ = _run_replay(frames, truth, Venue.BINANCE, {depth_idx[100]: "drop"})
    _assert_matches_truth(feed, truth, published)
    assert feed.stats.gaps >= 1


def test_feed_on_the_whole_capture_publishes_every_diff_and_never_goes_stale(sample_data_dir: Path) -> None:
    feed = BinanceFeed(REGISTRY, Venue.BINANCE_USDM, ["BTCUSDT"])
    published = []
    for _, line in iter_capture(sample_data_dir / "binance/usdm/btcusdt_20240808.gz"):
        ts, _, body = line.partition(b" ")
        if body.startswith(b'{"lastUpdateId"'):
            out = feed.on_snapshot(USDM.id, body, int(ts))
        else:
            out = feed.on_frame(body, int(ts))
        published.extend(out.events)
    statuses = [e for e in published if isinstance(e, BookStatus)]
    assert [s.valid for s in statuses] == [True]
    assert feed.stats.gaps == feed.stats.malformed == feed.stats.crossed == 0
    assert sum(isinstance(e, BookDelta) for e in published) > 6_000


def test_crossed_book_is_never_published_and_triggers_a_resync() -> None:
    feed = BinanceFeed(REGISTRY, Venue.BINANCE_USDM, ["BTCUSDT"], channels=("depth",))
    feed.on_connect(1)
    out = feed.on_snapshot(USDM.id, b'{"lastUpdateId":10,"bids":[["100.0","1.000"]],"asks":[["101.0","1.000"]]}', 2)
    frame = (
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":3,"T":3,"s":"BTCUSDT",'
        b'"U":9,"u":11,"pu":8,"b":[],"a":[]}}'
    )
    out = feed.on_frame(frame, 3)
    assert [type(e).__name__ for e in out.events] == ["BookSnapshot", "BookStatus"]
    crossing = frame.replace(b'"U":9,"u":11,"pu":8,"b":[]', b'"U":12,"u":12,"pu":11,"b":[["102.0","1.000"]]')
    out = feed.on_frame(crossing, 4)
    assert not any(isinstance(e, BookDelta) for e in out.events)
    assert [(e.valid, e.reason) for e in out.events] == [(False, "crossed book")]
    assert out.snapshots == [USDM.id] and feed.stats.crossed == 1
