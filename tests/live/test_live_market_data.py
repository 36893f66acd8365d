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
