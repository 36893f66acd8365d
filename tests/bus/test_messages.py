import msgspec
import pytest

from jtrader.bus.messages import (
    Command,
    ProtocolError,
    RejectReason,
    SubmitOrder,
    decode,
    encode,
)
from jtrader.domain import InstrumentId, OrderType, Side, Venue


def submit() -> SubmitOrder:
    return SubmitOrder(
        client_order_id="c1",
        instrument_id=InstrumentId("BTCUSDT", Venue.SIM),
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity_lots=3,
        price_ticks=100,
    )


def test_command_round_trips_through_the_wire_format():
    version, payload = encode(submit())
    assert decode(version, payload, Command) == submit()


def test_wrong_version_is_refused_with_advice():
    _, payload = encode(submit())
    with pytest.raises(ProtocolError, match="upgrade the sender") as err:
        decode(b"\x09", payload, Command)
    assert err.value.reason is RejectReason.WRONG_VERSION


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",
        msgspec.msgpack.encode({"type": "submit"}),
        msgspec.msgpack.encode({"type": "nope", "client_order_id": "c"}),
        # a string field holding invalid UTF-8 (found by the bus fuzzer)
        b"\x82\xa4type\xa6cancel\xafclient_order_id\xa2\xff\xfe",
    ],
)
def test_malformed_payloads_raise_protocol_error_only(payload):
    with pytest.raises(ProtocolError) as err:
        decode(b"\x01", payload, Command)
    assert err.value.reason is RejectReason.MALFORMED
