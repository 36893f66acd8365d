"""Huobi WebSocket market data on the spot API doc examples; gzip, ping/pong and MBP resync over loopback.

Payload source: Huobi (HTX) spot API docs, https://huobiapi.github.io/docs/spot/v1/en/
sections "Market By Price (incremental update)", "Trade Detail", "Best Bid/Offer",
"Market Candlestick" and "Websocket Market Data: Heartbeat and Connection".
Reproduced from the page as documented (no venue endpoint is reachable here).
The doc examples print sizes with 18 decimals, so the test instrument's size
increment is 1e-18 (the real pairs' increments are in instruments.py).
"""

from __future__ import annotations

import gzip
import json
import random
import time

import pytest

from jtrader.domain import (
    Bar,
    BookDelta,
    Instrument,
    InstrumentId,
    InstrumentKind,
    InstrumentRegistry,
    Price,
    Quantity,
    Quote,
    Side,
    Trade,
    Venue,
)
from jtrader.gateways.huobi.data import HuobiFeed
from jtrader.gateways.huobi.instruments import huobi_instruments
from jtrader.gateways.stream import Backoff, BookStatus, StreamingMarketDataClient
from jtrader.marketdata.book import OrderBook
from tests.gateways.replay import ReplayServer

DOC_BTC = Instrument(
    InstrumentId("btcusdt", Venue.HUOBI), InstrumentKind.SPOT, "BTC", "USDT", "USDT", Price("0.01"),
    Quantity("0.000000000000000001"),
)  # fmt: skip
DOC_REGISTRY = InstrumentRegistry([DOC_BTC])
REGISTRY = InstrumentRegistry(huobi_instruments())
BTC = REGISTRY.find("btcusdt", "huobi")

# "Market By Price (incremental update)": request response and an update
DOC_MBP_REP = (
    '{"id":"id2","rep":"market.btcusdt.mbp.150","status":"ok","data":{"seqNum":100020142010,'
    '"bids":[[618.37,71.594],[423.33,77.726],[223.18,47.997],[219.34,24.82],[210.34,94.463]],'
    '"asks":[[650.59,14.909733438479636],[650.63,97.996],[650.77,97.465],[651.23,83.973],[651.42,34.465]]}}'
)
DOC_MBP_UPDATE = (
    '{"ch":"market.btcusdt.mbp.150","ts":1573199608679,"tick":{"seqNum":100020146795,'
    '"prevSeqNum":100020142010,"asks":[[645.140000000000000000,26.755973959140651643]]}}'
)
DOC_TRADE = (
    '{"ch":"market.btcusdt.trade.detail","ts":1630994963175,"tick":{"id":137005445109,"ts":1630994963173,'
    '"data":[{"id":137005445109359286410323766,"ts":1630994963173,"tradeId":102523573486,"amount":0.006754,'
    '"price":52648.62,"direction":"buy"}]}}'
)
DOC_BBO = (
    '{"ch":"market.btcusdt.bbo","ts":1630994555540,"tick":{"seqId":137005061538,"ask":52665.89,"askSize":0.178,'
    '"bid":52665.88,"bidSize":1.27,"quoteTime":1630994555539,"symbol":"btcusdt"}}'
)
DOC_KLINE = (
    '{"ch":"market.btcusdt.kline.1min","ts":1489474082831,"tick":{"id":1489464480,"amount":0.0,"count":0,'
    '"open":7962.62,"close":7962.62,"low":7962.62,"high":7962.62,"vol":0.0}}'
)
DOC_PING = '{"ping": 1492420473027}'


def test_doc_mbp_snapshot_then_update_builds_the_book_exactly() -> None:
    feed = HuobiFeed(DOC_REGISTRY, ["btcusdt"])
    out = feed.on_connect(1)
    assert json.loads(out.send[0]) == {"req": "market.btcusdt.mbp.150", "id": "snap-btcusdt-1"}
    assert feed.on_frame(gzip.compress(DOC_MBP_UPDATE.encode()), 2).events == []  # buffered
    events = feed.on_frame(gzip.compress(DOC_MBP_REP.encode()), 3).events
    assert [type(e).__name__ for e in events] == ["BookSnapshot", "BookStatus"]
    book = feed.books[DOC_BTC.id].book
    assert book.best_ask() == (64514, 26_755973959140651643)  # the buffered update applied after the snapshot
    assert book.best_bid() == (61837, 71_594000000000000000)
    assert feed.books[DOC_BTC.id].seq == 100020146795


def test_doc_trade_bbo_kline_and_ping_are_handled() -> None:
    feed = HuobiFeed(DOC_REGISTRY, ["btcusdt"], channels=("trade", "bbo", "kline"))
    (trade,) = feed.on_frame(gzip.compress(DOC_TRADE.encode()), 5).events
    assert isinstance(trade, Trade) and trade.aggressor is Side.BUY and trade.trade_id == "102523573486"
    assert (trade.price_ticks, trade.ts_event) == (5264862, 1630994963173000000)
    (quote,) = feed.on_frame(DOC_BBO, 6).events
    assert isinstance(quote, Quote) and (quote.bid_ticks, quote.ask_ticks) == (5266588, 5266589)
    assert feed.on_frame(DOC_KLINE, 7).events == []  # the bar is still open
    next_minute = DOC_KLINE.replace('"id":1489464480', '"id":1489464540')
    (bar,) = feed.on_frame(next_minute, 8).events
    assert isinstance(bar, Bar) and bar.ts_event == (1489464480 + 60) * 10**9 and bar.open_ticks == 796262
    out = feed.on_frame(gzip.compress(DOC_PING.encode()), 9)
    assert out.send == ['{"pong":1492420473027}'] and feed.stats.pings == 1


def test_mbp_gap_marks_stale_and_requests_a_new_snapshot() -> None:
    feed = HuobiFeed(DOC_REGISTRY, ["btcusdt"])
    feed.on_connect(1)
    feed.on_frame(DOC_MBP_REP, 2)
    out = feed.on_frame(DOC_MBP_UPDATE.replace("100020142010", "100020142000"), 3)
    assert [(e.valid, e.reason[:12]) for e in out.events] == [(False, "sequence gap")]
    assert json.loads(out.send[0])["req"] == "market.btcusdt.mbp.150" and feed.stats.gaps == 1


def test_numbers_in_exponent_notation_are_read_exactly_not_dropped() -> None:
    # Huobi sometimes prints small numbers as 6.4E-5 (met in trade data by crypto-chassis/ccapi, PR #98)
    feed = HuobiFeed(REGISTRY, ["btcusdt"], channels=("trade",))
    (trade,) = feed.on_frame(DOC_TRADE.replace('"amount":0.006754', '"amount":6.4E-5'), 5).events
    assert isinstance(trade, Trade) and trade.size_lots == 64  # lots of 0.000001
    book_feed = HuobiFeed(DOC_REGISTRY, ["btcusdt"])
    book_feed.on_connect(1)
    book_feed.on_frame(DOC_MBP_REP, 2)
    update = DOC_MBP_UPDATE.replace("26.755973959140651643", "2.6e-5")
    assert [type(e).__name__ for e in book_feed.on_frame(update, 3).events] == ["BookDelta"]  # applied, no gap
    assert book_feed.books[DOC_BTC.id].book.best_ask() == (64514, 26_000_000_000_000)
    assert feed.stats.malformed == book_feed.stats.malformed == book_feed.stats.gaps == 0


@pytest.mark.parametrize("frame", [b"\x1f\x8b\x08garbage", b"{not json", b'{"ch":"market.btcusdt.mbp.150","tick":{}}'])
def test_malformed_frames_are_counted(frame: bytes) -> None:
    feed = HuobiFeed(DOC_REGISTRY, ["btcusdt"])
    assert feed.on_frame(frame, 1).events == [] and feed.stats.malformed == 1


class Venue150:
    """A synthetic Huobi MBP venue: a random book walk, seqNum chain, snapshots on request."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.book = OrderBook()
        self.book.apply_snapshot(
            [(6_000_000 - i, 1_000_000) for i in range(1, 30)], [(6_000_000 + i, 10) for i in range(1, 30)]
        )
        self.truth = OrderBook()
        self.seq = 1000
        self.updates: list[tuple[int, int, list, list]] = []
        for _ in range(n):
            bids = [(6_000_000 - rng.randint(1, 40), rng.choice([0, rng.randint(1, 10**6)]))]
            asks = [(6_000_000 + rng.randint(1, 40), rng.choice([0, rng.randint(1, 10**6)]))]
            prev, self.seq = self.seq, self.seq + rng.randint(1, 3)
            self.updates.append((self.seq, prev, bids, asks))
        self.state = OrderBook()
        self.state.apply_snapshot(*self.book.depth(100))
        self.state_seq = 1000

    def frame(self, i: int) -> bytes:
        seq, prev, bids, asks = self.updates[i]
        fmt = lambda lv: [[f"{p / 100:.2f}", f"{q / 10**6:.6f}"] for p, q in lv]  # noqa: E731
        msg = {
            "ch": "market.btcusdt.mbp.150",
            "ts": 1,
            "tick": {"seqNum": seq, "prevSeqNum": prev, "bids": fmt(bids), "asks": fmt(asks)},
        }
        return gzip.compress(json.dumps(msg).encode())

    def on_sent(self, i: int) -> None:
        seq, _, bids, asks = self.updates[i]
        self.state.apply_levels(bids, asks)
        self.state_seq = seq

    def rep(self, request: dict) -> bytes:
        bids, asks = self.state.depth(1000)
        fmt = lambda lv: [[f"{p / 100:.2f}", f"{q / 10**6:.6f}"] for p, q in lv]  # noqa: E731
        msg = {
            "id": request["id"],
            "rep": request["req"],
            "status": "ok",
            "data": {"seqNum": self.state_seq, "bids": fmt(bids), "asks": fmt(asks)},
        }
        return gzip.compress(json.dumps(msg).encode())


@pytest.mark.timeout(30)
def test_loopback_gzip_ping_gap_and_disconnect_resync_to_the_venue_book() -> None:
    venue = Venue150(3000)
    frames = [venue.frame(i) for i in range(3000)]
    frames[50:50] = [gzip.compress(DOC_PING.encode())]
    indices = [*list(range(50)), -1, *list(range(50, 3000))]

    def on_sent(k: int) -> None:
        if indices[k] >= 0:
            venue.on_sent(indices[k])

    pongs = []

    def on_message(_ws, message):
        msg = json.loads(message)
        if "pong" in msg:
            pongs.append(msg["pong"])
        if "req" in msg:
            with server.lock:
                return venue.rep(msg)
        return None

    published: list = []
    server = ReplayServer(frames, {400: "drop", 900: "dup", 1200: "garbage", 2000: "disconnect"}, on_sent=on_sent,
                          on_message=on_message, skip_on_disconnect=30, batch=20)  # fmt: skip
    with server:
        feed = HuobiFeed(REGISTRY, ["btcusdt"])
        client = StreamingMarketDataClient(feed, url=server.url, backoff=Backoff(0.01, 0.05), idle_timeout=5)
        client.start(published.append)
        sync = feed.books[BTC.id]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            server.done.is_set() and sync.synced and sync.seq == venue.state_seq
        ):
            time.sleep(0.02)
        client.close()
    assert sync.synced and sync.seq == venue.state_seq
    assert sync.book.depth(1000) == venue.state.depth(1000)
    assert pongs == [1492420473027]
    assert feed.stats.gaps >= 1 and feed.stats.duplicates >= 1 and feed.stats.malformed >= 2
    assert server.connections >= 2
    statuses = [e.valid for e in published if isinstance(e, BookStatus)]
    assert statuses[0] and False in statuses and statuses[-1]
    assert any(isinstance(e, BookDelta) for e in published)
