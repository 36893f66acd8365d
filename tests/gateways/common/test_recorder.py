"""The recorder writes capture-format lines, rotating per hour, readable by iter_capture and the parser."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

from jtrader.domain import InstrumentRegistry, Venue
from jtrader.gateways.binance.data import BinanceFeed
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.binance.parsing import BinanceCaptureParser, iter_capture
from jtrader.gateways.recorder import HourlyCaptureWriter
from jtrader.gateways.stream import Backoff, StreamingMarketDataClient
from tests.gateways.replay import ReplayServer

HOUR = 3_600_000_000_000
TRADE = (
    '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT",'
    '"t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'
)


def test_frames_rotate_per_hour_and_read_back_as_captures(tmp_path: Path) -> None:
    writer = HourlyCaptureWriter(tmp_path, "binance_usdm", "btcusdt")
    t0 = 1723161255088176367
    writer.write(t0, TRADE)
    writer.write(t0 + 1, gzip.compress(TRADE.encode()))  # gzip frames (Huobi) are stored decompressed
    writer.write(t0 + HOUR, TRADE)
    writer.close()
    assert [p.name for p in writer.files] == ["btcusdt_20240808_23.gz", "btcusdt_20240809_00.gz"]
    parser = BinanceCaptureParser(InstrumentRegistry(binance_instruments()), Venue.BINANCE_USDM)
    lines = [line for f in writer.files for _, line in iter_capture(f)]
    assert len(lines) == 3 and all(parser.parse_line(line)[0].price_ticks == 618003 for line in lines)


def test_recording_a_live_gateway_over_loopback_keeps_every_frame(tmp_path: Path) -> None:
    writer = HourlyCaptureWriter(tmp_path, "binance_usdm", "btcusdt")
    with ReplayServer([TRADE] * 50) as server:
        feed = BinanceFeed(
            InstrumentRegistry(binance_instruments()), Venue.BINANCE_USDM, ["BTCUSDT"], channels=("trade",)
        )
        client = StreamingMarketDataClient(feed, url=server.url, backoff=Backoff(0.01, 0.05), on_raw=writer.write)
        client.start(lambda _e: None)
        deadline = time.monotonic() + 10
        while writer.lines < 50 and time.monotonic() < deadline:
            time.sleep(0.02)
        client.close()
    writer.close()
    assert writer.lines == 50
