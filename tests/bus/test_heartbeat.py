"""Heartbeats and liveness: lost clients reported once, reconnecting clients live again, silent servers noticed."""

from __future__ import annotations

import pytest

from jtrader.bus.messages import Heartbeat
from jtrader.bus.transport import CommandClient, CommandServer
from tests.bus.builders import counter, submit

pytestmark = pytest.mark.timeout(60)

S = 1_000_000_000


class Clock:
    """A settable monotonic clock in ns."""

    def __init__(self) -> None:
        self.now = 1_000 * S

    def __call__(self) -> int:
        return self.now


def setup(ctx, closing, registry, clock, **server_kw):
    server = CommandServer(
        ctx, "inproc://oms-hb", name="oms", registry=registry, heartbeat_timeout=3.0, clock=clock, **server_kw
    )
    closing.append(server)
    return server


def client_of(ctx, closing, registry, clock, identity=b"strat-1", **kw):
    client = CommandClient(
        ctx, "inproc://oms-hb", identity=identity, registry=registry, clock=clock,
        heartbeat_interval=1.0, heartbeat_timeout=3.0, **kw,
    )  # fmt: skip
    closing.append(client)
    return client


def pump(server, client=None, rounds: int = 5) -> None:
    """Let the server answer what is queued and the client read the answers."""
    for _ in range(rounds):
        server.recv(20)
        if client is not None:
            client.recv(20)


def test_heartbeat_is_answered_and_not_returned_to_either_loop(ctx, closing, registry) -> None:
    clock = Clock()
    server = setup(ctx, closing, registry, clock)
    client = client_of(ctx, closing, registry, clock)
    assert client.heartbeat()
    assert server.recv(200) is None
    assert client.recv(200) is None
    assert server.live_clients() == [b"strat-1"]
    assert counter(registry, "messages_in", component="client", type="heartbeat") == 1


def test_heartbeats_are_delivered_when_asked(ctx, closing, registry) -> None:
    clock = Clock()
    server = setup(ctx, closing, registry, clock, deliver_heartbeats=True)
    client = client_of(ctx, closing, registry, clock, deliver_heartbeats=True)
    client.heartbeat()
    client_id, hb = server.recv(2000)
    assert client_id == b"strat-1" and isinstance(hb, Heartbeat) and hb.sequence == 1
    reply = client.recv(2000)
    assert isinstance(reply, Heartbeat) and reply.sender == "oms" and reply.sequence == 1


def test_client_that_stops_heartbeating_triggers_on_disconnect_exactly_once(ctx, closing, registry) -> None:
    clock = Clock()
    lost: list[bytes] = []
    server = setup(ctx, closing, registry, clock, on_disconnect=lost.append)
    client = client_of(ctx, closing, registry, clock)
    for _ in range(3):
        client.maybe_heartbeat()
        pump(server, client, 1)
        clock.now += 1 * S
        assert server.check_liveness() == []
    clock.now += 3 * S + 1  # the client goes quiet
    assert server.check_liveness() == [b"strat-1"]
    for _ in range(5):
        clock.now += 10 * S
        assert server.check_liveness() == []
    assert lost == [b"strat-1"]
    assert server.live_clients() == []
    assert counter(registry, "peers_lost", component="oms") == 1


def test_any_valid_message_refreshes_liveness(ctx, closing, registry) -> None:
    clock = Clock()
    server = setup(ctx, closing, registry, clock)
    client = client_of(ctx, closing, registry, clock)
    client.send(submit(), timeout_ms=2000)
    server.recv(2000)
    clock.now += 2 * S
    client.send(submit(cid="c-2"), timeout_ms=2000)
    server.recv(2000)
    clock.now += 2 * S
    assert server.check_liveness() == []


def test_client_heard_again_is_live_and_a_second_loss_is_reported_again(ctx, closing, registry) -> None:
    clock = Clock()
    lost: list[bytes] = []
    server = setup(ctx, closing, registry, clock, on_disconnect=lost.append)
    client = client_of(ctx, closing, registry, clock)
    client.heartbeat()
    pump(server)
    clock.now += 4 * S
    assert server.check_liveness() == [b"strat-1"]
    client.heartbeat()
    pump(server)
    assert server.live_clients() == [b"strat-1"]
    clock.now += 4 * S
    assert server.check_liveness() == [b"strat-1"]
    assert lost == [b"strat-1", b"strat-1"]


def test_reconnected_client_with_the_same_identity_is_live_and_gets_replies(ctx, closing, registry) -> None:
    clock = Clock()
    lost: list[bytes] = []
    server = setup(ctx, closing, registry, clock, on_disconnect=lost.append)
    first = client_of(ctx, closing, registry, clock)
    first.heartbeat()
    pump(server)
    first.close()  # the strategy process dies
    clock.now += 4 * S
    assert server.check_liveness() == [b"strat-1"]
    second = client_of(ctx, closing, registry, clock)  # and restarts
    assert second.send(submit(cid="after"), timeout_ms=2000)
    client_id, order = server.recv(2000)
    assert client_id == b"strat-1" and order.client_order_id == "after"
    assert server.live_clients() == [b"strat-1"]
    assert server.send(client_id, Heartbeat(sender="oms"))
    assert second.recv(200) is None and second.live  # heartbeat consumed by recv, not returned
    assert counter(registry, "messages_in", component="client", type="heartbeat") == 1
    assert lost == [b"strat-1"]


def test_on_disconnect_that_raises_is_logged_counted_and_liveness_goes_on(ctx, closing, registry, caplog) -> None:
    clock = Clock()

    def boom(client_id: bytes) -> None:
        raise RuntimeError("handler bug")

    server = setup(ctx, closing, registry, clock, on_disconnect=boom)
    a = client_of(ctx, closing, registry, clock, identity=b"a")
    b = client_of(ctx, closing, registry, clock, identity=b"b")
    a.heartbeat()
    b.heartbeat()
    pump(server)
    clock.now += 4 * S
    assert sorted(server.check_liveness()) == [b"a", b"b"]
    assert counter(registry, "handler_errors", component="oms") == 2
    assert "handler bug" in caplog.text


def test_client_notices_a_silent_server_once_and_a_returning_one(ctx, closing, registry) -> None:
    clock = Clock()
    events: list[str] = []
    server = setup(ctx, closing, registry, clock)
    client = client_of(
        ctx,
        closing,
        registry,
        clock,
        on_disconnect=lambda: events.append("down"),
        on_reconnect=lambda: events.append("up"),
    )
    for _ in range(4):  # server answering: live
        client.maybe_heartbeat()
        pump(server, client, 2)
        clock.now += 1 * S
    assert client.live and events == []
    for _ in range(6):  # server loop stalls: heartbeats go unanswered
        clock.now += 1 * S
        client.maybe_heartbeat()
        client.recv(10)
    assert not client.live and events == ["down"]
    pump(server, client, 3)  # server answers the queued heartbeats
    assert client.live and events == ["down", "up"]


def test_client_that_never_hears_the_server_reports_it_lost_after_the_timeout(ctx, closing, registry) -> None:
    clock = Clock()
    events: list[str] = []
    client = CommandClient(
        ctx, "inproc://nobody-home", registry=registry, clock=clock, heartbeat_timeout=2.0,
        on_disconnect=lambda: events.append("down"),
    )  # fmt: skip
    closing.append(client)
    client.maybe_heartbeat()
    clock.now += 1 * S
    client.maybe_heartbeat()
    assert events == []
    clock.now += 2 * S
    client.maybe_heartbeat()
    client.maybe_heartbeat()
    assert events == ["down"]


def test_maybe_heartbeat_sends_at_most_one_per_interval(ctx, closing, registry) -> None:
    clock = Clock()
    server = setup(ctx, closing, registry, clock, deliver_heartbeats=True)
    client = client_of(ctx, closing, registry, clock)
    for _ in range(10):
        client.maybe_heartbeat()
        clock.now += S // 4
    received = 0
    while server.recv(100):
        received += 1
    assert received == 3  # at t=0, 1 s and 2 s of the 2.5 s
