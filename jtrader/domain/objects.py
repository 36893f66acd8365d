"""Exact fixed-point values: :class:`Price` and :class:`Quantity`.

A value is an integer ``raw`` and a decimal ``precision``: ``raw * 10**-precision``.
Strings from venues are parsed digit by digit, never through a float, so
``Price.from_str("61800.30")`` is exactly 61800.30. The hot path works on
instrument ticks and lots (plain ``int``); these types are the edges.

Exceptions::

    DomainError(ValueError)
     +-- InvalidValue      NaN, infinity, a malformed number, a negative size,
                           or more decimals than allowed
"""

from __future__ import annotations

from decimal import Decimal
from functools import total_ordering
from typing import Any, ClassVar

from jtrader.domain.errors import InvalidValue

__all__ = ["Price", "Quantity", "parse_decimal", "MAX_PRECISION"]

MAX_PRECISION = 18
_POW10 = [10**i for i in range(MAX_PRECISION + 1)]


def parse_decimal(text: str, field: str = "value") -> tuple[int, int]:
    """Parse a decimal string exactly into ``(raw, precision)``.

    Trailing fractional zeros are kept ("61800.30" -> (6180030, 2)). Raises
    :class:`InvalidValue` naming ``field`` for anything that is not a plain
    decimal number (NaN, infinity, exponents, empty strings).
    """
    s = text.strip() if isinstance(text, str) else text
    if not isinstance(s, str) or not s:
        raise InvalidValue(f"{field}: expected a decimal string like '61800.30', got {text!r}")
    negative = s[0] == "-"
    body = s[1:] if s[0] in "+-" else s
    whole, _, frac = body.partition(".")
    if not (whole or frac) or not (whole.isdigit() or whole == "") or not (frac.isdigit() or frac == ""):
        raise InvalidValue(f"{field}: expected a decimal string like '61800.30', got {text!r}")
    if not whole.isascii() or not frac.isascii():
        raise InvalidValue(f"{field}: expected ASCII digits, got {text!r}")
    precision = len(frac)
    if precision > MAX_PRECISION:
        stripped = frac.rstrip("0")
        if len(stripped) > MAX_PRECISION:
            raise InvalidValue(f"{field}: {text!r} has more than {MAX_PRECISION} decimals")
        frac = frac[:MAX_PRECISION]
        precision = MAX_PRECISION
    raw = int((whole or "0") + frac)
    return (-raw if negative else raw), precision


def _coerce(value: Any, field: str) -> tuple[int, int]:
    if isinstance(value, str):
        return parse_decimal(value, field)
    if isinstance(value, bool):
        raise InvalidValue(f"{field}: expected a number, got {value!r}")
    if isinstance(value, int):
        return value, 0
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidValue(f"{field}: expected a finite number, got {value!r}")
        return parse_decimal(format(value, "f"), field)
    if isinstance(value, _Fixed):
        return value.raw, value.precision
    raise InvalidValue(
        f"{field}: expected a decimal string, int or Decimal (floats are inexact; use str), got {value!r}"
    )


@total_ordering
class _Fixed:
    """Shared exact arithmetic for Price and Quantity."""

    __slots__ = ("precision", "raw")
    _field: ClassVar[str] = "value"
    _allow_negative: ClassVar[bool] = True

    raw: int
    precision: int

    def __init__(self, value: str | int | Decimal | _Fixed, precision: int | None = None) -> None:
        raw, prec = _coerce(value, self._field)
        if precision is not None:
            if not 0 <= precision <= MAX_PRECISION:
                raise InvalidValue(f"{self._field}: precision must be 0..{MAX_PRECISION}, got {precision}")
            if precision >= prec:
                raw *= _POW10[precision - prec]
            else:
                scale = _POW10[prec - precision]
                if raw % scale:
                    raise InvalidValue(f"{self._field}: {value!r} has more than {precision} decimals")
                raw //= scale
            prec = precision
        if raw < 0 and not self._allow_negative:
            raise InvalidValue(f"{self._field}: must not be negative, got {value!r}")
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "precision", prec)

    @classmethod
    def from_raw(cls, raw: int, precision: int) -> Any:
        """Build from an integer mantissa without parsing (trusted, hot path)."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "raw", raw)
        object.__setattr__(obj, "precision", precision)
        return obj

    @classmethod
    def from_str(cls, text: str) -> Any:
        """Parse a venue string exactly; raises InvalidValue naming the field."""
        return cls(text)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _aligned(self, other: Any) -> tuple[int, int, int]:
        if not isinstance(other, _Fixed):
            other = type(self)(other)
        p = max(self.precision, other.precision)
        return self.raw * _POW10[p - self.precision], other.raw * _POW10[p - other.precision], p

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (_Fixed, int, Decimal)):
            a, b, _ = self._aligned(other)
            return a == b
        return NotImplemented

    def __lt__(self, other: Any) -> bool:
        a, b, _ = self._aligned(other)
        return a < b

    def __hash__(self) -> int:
        # Equal values hash alike whatever their precision.
        return hash(self.as_decimal())

    def __add__(self, other: Any) -> Any:
        a, b, p = self._aligned(other)
        return type(self).from_raw(a + b, p)

    def __sub__(self, other: Any) -> Any:
        a, b, p = self._aligned(other)
        result = type(self).from_raw(a - b, p)
        if a - b < 0 and not self._allow_negative:
            raise InvalidValue(f"{self._field}: {self} - {other} would be negative")
        return result

    def __neg__(self) -> Any:
        if not self._allow_negative:
            raise InvalidValue(f"{self._field}: cannot negate {self}")
        return type(self).from_raw(-self.raw, self.precision)

    def __bool__(self) -> bool:
        return self.raw != 0

    def as_decimal(self) -> Decimal:
        return Decimal(self.raw).scaleb(-self.precision)

    def as_double(self) -> float:
        """The nearest float (correctly rounded: int / int is exact-rounded in Python)."""
        return self.raw / _POW10[self.precision]

    def __float__(self) -> float:
        return self.as_double()

    def __str__(self) -> str:
        sign = "-" if self.raw < 0 else ""
        digits = str(abs(self.raw)).rjust(self.precision + 1, "0")
        if self.precision == 0:
            return sign + digits
        return f"{sign}{digits[: -self.precision]}.{digits[-self.precision :]}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self}')"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).from_raw, (self.raw, self.precision))


class Price(_Fixed):
    """An exact price; may be negative (spreads, PnL-like quantities).

    Example::

        >>> Price.from_str("61800.30") + Price("0.1")
        Price('61800.40')
    """

    __slots__ = ()
    _field = "price"
    _allow_negative = True


class Quantity(_Fixed):
    """An exact, non-negative size.

    Example::

        >>> Quantity("0.006").precision
        3
    """

    __slots__ = ()
    _field = "quantity"
    _allow_negative = False
