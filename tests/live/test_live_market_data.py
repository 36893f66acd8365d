"""Live mode's market-data node: the venue's WebSocket feed reaches the bus as domain events, in order.

The venue is a loopback WebSocket server replaying the real USD-M capture in
``../shared/data`` (trades and best bid/offer frames); a bus subscriber stands
where the strategy host and the OMS listen.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq

from jtrader.bus.messages import MarketData, md_topic
from jtrader.bus.transport import Subscriber
from jtrader.config import load_settings
from jtrader.domain import InstrumentRegistry, Quote, Trade, Venue
from jtrader.gateways.binance.data import BinanceFeed
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.binance.parsing import BinanceCaptureParser, iter_capture
from jtrader.gateways.stream import Backoff, StreamingMarketDataClient
from jtrader.live.config import RunConfigError, parse_run_config
from jtrader.live.market_data import LiveMarketDataNode
from tests.gateways.replay import ReplayServer

pytestmark = pytest.mark.timeout(60)

REGISTRY = InstrumentRegistry(binance_instruments())
FRAMES = 3000


def _config(tmp_path: Path, instruments: list[str]) -> Any:
    return parse_run_config(
        {
            "run": {"mode": "live", "run_dir": str(tmp_path / "run"), "transport": "ipc"},
            "live": {"venue": "binance_usdm"},
            "strategies": [{"id": "q", "instruments": instruments}],
        }
    )


def _trade_and_quote_frames(sample_data_dir: Path) -> tuple[list[bytes], list[Any]]:
    """The capture's trade and bookTicker frames, and the events the venue's parser makes of them."""
    parser = BinanceCaptureParser(REGISTRY, Venue.BINANCE_USDM, symbol="BTCUSDT")
    frames, events = [], []
    lines = iter_capture(sample_data_dir / "binance" / "usdm" / "btcusdt_20240808.gz")
    for _, line in itertools.islice(lines, 20_000):
        _, _, body = line.partition(b" ")
        if b"@trade" in body[:40] or b"@bookTicker" in body[:40]:
            frames.append(body)
            events += [e for e in parser.parse_line(line) if isinstance(e, (Trade, Quote))]
        if len(frames) == FRAMES:
            break
    return frames, events


def _without_recv_time(event: Any) -> tuple[Any, ...]:
    fields = msgspec.structs.asdict(event)
    fields.pop("ts_recv")  # the capture's receive time there, this test's here
    return type(event), tuple(fields.items())


def test_live_market_data_publishes_the_venue_feed_on_the_bus_in_order(tmp_path: Path, sample_data_dir: Path) -> None:
    frames, expected = _trade_and_quote_frames(sample_data_dir)
    config = _config(tmp_path, ["BTCUSDT.binance_usdm"])
    settings = load_settings(env={}, toml_path=None, root=tmp_path)
    (tmp_path / "run").mkdir()
    ctx: zmq.Context[Any] = zmq.Context()
    received: list[tuple[bytes, Any]] = []
    with ReplayServer(frames) as server:
        feed = BinanceFeed(REGISTRY, Venue.BINANCE_USDM, ["BTCUSDT"], channels=("trade", "bookTicker"))
        client = StreamingMarketDataClient(feed, url=server.url, backoff=Backoff(base=0.01, cap=0.05))
        node = LiveMarketDataNode(config, settings, context=ctx, client=client)
        publisher = node.bind()
        sub = Subscriber(ctx, config.endpoints(tmp_path).venue_market_data, [b"md."], MarketData, name="test-md")
        probe = expected[0]
        while sub.recv(20) is None:  # the subscription has reached the publisher once a probe gets through
            publisher.publish(b"md.probe", probe)
        while sub.recv(50) is not None:
            pass
        node.start()
        deadline = time.monotonic() + 30
        while len(received) < len(expected) and time.monotonic() < deadline:
            received += sub.recv_batch(1000)
            time.sleep(0.005)
        node.close()
        sub.close()
    ctx.term()

    assert len(received) == len(expected)
    assert [_without_recv_time(event) for _, event in received] == [_without_recv_time(e) for e in expected]
    instrument = REGISTRY.find("BTCUSDT", "binance_usdm").id
    assert {topic for topic, _ in received} == {md_topic(instrument, "trade"), md_topic(instrument, "quote")}
    assert node.published["trade"] + node.published["quote"] == len(expected)


def test_live_market_data_without_an_instrument_on_the_live_venue_says_what_to_list(tmp_path: Path) -> None:
    config = _config(tmp_path, ["BTCUSDT.binance"])  # spot, while the live venue is USD-M
    with pytest.raises(RunConfigError, match=r"no strategy trades .* on binance_usdm.*BTCUSDT\.binance_usdm"):
        LiveMarketDataNode(config, load_settings(env={}, toml_path=None, root=tmp_path))


def test_a_broken_book_is_published_so_strategies_are_told_and_see_no_book_until_rebuilt(tmp_path: Path) -> None:
    from jtrader.domain import BookDelta, BookSnapshot, BookStatus
    from jtrader.live.strategy_host import LiveContext, StrategyHost
    from jtrader.strategies.base import Strategy

    btc = REGISTRY.find("BTCUSDT", "binance_usdm").id
    config = _config(tmp_path, [str(btc)])
    settings = load_settings(env={}, toml_path=None, root=tmp_path)
    (tmp_path / "run").mkdir()
    broken = BookStatus(btc, False, "sequence gap: pu 7 != u 5", 10, 11)
    rebuilt = BookStatus(btc, True, "snapshot applied", 20, 21)

    # the market-data node publishes the feed's BookStatus on the bus
    ctx: zmq.Context[Any] = zmq.Context()
    node = LiveMarketDataNode(config, settings, context=ctx, client=object())
    publisher = node.bind()
    sub = Subscriber(ctx, config.endpoints(tmp_path).venue_market_data, [b"md."], MarketData, name="test-md")
    while sub.recv(20) is None:
        publisher.publish(b"md.probe", broken)
    while sub.recv(50) is not None:
        pass
    node._on_data(broken)
    assert sub.recv(2000) == (md_topic(btc, "book_status"), broken)
    assert node.book_invalid == 1
    sub.close()
    node.publisher.close()
    ctx.term()

    # the strategy host tells the strategy and withholds the stale book until a snapshot rebuilds it
    class Watcher(Strategy):
        def __init__(self) -> None:
            super().__init__("w", [btc])
            self.statuses: list[tuple[bool, bool]] = []  # (valid, book visible when told)

        def on_book_status(self, ctx, status) -> None:
            self.statuses.append((status.valid, ctx.book(btc) is not None))

    watcher = Watcher()
    host = StrategyHost(config, settings, strategies=[watcher])
    host.contexts = {"w": LiveContext(host, watcher)}
    host._dispatch_market_data(BookSnapshot(btc, [(100, 1)], [(101, 1)], 1, 1, 1))
    host._dispatch_market_data(broken)
    host._dispatch_market_data(BookDelta(btc, [(99, 5)], [], 2, 2, 1, 12, 12))  # arrives before the resync
    assert host.contexts["w"].book(btc) is None
    host._dispatch_market_data(BookSnapshot(btc, [(98, 2)], [(102, 2)], 15, 15, 3))
    host._dispatch_market_data(rebuilt)

    assert watcher.statuses == [(False, False), (True, True)]
    book = host.contexts["w"].book(btc)
    assert book is not None and book.best_bid() == (98, 2) and book.best_ask() == (102, 2)
