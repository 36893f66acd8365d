"""BitMEX orderBookL2/trade/quote/instrument parsing on the wsAPI doc examples, and the live feed over loopback.

Payload source: BitMEX WebSocket API docs, https://www.bitmex.com/app/wsAPI
("OrderBookL2" partial/update/delete/insert walk-through, "Subscriptions"
trade/quote/instrument examples). Reproduced from the page as documented
(no venue endpoint is reachable from the test machines).
"""

from __future__ import annotations

import json
import time

import pytest

from jtrader.domain import BookDelta, BookSnapshot, InstrumentRegistry, Quote, Side, Trade
from jtrader.gateways.bitmex import BitmexFeed, BitmexParser, FundingUpdate, bitmex_instruments
from jtrader.gateways.stream import Backoff, BookStatus, StreamingMarketDataClient
from tests.gateways.replay import ReplayServer

REGISTRY = InstrumentRegistry(bitmex_instruments())
XBT = REGISTRY.find("XBTUSD", "bitmex")

# https://www.bitmex.com/app/wsAPI#OrderBookL2 (the documented walk-through, table orderBookL2_25)
DOC_PARTIAL = (
    '{"table":"orderBookL2_25","keys":["symbol","id","side"],"action":"partial","data":['
    '{"symbol":"XBTUSD","id":17999992000,"side":"Sell","size":100,"price":80},'
    '{"symbol":"XBTUSD","id":17999993000,"side":"Sell","size":20,"price":70},'
    '{"symbol":"XBTUSD","id":17999994000,"side":"Sell","size":10,"price":60},'
    '{"symbol":"XBTUSD","id":17999995000,"side":"Buy","size":10,"price":50},'
    '{"symbol":"XBTUSD","id":17999996000,"side":"Buy","size":20,"price":40},'
    '{"symbol":"XBTUSD","id":17999997000,"side":"Buy","size":100,"price":30}]}'
)
DOC_UPDATE = (
    '{"table":"orderBookL2_25","action":"update","data":[{"symbol":"XBTUSD","id":17999995000,"side":"Buy","size":5}]}'
)
DOC_DELETE = '{"table":"orderBookL2_25","action":"delete","data":[{"symbol":"XBTUSD","id":17999995000,"side":"Buy"}]}'
DOC_INSERT = (
    '{"table":"orderBookL2_25","action":"insert","data":'
    '[{"symbol":"XBTUSD","id":17999995500,"side":"Buy","size":10,"price":45}]}'
)
# https://www.bitmex.com/app/wsAPI#Subscriptions (trade / quote / instrument rows)
DOC_TRADE = (
    '{"table":"trade","action":"insert","data":[{"timestamp":"2017-10-02T17:48:35.116Z","symbol":"XBTUSD",'
    '"side":"Buy","size":500,"price":4354.5,"tickDirection":"ZeroPlusTick",'
    '"trdMatchID":"c9f5ef2d-a2b8-e155-3ea1-2b9c1fa0b1b0","grossValue":11482500,"homeNotional":0.114825,'
    '"foreignNotional":500}]}'
)
DOC_QUOTE = (
    '{"table":"quote","action":"insert","data":[{"timestamp":"2017-10-02T17:48:35.190Z","symbol":"XBTUSD",'
    '"bidSize":116590,"bidPrice":4354,"askPrice":4354.5,"askSize":26034}]}'
)
DOC_INSTRUMENT = (
    '{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","fundingRate":0.0001,'
    '"indicativeFundingRate":0.000125,"markPrice":4354.17,"timestamp":"2017-10-02T17:48:35.000Z"}]}'
)


def feed_frames(feed: BitmexFeed, frames: list[str]) -> list:
    events = []
    for i, frame in enumerate(frames):
        events.extend(feed.on_frame(frame, 1_000 + i).events)
    return events


def test_doc_walkthrough_partial_update_delete_insert_gives_the_documented_book() -> None:
    feed = BitmexFeed(REGISTRY, ["XBTUSD"])
    events = feed_frames(feed, [DOC_UPDATE, DOC_PARTIAL, DOC_UPDATE, DOC_DELETE, DOC_INSERT])
    book = feed.books[XBT.id].book
    # ticks of 0.5: 45 -> 90, 60 -> 120
    assert book.best_bid() == (90, 10) and book.best_ask() == (120, 10)
    assert book.depth(5) == ([(90, 10), (80, 20), (60, 100)], [(120, 10), (140, 20), (160, 100)])
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["BookSnapshot", "BookStatus", "BookDelta", "BookDelta", "BookDelta"]  # the early update ignored
    assert [e.bids for e in events if isinstance(e, BookDelta)] == [[(100, 5)], [(100, 0)], [(90, 10)]]


def test_doc_trade_quote_instrument_rows_become_domain_events() -> None:
    feed = BitmexFeed(REGISTRY, ["XBTUSD"])
    trade, quote, funding = feed_frames(feed, [DOC_TRADE, DOC_QUOTE, DOC_INSTRUMENT])
    assert isinstance(trade, Trade) and trade.aggressor is Side.BUY
    assert (trade.price_ticks, trade.size_lots, trade.ts_event) == (8709, 500, 1506966515116000000)
    assert isinstance(quote, Quote) and (quote.bid_ticks, quote.ask_ticks, quote.ask_lots) == (8708, 8709, 26034)
    assert isinstance(funding, FundingUpdate) and str(funding.mark_price) == "4354.17"
    assert str(funding.funding_rate) == "0.0001"


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"table":"trade","action":"insert","data":[{"symbol":"XBTUSD","side":"Buy","size":1}]}',
        '{"table":"trade","action":"insert","data":[{"timestamp":"2017-10-02T17:48:35.116Z","symbol":"XBTUSD",'
        '"side":"Buy","size":500,"price":4354.3,"trdMatchID":"x"}]}',
        '{"table":"quote","data":[{"timestamp":"x","symbol":"NOPE","bidSize":1,"bidPrice":1,"askPrice":2,"askSize":1}]}',
        '{"table":"liquidation","action":"insert","data":[]}',
    ],
)
def test_malformed_frames_are_counted_and_skipped(frame: str) -> None:
    feed = BitmexFeed(REGISTRY, ["XBTUSD"])
    assert feed.on_frame(frame, 1).events == []
    assert feed.stats.malformed == 1


def test_parser_reports_off_tick_price_by_name() -> None:
    with pytest.raises(ValueError, match=r"4354\.3"):
        BitmexParser(REGISTRY).parse(
            '{"table":"orderBookL2","action":"insert","data":[{"symbol":"XBTUSD","id":1,"side":"Buy","size":1,'
            '"price":4354.3}]}',
            1,
        )


def test_update_of_unknown_id_marks_stale_and_asks_to_resubscribe() -> None:
    feed = BitmexFeed(REGISTRY, ["XBTUSD"])
    feed_frames(feed, [DOC_PARTIAL])
    out = feed.on_frame(DOC_UPDATE.replace("17999995000", "1"), 5)
    assert [(e.valid, e.reason) for e in out.events] == [(False, "update of unknown id 1")]
    assert out.reconnect


def test_crossing_insert_is_never_published() -> None:
    feed = BitmexFeed(REGISTRY, ["XBTUSD"])
    feed_frames(feed, [DOC_PARTIAL])
    out = feed.on_frame(DOC_INSERT.replace('"price":45', '"price":65'), 5)
    assert not any(isinstance(e, BookDelta) for e in out.events) and out.reconnect


@pytest.mark.timeout(30)
def test_loopback_broken_sequence_resubscribes_and_rebuilds_from_a_new_partial() -> None:
    bad_update = DOC_UPDATE.replace("17999995000", "42")
    frames = ['{"info":"Welcome to the BitMEX Realtime API."}', DOC_PARTIAL, bad_update]
    published: list = []
    server = ReplayServer(frames, {1: "garbage"}, batch=1)
    # BitMEX sends a fresh partial on every (re)subscription
    server.first_frames = lambda: [DOC_PARTIAL] if server.connections > 1 else []
    with server:
        feed = BitmexFeed(REGISTRY, ["XBTUSD"], channels=("orderBookL2",))
        client = StreamingMarketDataClient(feed, url=server.url, backoff=Backoff(0.01, 0.05), idle_timeout=5)
        client.start(published.append)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(isinstance(e, BookSnapshot) for e in published) < 2:
            time.sleep(0.02)
        client.close()
    assert server.connections >= 2  # the client resubscribed after the broken sequence
    assert json.loads(server.received[0]) == {"op": "subscribe", "args": ["orderBookL2:XBTUSD"]}
    assert [(e.valid) for e in published if isinstance(e, BookStatus)] == [True, False, True]
    assert feed.stats.malformed >= 2
    assert sum(isinstance(e, BookSnapshot) for e in published) == 2
