"""DEALER->ROUTER->DEALER: commands in, reports routed back to the right client, protocol rejects, config checks."""

from __future__ import annotations

import msgspec
import pytest
import zmq

from jtrader.bus.messages import (
    CancelOrder,
    Command,
    ExecutionReport,
    OrderRejected,
    RejectReason,
    encode,
)
from jtrader.bus.transport import BusConfigError, CommandClient, CommandServer, Publisher, Subscriber
from tests.bus.builders import TRANSPORTS, ack, counter, endpoint, submit, wait_until

pytestmark = pytest.mark.timeout(60)


def server_and_clients(ctx, closing, registry, transport, tmp_path, n: int = 1, **server_kw):
    server = CommandServer(
        ctx, endpoint(transport, tmp_path, "oms"), name="oms", registry=registry, allow_insecure=True, **server_kw
    )
    closing.append(server)
    clients = []
    for i in range(n):
        client = CommandClient(ctx, server.endpoint, name=f"strat{i}", registry=registry, allow_insecure=True)
        closing.append(client)
        clients.append(client)
    return server, clients


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_submit_and_execution_report_round_trip_over_transport(ctx, closing, registry, tmp_path, transport) -> None:
    server, (client,) = server_and_clients(ctx, closing, registry, transport, tmp_path)
    order = submit()
    assert client.send(order, timeout_ms=5000)
    client_id, got = server.recv(5000)
    assert got == order
    assert server.send(client_id, ack(order))
    assert client.recv(5000) == ack(order)
    assert counter(registry, "messages_in", component="oms", type="submit") == 1
    assert counter(registry, "messages_out", component="oms", type="execution_report") == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_replies_go_to_the_client_that_sent_the_command(ctx, closing, registry, tmp_path, transport) -> None:
    server, clients = server_and_clients(ctx, closing, registry, transport, tmp_path, n=4)
    for i, client in enumerate(clients):
        assert client.send(submit(cid=f"c{i}", strategy=f"s{i}"), timeout_ms=5000)
    for _ in clients:
        client_id, order = server.recv(5000)
        assert server.send(client_id, ack(order))
    for i, client in enumerate(clients):
        report = client.recv(5000)
        assert report.client_order_id == f"c{i}" and report.strategy_id == f"s{i}"
        assert client.recv(50) is None


def test_client_identity_is_the_client_id_the_server_sees(ctx, closing, registry, tmp_path) -> None:
    server, _ = server_and_clients(ctx, closing, registry, "inproc", tmp_path, n=0)
    client = CommandClient(ctx, server.endpoint, identity=b"mm-1", registry=registry)
    closing.append(client)
    assert client.send(submit(), timeout_ms=2000)
    client_id, _ = server.recv(2000)
    assert client_id == b"mm-1"


def test_send_to_an_unknown_client_returns_false_and_is_counted_unroutable(ctx, closing, registry, tmp_path) -> None:
    server, _ = server_and_clients(ctx, closing, registry, "inproc", tmp_path, n=0)
    assert server.send(b"nobody", ack(submit())) is False
    assert counter(registry, "send_failures", component="oms", reason="unroutable") == 1


def test_client_send_with_no_server_returns_false_instead_of_queueing(ctx, closing, registry, tmp_path) -> None:
    client = CommandClient(ctx, f"ipc://{tmp_path / 'nobody.sock'}", allow_insecure=True, registry=registry)
    closing.append(client)
    assert client.send(submit()) is False
    assert client.send(submit(), timeout_ms=50) is False
    assert counter(registry, "send_failures", component="client", reason="would_block") == 2


def raw_dealer(ctx, closing, server):
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(server.endpoint)
    closing.append(sock)
    return sock


def reply_of(sock) -> OrderRejected:
    assert sock.poll(2000), "no reply"
    kind, _version, payload = sock.recv_multipart()
    assert kind == b"order_rejected"
    return msgspec.msgpack.decode(payload, type=OrderRejected)


def test_invalid_submit_is_answered_with_malformed_reject_naming_the_order(ctx, closing, registry, tmp_path) -> None:
    server, _ = server_and_clients(ctx, closing, registry, "inproc", tmp_path, n=0)
    sock = raw_dealer(ctx, closing, server)
    bad = msgspec.msgpack.encode(
        {"type": "submit", "client_order_id": "c-9", "strategy_id": "s9", "instrument_id": ["BTCUSDT", "binance_usdm"],
         "side": "buy", "order_type": "limit", "quantity_lots": "lots"}
    )  # fmt: skip
    sock.send_multipart([b"submit", encode(submit())[0], bad])
    assert server.recv(200) is None
    rejected = reply_of(sock)
    assert (rejected.reason, rejected.client_order_id, rejected.strategy_id) == (RejectReason.MALFORMED, "c-9", "s9")
    assert "quantity_lots" in rejected.message
    assert counter(registry, "rejects", component="oms", reason="malformed") == 1


def test_wrong_version_is_answered_with_wrong_version_reject(ctx, closing, registry, tmp_path) -> None:
    server, _ = server_and_clients(ctx, closing, registry, "inproc", tmp_path, n=0)
    sock = raw_dealer(ctx, closing, server)
    sock.send_multipart([b"submit", b"\x02", encode(submit(cid="c-2"))[1]])
    assert server.recv(200) is None
    rejected = reply_of(sock)
    assert rejected.reason == RejectReason.WRONG_VERSION and rejected.client_order_id == "c-2"
    assert counter(registry, "rejects", component="oms", reason="wrong_version") == 1


def test_invalid_utf8_in_a_string_field_is_malformed_not_a_crash(ctx, closing, registry, tmp_path) -> None:
    # messages.decode lets UnicodeDecodeError through (not a ProtocolError); the transport must still count it
    server, _ = server_and_clients(ctx, closing, registry, "inproc", tmp_path, n=0)
    sock = raw_dealer(ctx, closing, server)
    version, payload = encode(CancelOrder(client_order_id="AAAA"))
    sock.send_multipart([b"cancel", version, payload.replace(b"AAAA", b"\x80AAA")])
    assert server.recv(200) is None
    assert reply_of(sock).reason == RejectReason.MALFORMED
    assert counter(registry, "rejects", component="oms", reason="malformed") == 1


def test_kind_frame_that_contradicts_the_payload_is_malformed(ctx, closing, registry, tmp_path) -> None:
    server, _ = server_and_clients(ctx, closing, registry, "inproc", tmp_path, n=0)
    sock = raw_dealer(ctx, closing, server)
    sock.send_multipart([b"cancel", *encode(submit())])
    assert server.recv(200) is None
    assert reply_of(sock).reason == RejectReason.MALFORMED


def test_report_sent_on_the_command_channel_is_rejected(ctx, closing, registry, tmp_path) -> None:
    server, _ = server_and_clients(ctx, closing, registry, "inproc", tmp_path, n=0)
    sock = raw_dealer(ctx, closing, server)
    sock.send_multipart([b"execution_report", *encode(ack(submit()))])
    assert server.recv(200) is None
    assert reply_of(sock).reason == RejectReason.MALFORMED


def test_valid_command_after_garbage_from_the_same_client_is_delivered(ctx, closing, registry, tmp_path) -> None:
    server, (client,) = server_and_clients(ctx, closing, registry, "inproc", tmp_path)
    client.socket.send_multipart([b"garbage"])
    assert client.send(CancelOrder(client_order_id="c-1"), timeout_ms=2000)
    _, got = server.recv(2000)
    assert got == CancelOrder(client_order_id="c-1")
    rejected = client.recv(2000)
    assert isinstance(rejected, OrderRejected) and rejected.reason == RejectReason.MALFORMED


def test_malformed_report_at_the_client_is_counted_and_skipped(ctx, closing, registry, tmp_path) -> None:
    server, (client,) = server_and_clients(ctx, closing, registry, "inproc", tmp_path)
    assert client.send(submit(), timeout_ms=2000)
    client_id, order = server.recv(2000)
    server.socket.send_multipart([client_id, b"execution_report", b"\x01", b"\xc1"])
    server.send(client_id, ack(order))
    assert client.recv(2000) == ack(order)
    assert counter(registry, "rejects", component="strat0", reason="malformed") == 1


def test_command_server_accepts_a_custom_expected_union(ctx, closing, registry, tmp_path) -> None:
    server, (client,) = server_and_clients(ctx, closing, registry, "inproc", tmp_path, expected=CancelOrder)
    client.send(submit(), timeout_ms=2000)
    client.send(CancelOrder(client_order_id="x"), timeout_ms=2000)
    _, got = server.recv(2000)
    assert got == CancelOrder(client_order_id="x")


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_cross_process_command_channel_without_curve_is_refused(ctx, tmp_path, transport) -> None:
    with pytest.raises(BusConfigError, match="must be authenticated"):
        CommandServer(ctx, endpoint(transport, tmp_path))
    with pytest.raises(BusConfigError, match="must be authenticated"):
        CommandClient(ctx, "tcp://127.0.0.1:5555")


@pytest.mark.parametrize("host", ["*", "0.0.0.0", "[::]"])
def test_binding_every_interface_is_refused_unless_asked_for(ctx, closing, host) -> None:
    with pytest.raises(BusConfigError, match="every network interface"):
        Publisher(ctx, f"tcp://{host}:0")
    with pytest.raises(BusConfigError, match="every network interface"):
        CommandServer(ctx, f"tcp://{host}:0", allow_insecure=True)
    if host == "*":
        pub = Publisher(ctx, "tcp://*:*", allow_all_interfaces=True)
        closing.append(pub)
        assert pub.endpoint.startswith("tcp://0.0.0.0:")


@pytest.mark.parametrize(
    "bad", ["udp://127.0.0.1:1", "127.0.0.1:5555", "tcp://127.0.0.1", "inproc://", "ipc://" + "x" * 200]
)
def test_unusable_endpoint_is_refused_with_an_example(ctx, bad) -> None:
    with pytest.raises(BusConfigError, match="endpoint"):
        Publisher(ctx, bad)


def test_address_in_use_is_a_config_error_and_leaks_no_socket(ctx, closing, registry, tmp_path) -> None:
    first = Publisher(ctx, "tcp://127.0.0.1:*", registry=registry)
    closing.append(first)
    with pytest.raises(BusConfigError, match="cannot bind"):
        Publisher(ctx, first.endpoint, registry=registry)


def test_topics_must_be_bytes(ctx, closing) -> None:
    with pytest.raises(BusConfigError, match="bytes"):
        Subscriber(ctx, "inproc://x", ["md."], Command)  # type: ignore[list-item]


def test_objects_close_idempotently_and_work_as_context_managers(ctx, registry) -> None:
    with CommandServer(ctx, "inproc://cm", registry=registry) as server:
        assert not server.closed
    assert server.closed
    server.close()


def test_many_objects_share_one_default_registry_without_collisions(ctx) -> None:
    for i in range(3):
        with Publisher(ctx, f"inproc://p{i}") as pub, Subscriber(ctx, f"inproc://p{i}", [b""], Command) as sub:
            assert pub and sub


def test_server_keeps_receiving_after_flood_of_unroutable_replies(ctx, closing, registry, tmp_path) -> None:
    server, (client,) = server_and_clients(ctx, closing, registry, "inproc", tmp_path)
    for _ in range(100):
        server.send(b"gone", ack(submit()))
    assert client.send(submit(), timeout_ms=2000)
    assert wait_until(lambda: server.recv(10))[1] == submit()
    assert isinstance(ack(submit()), ExecutionReport)
