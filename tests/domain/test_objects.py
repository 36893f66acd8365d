from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jtrader.domain import InvalidValue, Price, Quantity, parse_decimal

decimals = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=8, allow_nan=False)
sizes = st.decimals(min_value=Decimal(0), max_value=Decimal("1e12"), places=8, allow_nan=False)


def test_price_parsed_from_venue_string_is_exact_and_keeps_its_precision():
    price = Price.from_str("61800.30")
    assert (price.raw, price.precision) == (6180030, 2)
    assert str(price) == "61800.30"
    assert price.as_decimal() == Decimal("61800.30")


def test_float_input_is_refused_because_it_is_inexact():
    with pytest.raises(InvalidValue, match="floats are inexact"):
        Price(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "", " ", "1e5", "1.2.3", "abc", "--1", "1,5", "١٢"])
def test_malformed_number_is_rejected_with_the_field_and_the_value(bad):
    with pytest.raises(InvalidValue) as err:
        Price.from_str(bad)
    assert "price" in str(err.value)
    assert repr(bad) in str(err.value)


def test_negative_quantity_is_rejected():
    with pytest.raises(InvalidValue, match="quantity: must not be negative"):
        Quantity("-0.5")


def test_eighteen_decimal_venue_strings_with_trailing_zeros_parse():
    assert Price("5712.000000000000000000") == Price("5712")
    with pytest.raises(InvalidValue, match="more than 18 decimals"):
        Price("1.0000000000000000001")


def test_precision_argument_rescales_or_refuses_to_lose_digits():
    assert Price("1.5", precision=3).raw == 1500
    with pytest.raises(InvalidValue, match="more than 1 decimals"):
        Price("1.25", precision=1)


@given(decimals)
def test_parse_of_str_round_trips_exactly(value):
    text = format(value, "f")
    price = Price.from_str(text)
    assert price.as_decimal() == value
    assert Price.from_str(str(price)) == price


@given(decimals, decimals)
def test_addition_and_subtraction_equal_decimal_arithmetic(a, b):
    pa, pb = Price(format(a, "f")), Price(format(b, "f"))
    assert (pa + pb).as_decimal() == a + b
    assert (pa - pb).as_decimal() == a - b
    assert (pa < pb) == (a < b)
    assert (pa == pb) == (a == b)


@given(decimals)
def test_equal_values_of_different_precision_compare_and_hash_equal(value):
    text = format(value, "f")
    padded = text + "000" if "." in text else text + ".000"
    assert Price(text) == Price(padded)
    assert hash(Price(text)) == hash(Price(padded))


@given(sizes, sizes)
def test_quantity_subtraction_below_zero_is_refused(a, b):
    qa, qb = Quantity(format(a, "f")), Quantity(format(b, "f"))
    if a >= b:
        assert (qa - qb).as_decimal() == a - b
    else:
        with pytest.raises(InvalidValue):
            qa - qb


@given(st.text(max_size=12))
def test_parse_decimal_either_parses_exactly_or_raises_invalid_value(text):
    try:
        raw, precision = parse_decimal(text)
    except InvalidValue:
        return
    assert Decimal(raw).scaleb(-precision) == Decimal(text.strip())


def test_values_are_immutable():
    price = Price("1")
    with pytest.raises(AttributeError):
        price.raw = 2  # type: ignore[misc]
