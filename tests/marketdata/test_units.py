"""Fast exact string -> ticks/lots converters agree with the domain's definition."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jtrader.domain import DomainError, InvalidValue, OffTick
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.marketdata.units import price_parser, size_parser

INSTRUMENTS = binance_instruments()
SPOT_BTC, USDM_BTC, COINM_BTC = INSTRUMENTS[0], INSTRUMENTS[2], INSTRUMENTS[4]


def _slow(parse, text: str, minimum: int) -> int | type[DomainError]:
    try:
        value = parse(text)
    except DomainError:
        return DomainError
    return value if value >= minimum else DomainError


def _fast(parser, text: str) -> int | type[DomainError]:
    try:
        return parser(text)
    except DomainError:
        return DomainError


def test_venue_strings_convert_exactly() -> None:
    assert price_parser(USDM_BTC)("61800.30") == 618003
    assert price_parser(SPOT_BTC)("61837.63000000") == 6183763
    assert size_parser(SPOT_BTC)("0.00032000") == 32000
    assert size_parser(COINM_BTC)("1001") == 1001
    assert size_parser(USDM_BTC)("0.000") == 0


@pytest.mark.parametrize(
    ("text", "error"),
    [("61800.35", OffTick), ("NaN", InvalidValue), ("-1.0", InvalidValue), ("0", InvalidValue), ("", InvalidValue)],
)
def test_bad_prices_raise_naming_the_value(text: str, error: type[DomainError]) -> None:
    with pytest.raises(error, match=re.escape(repr(text))):
        price_parser(USDM_BTC)(text)


def test_a_cached_value_is_returned_again_and_errors_are_not_cached() -> None:
    parse = price_parser(USDM_BTC)
    assert parse("61800.30") == parse("61800.30") == 618003
    assert parse.cache == {"61800.30": 618003}
    for _ in range(2):
        with pytest.raises(OffTick):
            parse("61800.35")


decimal_like = st.text(alphabet="0123456789.-+eEnaNI_ \u0663", max_size=14)


@given(instrument=st.sampled_from(INSTRUMENTS), text=decimal_like)
def test_fast_converters_agree_with_the_instrument_on_any_string(instrument, text: str) -> None:
    assert _fast(price_parser(instrument), text) == _slow(instrument.parse_price_ticks, text, 1)
    assert _fast(size_parser(instrument), text) == _slow(instrument.parse_size_lots, text, 0)
