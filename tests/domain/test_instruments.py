from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jtrader.domain import (
    Instrument,
    InstrumentId,
    InstrumentKind,
    InstrumentRegistry,
    InvalidValue,
    OffTick,
    Price,
    Quantity,
    UnknownInstrument,
    Venue,
)


def linear() -> Instrument:
    return Instrument(
        InstrumentId("BTCUSDT", Venue.BINANCE_USDM),
        InstrumentKind.LINEAR_PERPETUAL,
        "BTC",
        "USDT",
        "USDT",
        Price("0.10"),
        Quantity("0.001"),
    )


def inverse() -> Instrument:
    return Instrument(
        InstrumentId("BTCUSD_PERP", Venue.BINANCE_COINM),
        InstrumentKind.INVERSE_PERPETUAL,
        "BTC",
        "USD",
        "BTC",
        Price("0.1"),
        Quantity("1"),
        contract_size=Decimal(100),
    )


def test_venue_price_string_converts_to_ticks_exactly():
    assert linear().parse_price_ticks("61800.30") == 618003
    assert linear().parse_size_lots("0.006") == 6


def test_price_between_ticks_is_rejected_naming_the_instrument():
    with pytest.raises(OffTick, match=r"BTCUSDT\.binance_usdm price: '61800.35'"):
        linear().parse_price_ticks("61800.35")


def test_negative_size_string_is_rejected():
    with pytest.raises(InvalidValue, match="must not be negative"):
        linear().parse_size_lots("-1")


@given(st.integers(min_value=1, max_value=10**9))
def test_ticks_round_trip_through_price(ticks):
    instrument = linear()
    assert instrument.price_to_ticks(instrument.ticks_to_price(ticks)) == ticks
    assert instrument.ticks_to_float(ticks) == float(instrument.ticks_to_price(ticks).as_decimal())


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e7"), places=4, allow_nan=False))
def test_rounding_to_tick_brackets_the_value_and_lands_on_a_tick(value):
    instrument = linear()
    price = Price(format(value, "f"))
    down, up, nearest = (instrument.round_price(price, mode) for mode in ("down", "up", "nearest"))
    assert down <= price <= up
    assert (up - down).as_decimal() in (Decimal(0), Decimal("0.1"))
    for rounded in (down, up, nearest):
        instrument.price_to_ticks(rounded)  # raises if off tick
    assert abs(nearest.as_decimal() - value) <= Decimal("0.05")


@given(st.decimals(min_value=Decimal(0), max_value=Decimal("1e6"), places=6, allow_nan=False))
def test_size_rounding_never_exceeds_the_request(value):
    instrument = linear()
    rounded = instrument.round_size_down(Quantity(format(value, "f")))
    assert rounded.as_decimal() <= value < rounded.as_decimal() + Decimal("0.001")


def test_inverse_notional_is_in_base_currency():
    # 10 contracts of 100 USD at 50,000 USD/BTC are worth 0.02 BTC.
    assert inverse().notional(Price("50000"), Quantity("10")) == Decimal("0.02")
    assert linear().notional(Price("50000"), Quantity("0.5")) == Decimal("25000.0")


def test_lot_size_must_be_whole_size_increments():
    with pytest.raises(OffTick):
        Instrument(
            InstrumentId("X", Venue.SIM),
            InstrumentKind.SPOT,
            "X",
            "Y",
            "Y",
            Price("0.01"),
            Quantity("0.01"),
            lot_size=Quantity("0.005"),
        )


def test_registry_lookup_of_unknown_instrument_lists_the_known_ones():
    registry = InstrumentRegistry([linear()])
    with pytest.raises(UnknownInstrument, match=r"known instruments are BTCUSDT\.binance_usdm"):
        registry.get(InstrumentId("ETHUSDT", Venue.BINANCE_USDM))
    assert registry.find("btcusdt", "binance_usdm") is registry.get(linear().id)


def test_instrument_id_parses_and_rejects_unknown_venues():
    assert InstrumentId.parse("BTCUSD_PERP.binance_coinm") == inverse().id
    with pytest.raises(InvalidValue, match="unknown venue 'nasdaq'"):
        InstrumentId.parse("AAPL.nasdaq")
