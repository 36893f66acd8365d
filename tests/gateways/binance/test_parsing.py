"""Binance capture parsing, on real lines of the sample captures and on hand-broken ones."""

from __future__ import annotations

import gzip
import json
import logging
from collections import Counter
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jtrader.domain import BookDelta, BookSnapshot, InstrumentRegistry, Quote, Side, Trade, Venue
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.binance.parsing import (
    BinanceCaptureParser,
    MalformedMessage,
    MarkPrice,
    detect_binance_venue,
    iter_capture,
)

REGISTRY = InstrumentRegistry(binance_instruments())
VENUE_OF_FOLDER = {"spot": Venue.BINANCE, "usdm": Venue.BINANCE_USDM, "cm": Venue.BINANCE_COINM}
# Lines per file, from ../shared/data/README.md.
README_LINES = {
    "usdm/btcusdt_20240808.gz": 93_954,
    "usdm/ethusdt_20240808.gz": 74_655,
    "spot/btcusdt_20240808.gz": 41_249,
    "spot/btcusdt_20240809.gz": 58_325,
    "spot/ethusdt_20240808.gz": 33_618,
    "spot/ethusdt_20240809.gz": 46_126,
    "cm/btcusd_perp_20240808.gz": 48_270,
    "cm/btcusd_perp_20240809.gz": 50_116,
    "cm/ethusd_perp_20240808.gz": 40_454,
    "cm/ethusd_perp_20240809.gz": 37_860,
}


@cache
def _lines(path: Path) -> tuple[tuple[int, bytes], ...]:
    return tuple(iter_capture(path))


@pytest.fixture(scope="module")
def binance_dir(sample_data_dir: Path) -> Path:
    return sample_data_dir / "binance"


def _first(path: Path, *needles: bytes) -> tuple[int, bytes]:
    for line_no, line in _lines(path):
        if all(needle in line for needle in needles):
            return line_no, line
    raise AssertionError(f"no line with {needles} in {path}")


def _json(line: bytes) -> dict:
    return json.loads(line.partition(b" ")[2])


def _ticks(text: str, increment: str) -> int:
    value = Decimal(text) / Decimal(increment)
    assert value == value.to_integral_value()
    return int(value)


def _parser(venue: Venue, **kwargs: object) -> BinanceCaptureParser:
    return BinanceCaptureParser(REGISTRY, venue, **kwargs)  # type: ignore[arg-type]


# -- real lines, one per kind ------------------------------------------------------------


def test_spot_trade_with_buyer_maker_has_sell_aggressor_and_exact_values(binance_dir: Path) -> None:
    line_no, line = _first(binance_dir / "spot/btcusdt_20240808.gz", b"@trade", b'"m":true')
    data = _json(line)["data"]
    (trade,) = _parser(Venue.BINANCE).parse_line(line, line_no)
    assert isinstance(trade, Trade)
    assert trade.instrument_id == REGISTRY.find("BTCUSDT", "binance").id
    assert trade.aggressor is Side.SELL
    assert trade.price_ticks == _ticks(data["p"], "0.01")
    assert trade.size_lots == _ticks(data["q"], "0.00000001")
    assert trade.trade_id == str(data["t"])
    assert trade.ts_event == data["T"] * 1_000_000
    assert trade.ts_recv == int(line.split(b" ")[0])


def test_futures_trade_with_buyer_taker_has_buy_aggressor(binance_dir: Path) -> None:
    line_no, line = _first(binance_dir / "usdm/btcusdt_20240808.gz", b"@trade", b'"m":false')
    data = _json(line)["data"]
    (trade,) = _parser(Venue.BINANCE_USDM).parse_line(line, line_no)
    assert isinstance(trade, Trade)
    assert trade.aggressor is Side.BUY
    assert trade.price_ticks == _ticks(data["p"], "0.10")
    assert trade.size_lots == _ticks(data["q"], "0.001")
    assert trade.ts_event == data["T"] * 1_000_000


def test_spot_book_ticker_without_venue_time_is_stamped_with_receive_time(binance_dir: Path) -> None:
    line_no, line = _first(binance_dir / "spot/ethusdt_20240808.gz", b"@bookTicker")
    data = _json(line)["data"]
    assert "e" not in data and "E" not in data  # the quirk under test
    (quote,) = _parser(Venue.BINANCE).parse_line(line, line_no)
    assert isinstance(quote, Quote)
    assert quote.ts_event == quote.ts_recv == int(line.split(b" ")[0])
    assert (quote.bid_ticks, quote.ask_ticks) == (_ticks(data["b"], "0.01"), _ticks(data["a"], "0.01"))
    assert (quote.bid_lots, quote.ask_lots) == (_ticks(data["B"], "0.00000001"), _ticks(data["A"], "0.00000001"))
    assert quote.update_id == data["u"]


def test_coinm_book_ticker_is_stamped_with_transaction_time(binance_dir: Path) -> None:
    line_no, line = _first(binance_dir / "cm/btcusd_perp_20240808.gz", b"@bookTicker")
    data = _json(line)["data"]
    (quote,) = _parser(Venue.BINANCE_COINM).parse_line(line, line_no)
    assert isinstance(quote, Quote)
    assert quote.instrument_id == REGISTRY.find("BTCUSD_PERP", "binance_coinm").id
    assert quote.ts_event == data["T"] * 1_000_000
    assert quote.bid_lots == int(data["B"])  # contracts


def test_spot_depth_update_has_no_previous_id_and_keeps_zero_sizes(binance_dir: Path) -> None:
    line_no, line = _first(binance_dir / "spot/btcusdt_20240808.gz", b"@depth", b'"0.00000000"')
    data = _json(line)["data"]
    (delta,) = _parser(Venue.BINANCE).parse_line(line, line_no)
    assert isinstance(delta, BookDelta)
    assert (delta.first_update_id, delta.last_update_id, delta.prev_update_id) == (data["U"], data["u"], -1)
    assert delta.bids == [(_ticks(p, "0.01"), _ticks(q, "0.00000001")) for p, q in data["b"]]
    assert delta.asks == [(_ticks(p, "0.01"), _ticks(q, "0.00000001")) for p, q in data["a"]]
    assert any(size == 0 for _, size in delta.bids + delta.asks)
    assert delta.ts_event == data["E"] * 1_000_000  # spot sends no T


def test_futures_depth_update_carries_previous_id_and_transaction_time(binance_dir: Path) -> None:
    line_no, line = _first(binance_dir / "usdm/ethusdt_20240808.gz", b"@depth")
    data = _json(line)["data"]
    (delta,) = _parser(Venue.BINANCE_USDM).parse_line(line, line_no)
    assert isinstance(delta, BookDelta)
    assert delta.prev_update_id == data["pu"]
    assert delta.ts_event == data["T"] * 1_000_000
    assert len(delta.bids) == len(data["b"]) and len(delta.asks) == len(data["a"])


def test_spot_snapshot_without_symbol_takes_the_capture_symbol(binance_dir: Path) -> None:
    parser = _parser(Venue.BINANCE)
    events = []
    for line_no, line in _lines(binance_dir / "spot/btcusdt_20240808.gz"):
        events.extend(parser.parse_line(line, line_no))
        if b"lastUpdateId" in line:
            break
    snapshot = events[-1]
    assert isinstance(snapshot, BookSnapshot)
    data = _json(line)
    assert snapshot.instrument_id == REGISTRY.find("BTCUSDT", "binance").id
    assert snapshot.last_update_id == data["lastUpdateId"]
    assert len(snapshot.bids) == len(data["bids"]) == 1000
    assert snapshot.bids[0] == (_ticks(data["bids"][0][0], "0.01"), _ticks(data["bids"][0][1], "0.00000001"))
    assert snapshot.ts_event == snapshot.ts_recv  # a spot snapshot has no venue time


def test_snapshot_first_without_symbol_is_rejected_unless_the_parser_is_told(binance_dir: Path) -> None:
    line_no, line = _first(binance_dir / "usdm/btcusdt_20240808.gz", b"lastUpdateId")
    with pytest.raises(MalformedMessage, match="symbol=") as info:
        _parser(Venue.BINANCE_USDM).parse_line(line, line_no)
    assert info.value.line_no == line_no
    (snapshot,) = _parser(Venue.BINANCE_USDM, symbol="BTCUSDT").parse_line(line, line_no)
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.ts_event == _json(line)["T"] * 1_000_000


def test_coinm_snapshot_names_its_symbol(binance_dir: Path) -> None:
    line_no, line = _first(binance_dir / "cm/ethusd_perp_20240808.gz", b"lastUpdateId")
    (snapshot,) = _parser(Venue.BINANCE_COINM).parse_line(line, line_no)
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.instrument_id.symbol == "ETHUSD_PERP"


def test_mark_price_update_becomes_exact_mark_price_event() -> None:
    line = (
        b'1723161255000000000 {"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1723161256000,'
        b'"s":"BTCUSDT","p":"61800.12345678","P":"61790.5","i":"61801.9","r":"-0.00012500","T":1723190400000}}'
    )
    (mark,) = _parser(Venue.BINANCE_USDM).parse_line(line, 3)
    assert isinstance(mark, MarkPrice)
    assert mark.mark_price == Decimal("61800.12345678")
    assert mark.index_price == Decimal("61801.9")
    assert mark.funding_rate == Decimal("-0.000125")
    assert mark.estimated_settle_price == Decimal("61790.5")
    assert mark.next_funding_ns == 1723190400000 * 1_000_000
    assert mark.ts_event == 1723161256000 * 1_000_000
    assert mark.mark_ticks(REGISTRY.find("BTCUSDT", "binance_usdm")) == 618001


@pytest.mark.slow
def test_every_line_of_every_capture_parses_exactly_with_no_rejects(binance_dir: Path) -> None:
    for relative, expected_lines in README_LINES.items():
        path = binance_dir / relative
        parser = _parser(VENUE_OF_FOLDER[path.parent.name])
        kinds: Counter[str] = Counter()
        rejects = []
        lines = _lines(path)
        for line_no, line in lines:
            try:
                kinds.update(type(event).__name__ for event in parser.parse_line(line, line_no))
            except MalformedMessage as exc:
                rejects.append(str(exc))
        assert len(lines) == expected_lines, relative
        assert rejects == [], relative
        assert sum(kinds.values()) == expected_lines, relative  # one event per line
        assert kinds["BookSnapshot"] == (1 if relative.endswith("_20240808.gz") else 0), relative


# -- malformed lines ---------------------------------------------------------------------

_TRADE = (
    '1723161255088176367 {{"stream":"btcusdt@trade","data":{{"e":"trade","E":1723161256322,"T":1723161256322,'
    '"s":"{symbol}","t":5266583935,"p":{price},"q":"0.006","X":"MARKET","m":false}}}}'
)


def _trade_line(price: str = '"61800.30"', symbol: str = "BTCUSDT") -> bytes:
    return _TRADE.format(price=price, symbol=symbol).encode()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (_trade_line('"NaN"'), "'NaN'"),
        (_trade_line('"-61800.30"'), "must be positive"),
        (_trade_line('"0.00"'), "must be positive"),
        (_trade_line('"61,800.30"'), "'61,800.30'"),
        (_trade_line('"6.18e4"'), "'6.18e4'"),
        (_trade_line('"61800.35"'), "not a whole number"),  # off the 0.10 tick
        (_trade_line("61800.30"), "Expected `str`"),  # a JSON number, not a string
        (_trade_line(symbol="DOGEUSDT"), "DOGEUSDT"),
        (_trade_line()[:120], "not valid JSON"),  # truncated
        (b'1723161255088176367 {"stream":"btcusdt@aggTrade","data":{}}', "unknown stream kind 'aggTrade'"),
        (b'1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"depthUpdate"}}', "Object missing"),
        (b'1723161255088176367 {"result":null,"id":1}', "neither a stream message"),
        (b'{"stream":"btcusdt@trade","data":{}}', "receive time"),
        (b"", "receive time"),
        (b"1723161255088176367 not json", "not valid JSON"),
    ],
)
def test_malformed_line_is_rejected_with_its_line_number_and_reason(line: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        _parser(Venue.BINANCE_USDM, source="capture.gz").parse_line(line, 42)
    assert info.value.line_no == 42
    assert reason in str(info.value)
    assert str(info.value).startswith("capture.gz:42: ")


def test_event_type_that_contradicts_the_stream_is_rejected() -> None:
    line = _trade_line().replace(b'"e":"trade"', b'"e":"depthUpdate"')
    with pytest.raises(MalformedMessage, match="does not match the stream"):
        _parser(Venue.BINANCE_USDM).parse_line(line, 1)


def test_crossed_book_ticker_is_rejected() -> None:
    line = (
        b'1 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5,"s":"BTCUSDT","b":"61800.40",'
        b'"B":"1.000","a":"61800.30","A":"1.000","T":1723161256313,"E":1723161256313}}'
    )
    with pytest.raises(MalformedMessage, match="crossed"):
        _parser(Venue.BINANCE_USDM).parse_line(line, 1)


def test_parser_goes_on_after_a_rejected_line() -> None:
    parser = _parser(Venue.BINANCE_USDM)
    with pytest.raises(MalformedMessage):
        parser.parse_line(_trade_line('"NaN"'), 1)
    (trade,) = parser.parse_line(_trade_line(), 2)
    assert isinstance(trade, Trade) and trade.price_ticks == 618003


# -- property: exact round trip ------------------------------------------------------------


@given(
    instrument=st.sampled_from(binance_instruments()),
    ticks=st.integers(min_value=1, max_value=10**12),
    trailing_zeros=st.integers(min_value=0, max_value=10),
    strip=st.booleans(),
)
def test_any_price_string_round_trips_exactly(instrument, ticks: int, trailing_zeros: int, strip: bool) -> None:
    text = format(Decimal(ticks) * instrument.price_increment.as_decimal(), "f")
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    elif trailing_zeros:
        text += ("" if "." in text else ".") + "0" * trailing_zeros
    line = (
        f'1 {{"stream":"x@trade","data":{{"e":"trade","T":1,"s":"{instrument.id.symbol}","t":1,'
        f'"p":"{text}","q":"1","m":true}}}}'
    ).encode()
    (trade,) = BinanceCaptureParser(REGISTRY, instrument.id.venue).parse_line(line, 1)
    normalised = format(Decimal(text).quantize(instrument.price_increment.as_decimal()), "f")
    assert trade.price_ticks == ticks
    assert str(instrument.ticks_to_price(trade.price_ticks)) == normalised


# -- venue detection and file reading -----------------------------------------------------


def test_venue_is_detected_from_the_folder(binance_dir: Path) -> None:
    for relative in README_LINES:
        assert detect_binance_venue(binance_dir / relative) is VENUE_OF_FOLDER[relative.split("/")[0]]


def test_venue_is_detected_from_content_when_the_folder_says_nothing(binance_dir: Path) -> None:
    for relative in README_LINES:
        path = binance_dir / relative
        for needle in (b"@depth", b"@trade", b"@bookTicker"):
            _, line = _first(path, needle)
            got = detect_binance_venue(Path("/captures/misc") / path.name, line)
            assert got is VENUE_OF_FOLDER[relative.split("/")[0]], (relative, needle)


def test_plain_and_gzip_captures_yield_the_same_numbered_lines(tmp_path: Path) -> None:
    text = b"1 a\r\n2 b\n\n3 c"
    plain = tmp_path / "cap.txt"
    plain.write_bytes(text)
    packed = tmp_path / "cap.gz"
    packed.write_bytes(gzip.compress(text))
    expected = [(1, b"1 a"), (2, b"2 b"), (3, b""), (4, b"3 c")]
    assert list(iter_capture(plain)) == expected
    assert list(iter_capture(packed)) == expected


def test_truncated_gzip_yields_every_line_then_warns_or_raises_when_strict(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [f"{i} {{}}".encode() for i in range(5000)]
    packed = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) - 12])  # lose the trailer and some data
    with caplog.at_level(logging.WARNING):
        got = list(iter_capture(path))
    assert [line for _, line in got[:-1]] == lines[: len(got) - 1]
    assert "truncated" in caplog.text
    with pytest.raises(MalformedMessage, match="truncated"):
        list(iter_capture(path, strict=True))


def test_concatenated_gzip_members_are_read_in_order(tmp_path: Path) -> None:
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(b"1 a\n") + gzip.compress(b"2 b\n"))
    assert list(iter_capture(path)) == [(1, b"1 a"), (2, b"2 b")]
