"""Fast, exact conversion of venue decimal strings to instrument ticks and lots.

Feed handlers convert every price and size string of every message; going
through :meth:`Instrument.parse_price_ticks` each time costs a few
microseconds. The converters here give the same result with a string-digit
fast path and a bounded cache (book levels repeat the same strings all day);
anything unusual, and every error, goes through the domain's exact arithmetic
(``parse_decimal`` then ``price_to_ticks``/``size_to_lots``), with messages
naming the instrument and the bad value.

Exceptions (from :mod:`jtrader.domain.errors`)::

    DomainError(ValueError)
     +-- InvalidValue   NaN, infinity, a malformed number, a non-positive price or a negative size
     +-- OffTick        a value that is not a whole number of ticks or lots
"""

from __future__ import annotations

from collections.abc import Callable

from jtrader.domain.errors import InvalidValue, OffTick
from jtrader.domain.instruments import Instrument
from jtrader.domain.objects import Price, Quantity, parse_decimal

__all__ = ["UnitParser", "price_parser", "size_parser"]

_CACHE_LIMIT = 200_000  # entries per converter; cleared when full (memory stays bounded)
_ZEROS = "0" * 64


def _make(
    cache: dict[str, int], unit_raw: int, unit_precision: int, slow: Callable[[str], int], minimum: int, what: str
) -> Callable[[str], int]:
    def convert(text: str) -> int:
        cached = cache.get(text)
        if cached is not None:
            return cached
        value = 0
        whole, _, frac = text.partition(".")
        extra = len(frac) - unit_precision
        if extra > 0:
            digits = whole + frac[:unit_precision]
            exact = frac[unit_precision:] == _ZEROS[:extra]
        else:
            digits = whole + frac + _ZEROS[:-extra]
            exact = True
        if exact and whole and digits.isascii() and digits.isdigit():
            value = int(digits)
            if unit_raw != 1:
                value, remainder = divmod(value, unit_raw)
                exact = not remainder
        else:
            exact = False
        if not exact:
            # The slow path is the definition: it accepts what the domain accepts and
            # raises InvalidValue/OffTick with a message naming the value.
            value = slow(text)
        if value < minimum:
            raise InvalidValue(f"{what}: must be {'positive' if minimum else 'non-negative'}, got {text!r}")
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

    return convert


class UnitParser:
    """Exact string -> units (ticks or lots) conversion with a cache of the strings already seen.

    Call it (or its ``parse`` attribute, a plain function) with a string.
    ``cache`` maps strings already converted to their value; hot loops may
    read it first (``cache[s] if s in cache else parse(s)``) to skip a call.
    The dict object is never replaced, only cleared when it reaches its limit.
    """

    __slots__ = ("cache", "parse")

    def __init__(self, unit_raw: int, unit_precision: int, slow: Callable[[str], int], minimum: int, what: str) -> None:
        self.cache: dict[str, int] = {}
        self.parse: Callable[[str], int] = _make(self.cache, unit_raw, unit_precision, slow, minimum, what)

    def __call__(self, text: str) -> int:
        return self.parse(text)


def price_parser(instrument: Instrument) -> UnitParser:
    """Return a parser mapping a price string to whole ticks of ``instrument``, exactly.

    The result equals ``instrument.parse_price_ticks(text)``; prices that are
    zero or negative raise InvalidValue, prices between ticks raise OffTick.
    """
    increment = instrument.price_increment
    what = f"{instrument.id} price"

    def slow(text: str) -> int:  # instrument.parse_price_ticks, with errors naming the instrument
        try:
            return instrument.price_to_ticks(Price.from_raw(*parse_decimal(text, what)))
        except OffTick:
            raise OffTick(f"{what}: {text!r} is not a whole number of {increment} ticks") from None

    return UnitParser(increment.raw, increment.precision, slow, 1, what)


def size_parser(instrument: Instrument) -> UnitParser:
    """Return a parser mapping a size string to whole lots (size increments) of ``instrument``.

    The result equals ``instrument.parse_size_lots(text)``; zero is allowed
    (it deletes a book level), negative sizes raise InvalidValue, sizes finer
    than the size increment raise OffTick.
    """
    increment = instrument.size_increment
    what = f"{instrument.id} size"

    def slow(text: str) -> int:  # instrument.parse_size_lots, with errors naming the instrument
        raw, precision = parse_decimal(text, what)
        if raw < 0:
            raise InvalidValue(f"{what}: must not be negative, got {text!r}")
        try:
            return instrument.size_to_lots(Quantity.from_raw(raw, precision))
        except OffTick:
            raise OffTick(f"{what}: {text!r} is finer than the size increment {increment}") from None

    return UnitParser(increment.raw, increment.precision, slow, 0, what)
