"""PUB/SUB: domain market data and OMS state round trips over inproc, ipc and tcp; topic filtering; counters."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest
import zmq

from jtrader.bus.messages import ExecutionReport, MarketData, Report, encode, md_topic
from jtrader.bus.transport import Poller, Publisher, Subscriber
from tests.bus.builders import (
    BTC,
    ETH,
    TRANSPORTS,
    counter,
    endpoint,
    market_events,
    position,
    quote,
    submit,
    trade,
    wait_until,
    warm_up,
)
from tests.bus.builders import ack as ack_of

pytestmark = pytest.mark.timeout(60)


def connected_pair(ctx, closing, registry, transport: str, tmp_path: Path, topics: list[bytes], expected=MarketData):
    pub = Publisher(ctx, endpoint(transport, tmp_path, "md"), name="md.pub", registry=registry)
    closing.append(pub)
    sub = Subscriber(ctx, pub.endpoint, topics, expected, name="md.sub", registry=registry)
    closing.append(sub)
    return pub, sub


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_market_data_kind_round_trips_equal_over_transport(ctx, closing, registry, tmp_path, transport) -> None:
    pub, sub = connected_pair(ctx, closing, registry, transport, tmp_path, [b"md."])
    warm_up(lambda: pub.publish(md_topic(BTC, "warmup"), trade(0)), lambda: sub.recv(10))
    while sub.recv(50):  # drain extra warm-up copies
        pass
    events = market_events()
    for kind, event in events:
        pub.publish(md_topic(BTC, kind), event)
    received = [sub.recv(2000) for _ in events]
    assert received == [(md_topic(BTC, kind), event) for kind, event in events]
    assert pub.endpoint.startswith(f"{transport}://")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_subscriber_receives_only_its_topic_prefixes(ctx, closing, registry, tmp_path, transport) -> None:
    wanted = md_topic(BTC, "trade")
    pub, sub = connected_pair(ctx, closing, registry, transport, tmp_path, [wanted])
    warm_up(lambda: pub.publish(wanted, trade(0)), lambda: sub.recv(10))
    while sub.recv(50):
        pass
    pub.publish(md_topic(ETH, "trade"), trade(1, ETH))
    pub.publish(md_topic(BTC, "quote"), quote())
    pub.publish(wanted, trade(2))
    assert sub.recv(2000) == (wanted, trade(2))
    assert sub.recv(100) is None


def test_tcp_bind_defaults_to_loopback_with_a_random_port(ctx, closing, registry, tmp_path) -> None:
    pub, _sub = connected_pair(ctx, closing, registry, "tcp", tmp_path, [b"md."])
    host, _, port = pub.endpoint.removeprefix("tcp://").rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0


def test_oms_state_updates_round_trip_with_exact_decimals(ctx, closing, registry, tmp_path) -> None:
    pub, sub = connected_pair(ctx, closing, registry, "inproc", tmp_path, [b"oms."], expected=Report)
    update = position()
    warm_up(lambda: pub.publish(b"oms.position", update), lambda: sub.recv(10))
    report = ack_of(submit())
    pub.publish(b"oms.exec", report)
    item = wait_for(sub, lambda topic: topic == b"oms.exec")
    assert item == (b"oms.exec", report) and isinstance(item[1], ExecutionReport)
    pub.publish(b"oms.position", update)
    _topic, got = wait_for(sub, lambda topic: topic == b"oms.position")
    assert got == update and str(got.avg_entry) == "60000.1"


def wait_for(sub, accept, timeout_ms: int = 2000):
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        item = sub.recv(50)
        if item and accept(item[0]):
            return item
    raise AssertionError("no matching message")


def test_recv_returns_none_after_the_timeout_when_nothing_is_published(ctx, closing, registry, tmp_path) -> None:
    _pub, sub = connected_pair(ctx, closing, registry, "inproc", tmp_path, [b"md."])
    started = time.monotonic()
    assert sub.recv(100) is None
    assert 0.08 <= time.monotonic() - started < 2
    assert sub.poll() is None and sub.recv_batch() == []


def test_event_the_domain_refuses_is_counted_as_malformed_and_the_next_is_delivered(
    ctx, closing, registry, tmp_path
) -> None:
    pub, sub = connected_pair(ctx, closing, registry, "inproc", tmp_path, [b"md."])
    warm_up(lambda: pub.publish(b"md.warmup", trade(0)), lambda: sub.recv(10))
    while sub.recv(50):
        pass
    crossed = msgspec.msgpack.encode(
        {"type": "quote", "instrument_id": ["BTCUSDT", "binance_usdm"], "bid_ticks": 5, "bid_lots": 1,
         "ask_ticks": 4, "ask_lots": 1, "ts_event": 1, "ts_recv": 1}
    )  # fmt: skip
    pub.publish_raw(b"md.x", encode(trade())[0], crossed)
    pub.publish(b"md.y", trade(7))
    assert sub.recv(2000) == (b"md.y", trade(7))
    assert counter(registry, "rejects", component="md.sub", reason="malformed") == 1


def test_messages_are_counted_in_and_out_by_type(ctx, closing, registry, tmp_path) -> None:
    pub, sub = connected_pair(ctx, closing, registry, "inproc", tmp_path, [b"md."])
    sent = warm_up(lambda: pub.publish(b"md.t", trade(0)), lambda: sub.recv(10))
    assert sent
    out = counter(registry, "messages_out", component="md.pub", type="trade")
    got = 1 + len(sub.recv_batch())
    assert counter(registry, "messages_in", component="md.sub", type="trade") == got
    assert out >= got


def test_recv_batch_returns_everything_queued(ctx, closing, registry, tmp_path) -> None:
    pub, sub = connected_pair(ctx, closing, registry, "inproc", tmp_path, [b"md."])
    warm_up(lambda: pub.publish(b"md.w", trade(0)), lambda: sub.recv(10))
    while sub.recv(50):
        pass
    for i in range(1, 51):
        pub.publish(b"md.t", trade(i))
    time.sleep(0.05)
    batch = sub.recv_batch(max_messages=1000)
    assert [msg.trade_id for _topic, msg in batch] == [f"t{i}" for i in range(1, 51)]


def test_poller_returns_the_objects_with_messages_queued(ctx, closing, registry, tmp_path) -> None:
    pub, sub_btc = connected_pair(ctx, closing, registry, "inproc", tmp_path, [md_topic(BTC, "")])
    sub_eth = Subscriber(ctx, pub.endpoint, [md_topic(ETH, "")], MarketData, name="eth", registry=registry)
    closing.append(sub_eth)
    warm_up(lambda: pub.publish(md_topic(BTC, "t"), trade(0)), lambda: sub_btc.recv(10))
    warm_up(lambda: pub.publish(md_topic(ETH, "t"), trade(0, ETH)), lambda: sub_eth.recv(10))
    for sub in (sub_btc, sub_eth):
        while sub.recv(50):
            pass
    poller = Poller(sub_btc, sub_eth)
    assert poller.poll(50) == []
    pub.publish(md_topic(ETH, "t"), trade(3, ETH))
    assert poller.poll(2000) == [sub_eth]
    assert sub_eth.recv(0) == (md_topic(ETH, "t"), trade(3, ETH))
    poller.unregister(sub_eth)
    pub.publish(md_topic(ETH, "t"), trade(4, ETH))
    assert poller.poll(100) == []


def test_sub_socket_is_exposed_for_foreign_event_loops(ctx, closing, registry, tmp_path) -> None:
    _pub, sub = connected_pair(ctx, closing, registry, "inproc", tmp_path, [b"md."])
    assert isinstance(sub.socket, zmq.Socket) and sub.socket.type == zmq.SUB
    assert sub.socket.linger == 0


def test_recv_latest_keeps_the_newest_event_per_topic_in_arrival_order(ctx, closing, registry, tmp_path) -> None:
    pub, sub = connected_pair(ctx, closing, registry, "inproc", tmp_path, [b"md."])
    warm_up(lambda: pub.publish(md_topic(BTC, "warmup"), trade(0)), lambda: sub.recv(10))
    while sub.recv(50):
        pass
    btc_trade, eth_trade = md_topic(BTC, "trade"), md_topic(ETH, "trade")
    decoded_before = counter(registry, "messages_in", component="md.sub", type="trade")
    for i in range(1, 6):
        pub.publish(btc_trade, trade(i))
    pub.publish(eth_trade, trade(1, ETH))
    pub.publish(btc_trade, trade(6))  # BTC's newest now arrived after ETH's
    pub.socket.send_multipart([btc_trade, b"\x01"])  # malformed: two frames
    wait_until(lambda: sub.socket.poll(10))
    time.sleep(0.05)

    latest, drained = sub.recv_latest(100)

    assert latest == [(eth_trade, trade(1, ETH)), (btc_trade, trade(6))]
    assert drained == 8
    assert sub.conflated == 5  # BTC trades 1-5, dropped undecoded
    assert counter(registry, "messages_in", component="md.sub", type="trade") - decoded_before == 2
    assert counter(registry, "rejects", component="md.sub", reason="malformed") == 1
