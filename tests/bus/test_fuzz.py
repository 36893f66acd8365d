"""Fuzz: malformed, truncated, wrong-version, wrong-frame-count and random frames never escape ``recv``.

Each bad frame is counted under the reason an independent oracle predicts, a
command server answers it with ``OrderRejected``, and a valid message sent
right after is still received.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import zmq
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from jtrader.bus.messages import (
    AmendOrder,
    CancelOrder,
    Command,
    ControlRequest,
    Heartbeat,
    MarketData,
    MassCancel,
    OrderRejected,
    ProtocolError,
    Report,
    decode,
    encode,
)
from jtrader.bus.transport import CommandClient, CommandServer, Subscriber
from tests.bus.builders import BTC, ack, counter, market_events, position, submit, term_or_fail, trade, warm_up

pytestmark = pytest.mark.timeout(300)

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

COMMANDS = [
    submit(),
    CancelOrder(client_order_id="c-1", strategy_id="s"),
    AmendOrder(client_order_id="c-1", quantity_lots=3),
    MassCancel(strategy_id="s", instrument_id=BTC),
    ControlRequest(command="status", args={"a": "b"}),
]
REPORTS = [ack(submit()), position(), OrderRejected(client_order_id="c", reason="malformed", message="m")]
EVENTS = [event for _kind, event in market_events()]


def kind_of(msg: msgspec.Struct) -> bytes:
    return type(msg).__struct_config__.tag.encode()


def frames_strategy(
    valid: list[msgspec.Struct], first_frame: st.SearchStrategy[bytes]
) -> st.SearchStrategy[list[bytes]]:
    """Frames (after the identity) that are mostly invalid in every way the protocol can be broken."""
    good = st.sampled_from(valid).map(lambda m: [kind_of(m), *encode(m)])
    any_bytes = st.binary(max_size=96)
    ints = st.integers(-(2**63), 2**64 - 1)  # what msgpack can carry
    junk_msgpack = st.recursive(
        st.none() | st.booleans() | ints | st.floats() | st.text(max_size=12) | st.binary(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    ).map(msgspec.msgpack.encode)
    typed_junk = st.tuples(
        st.sampled_from(["submit", "cancel", "heartbeat", "trade", "quote", "execution_report", "nope"]),
        st.dictionaries(st.sampled_from(["client_order_id", "quantity_lots", "price_ticks", "instrument_id", "sender"]),
                        ints | st.text(max_size=6) | st.none(), max_size=5),
    ).map(lambda t: msgspec.msgpack.encode({"type": t[0], **t[1]}))  # fmt: skip
    return st.one_of(
        st.lists(any_bytes, min_size=1, max_size=6),  # random frames, any count
        good,  # valid: the oracle must accept it
        st.tuples(good, st.integers(0, 400)).map(lambda t: [t[0][0], t[0][1], t[0][2][: t[1] % max(1, len(t[0][2]))]]),
        st.tuples(good, any_bytes.filter(lambda v: v != b"\x01")).map(lambda t: [t[0][0], t[1], t[0][2]]),
        st.tuples(good, st.lists(any_bytes, min_size=1, max_size=3)).map(lambda t: t[0] + t[1]),  # extra frames
        st.tuples(good, st.integers(1, 2)).map(lambda t: t[0][: 3 - t[1]]),  # missing frames
        st.tuples(good, first_frame).map(lambda t: [t[1], t[0][1], t[0][2]]),  # wrong kind/topic
        st.tuples(good, st.integers(0, 10_000), st.integers(0, 255)).map(
            lambda t: [t[0][0], t[0][1], flip(t[0][2], t[1], t[2])]
        ),
        st.tuples(first_frame, junk_msgpack).map(lambda t: [t[0], b"\x01", t[1]]),
        st.tuples(first_frame, typed_junk).map(lambda t: [t[0], b"\x01", t[1]]),
    )


def flip(payload: bytes, position_: int, value: int) -> bytes:
    i = position_ % len(payload)
    return payload[:i] + bytes([value]) + payload[i + 1 :]


def oracle(parts: list[bytes], expected: Any, check_kind: bool) -> str:
    """What the receiver must do with ``parts``: a reject reason, or "accepted"."""
    if len(parts) != 3:
        return "malformed"
    first, version, payload = parts
    if version != b"\x01":
        return "wrong_version"
    try:
        msg = decode(version, payload, expected)
    except ProtocolError:
        return "malformed"
    except UnicodeDecodeError:  # messages.decode lets this one through (reported); the transport counts it
        return "malformed"
    if check_kind and first != kind_of(msg):
        return "malformed"
    return "accepted"


class Rig:
    def __init__(self) -> None:
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.registry = CollectorRegistry()
        self.server = CommandServer(self.ctx, "inproc://fuzz-oms", name="oms", registry=self.registry)
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.dealer.linger = 0
        self.dealer.routing_id = b"fuzzer"
        self.dealer.connect("inproc://fuzz-oms")
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.router.bind("inproc://fuzz-reports")
        self.client = CommandClient(
            self.ctx, "inproc://fuzz-reports", name="client", identity=b"victim", registry=self.registry
        )
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.linger = 0
        self.pub.bind("inproc://fuzz-md")
        self.sub = Subscriber(self.ctx, "inproc://fuzz-md", [b""], MarketData, name="sub", registry=self.registry)
        warm_up(lambda: self.pub.send_multipart([b"md.w", *encode(trade())]), lambda: self.sub.recv(10))
        while self.sub.recv(20):
            pass
        assert self.client.send(CancelOrder(client_order_id="hello"), timeout_ms=2000)
        assert self.router.poll(2000)
        self.router.recv_multipart()

    def rejects(self, component: str) -> dict[str, float]:
        return {
            r: counter(self.registry, "rejects", component=component, reason=r) for r in ("malformed", "wrong_version")
        }

    def close(self) -> None:
        for obj in (self.server, self.client, self.sub):
            obj.close()
        for sock in (self.dealer, self.router, self.pub):
            sock.close(linger=0)
        term_or_fail(self.ctx)


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    r = Rig()
    yield r
    r.close()


def expect_counted(before: dict[str, float], after: dict[str, float], outcome: str) -> None:
    delta = {reason: after[reason] - before[reason] for reason in before}
    wanted = {reason: float(reason == outcome) for reason in before}
    assert delta == wanted


@FUZZ
@given(parts=frames_strategy(COMMANDS, st.binary(max_size=20)))
def test_bad_frames_on_the_command_server_are_counted_answered_and_never_stop_it(rig: Rig, parts) -> None:
    outcome = oracle(parts, Command, check_kind=True)
    event(outcome)
    if outcome == "accepted":
        assume(not isinstance(decode(parts[1], parts[2], Command), Heartbeat))
    before = rig.rejects("oms")
    rig.dealer.send_multipart(parts)
    sentinel = CancelOrder(client_order_id="sentinel")
    rig.dealer.send_multipart([b"cancel", *encode(sentinel)])
    if outcome == "accepted":
        assert rig.server.recv(2000) == (b"fuzzer", decode(parts[1], parts[2], Command))
    assert rig.server.recv(2000) == (b"fuzzer", sentinel)
    expect_counted(before, rig.rejects("oms"), "" if outcome == "accepted" else outcome)
    if outcome != "accepted":
        assert rig.dealer.poll(2000)
        kind, version, payload = rig.dealer.recv_multipart()
        rejected = decode(version, payload, OrderRejected)
        assert kind == b"order_rejected" and rejected.reason.value == outcome
    assert rig.dealer.poll(0) == 0


@FUZZ
@given(parts=frames_strategy(REPORTS, st.binary(max_size=20)))
def test_bad_frames_reaching_a_command_client_are_counted_and_skipped(rig: Rig, parts) -> None:
    outcome = oracle(parts, Report, check_kind=True)
    event(outcome)
    if outcome == "accepted":
        assume(not isinstance(decode(parts[1], parts[2], Report), Heartbeat))
    before = rig.rejects("client")
    rig.router.send_multipart([b"victim", *parts])
    rig.router.send_multipart([b"victim", b"position_update", *encode(position())])
    if outcome == "accepted":
        assert rig.client.recv(2000) == decode(parts[1], parts[2], Report)
    assert rig.client.recv(2000) == position()
    expect_counted(before, rig.rejects("client"), "" if outcome == "accepted" else outcome)


@FUZZ
@given(parts=frames_strategy(EVENTS, st.binary(max_size=20)))
def test_bad_frames_on_a_subscriber_are_counted_and_skipped(rig: Rig, parts) -> None:
    outcome = oracle(parts, MarketData, check_kind=False)
    event(outcome)
    before = rig.rejects("sub")
    rig.pub.send_multipart(parts)
    rig.pub.send_multipart([b"md.sentinel", *encode(trade(42))])
    if outcome == "accepted":
        assert rig.sub.recv(2000) == (parts[0], decode(parts[1], parts[2], MarketData))
    assert rig.sub.recv(2000) == (b"md.sentinel", trade(42))
    expect_counted(before, rig.rejects("sub"), "" if outcome == "accepted" else outcome)
