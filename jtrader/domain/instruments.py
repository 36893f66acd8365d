"""Instruments: reference data and exact conversion between values and ticks/lots.

The hot path counts prices in ticks (``price_increment``) and sizes in lots of
``size_increment`` (the finest size the venue publishes). ``lot_size`` is the
order-quantity step, which may be coarser (Binance spot books hold legacy
sizes finer than today's order step).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from jtrader.domain.enums import InstrumentKind
from jtrader.domain.errors import InvalidValue, OffTick, UnknownInstrument
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.objects import _POW10, Price, Quantity, parse_decimal

__all__ = ["Instrument", "InstrumentRegistry"]

Rounding = Literal["down", "up", "nearest"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument.

    Example::

        >>> from jtrader.domain.enums import Venue
        >>> btc = Instrument(InstrumentId("BTCUSDT", Venue.BINANCE_USDM), InstrumentKind.LINEAR_PERPETUAL,
        ...                  "BTC", "USDT", "USDT", Price("0.10"), Quantity("0.001"))
        >>> btc.parse_price_ticks("61800.30")
        618003
    """

    id: InstrumentId
    kind: InstrumentKind
    base: str
    quote: str
    settle: str
    price_increment: Price
    size_increment: Quantity
    lot_size: Quantity | None = None  # order step; defaults to size_increment
    min_quantity: Quantity | None = None
    min_notional: Decimal = Decimal(0)
    maker_fee: Decimal = Decimal(0)  # fraction of notional; negative is a rebate
    taker_fee: Decimal = Decimal(0)
    contract_size: Decimal = Decimal(1)  # quote units per contract for inverse contracts
    _tick: tuple[int, int] = field(init=False, repr=False, compare=False)
    _lot: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.price_increment.raw <= 0:
            raise InvalidValue(f"{self.id}: price_increment must be positive, got {self.price_increment}")
        if self.size_increment.raw <= 0:
            raise InvalidValue(f"{self.id}: size_increment must be positive, got {self.size_increment}")
        if self.contract_size <= 0:
            raise InvalidValue(f"{self.id}: contract_size must be positive, got {self.contract_size}")
        object.__setattr__(self, "_tick", (self.price_increment.raw, self.price_increment.precision))
        object.__setattr__(self, "_lot", (self.size_increment.raw, self.size_increment.precision))
        if self.lot_size is not None:
            self.size_to_lots(self.lot_size)  # must be a whole number of size increments

    @property
    def tick_size(self) -> Price:
        return self.price_increment

    @property
    def order_lot_size(self) -> Quantity:
        return self.lot_size if self.lot_size is not None else self.size_increment

    @property
    def is_inverse(self) -> bool:
        return self.kind is InstrumentKind.INVERSE_PERPETUAL

    # -- exact conversions ---------------------------------------------------

    @staticmethod
    def _to_units(raw: int, precision: int, unit: tuple[int, int], what: str, shown: object) -> int:
        unit_raw, unit_precision = unit
        numerator = raw * _POW10[unit_precision]
        denominator = unit_raw * _POW10[precision]
        units, remainder = divmod(numerator, denominator)
        if remainder:
            raise OffTick(f"{what}: {shown} is not a whole number of {what} increments")
        return units

    def price_to_ticks(self, price: Price) -> int:
        """Return the price in ticks; raises OffTick if it lies between ticks."""
        return self._to_units(price.raw, price.precision, self._tick, f"{self.id} price", price)

    def size_to_lots(self, size: Quantity) -> int:
        """Return the size in size increments; raises OffTick if it is finer."""
        return self._to_units(size.raw, size.precision, self._lot, f"{self.id} size", size)

    def parse_price_ticks(self, text: str) -> int:
        """Parse a venue price string straight to ticks, exactly (no float on the way)."""
        raw, precision = parse_decimal(text, "price")
        return self._to_units(raw, precision, self._tick, f"{self.id} price", repr(text))

    def parse_size_lots(self, text: str) -> int:
        """Parse a venue size string straight to lots, exactly; negative sizes are rejected."""
        raw, precision = parse_decimal(text, "size")
        if raw < 0:
            raise InvalidValue(f"{self.id} size: must not be negative, got {text!r}")
        return self._to_units(raw, precision, self._lot, f"{self.id} size", repr(text))

    def ticks_to_price(self, ticks: int) -> Price:
        raw, precision = self._tick
        return Price.from_raw(ticks * raw, precision)

    def lots_to_size(self, lots: int) -> Quantity:
        raw, precision = self._lot
        return Quantity.from_raw(lots * raw, precision)

    def ticks_to_float(self, ticks: int) -> float:
        raw, precision = self._tick
        return ticks * raw / _POW10[precision]

    def lots_to_float(self, lots: int) -> float:
        raw, precision = self._lot
        return lots * raw / _POW10[precision]

    def round_price(self, price: Price, rounding: Rounding = "nearest") -> Price:
        """Round to a whole tick: ``down`` for bids, ``up`` for asks, or ``nearest`` (half up)."""
        raw, precision = self._tick
        numerator = price.raw * _POW10[precision]
        denominator = raw * _POW10[price.precision]
        if rounding == "down":
            ticks = numerator // denominator
        elif rounding == "up":
            ticks = -((-numerator) // denominator)
        else:
            ticks = (2 * numerator + denominator) // (2 * denominator)
        return self.ticks_to_price(ticks)

    def round_size_down(self, size: Quantity) -> Quantity:
        """Round down to a whole order lot (never buy or sell more than asked)."""
        lot = self.order_lot_size
        p = max(lot.precision, size.precision)
        a, b = size.raw * _POW10[p - size.precision], lot.raw * _POW10[p - lot.precision]
        return Quantity.from_raw((a // b) * b, p)

    # -- accounting (Decimal: off the hot path) ------------------------------

    def notional(self, price: Price, size: Quantity) -> Decimal:
        """Notional value in the settlement currency.

        Spot and linear: ``price * size * contract_size`` (quote). Inverse:
        ``size * contract_size / price`` (base), since one contract is a fixed
        quote amount.
        """
        if self.is_inverse:
            return size.as_decimal() * self.contract_size / price.as_decimal()
        return price.as_decimal() * size.as_decimal() * self.contract_size


class InstrumentRegistry:
    """Instruments by id; lookup of an unknown id raises UnknownInstrument with the known ids."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_id: dict[InstrumentId, Instrument] = {}
        for instrument in instruments:
            self.add(instrument)

    def add(self, instrument: Instrument) -> None:
        self._by_id[instrument.id] = instrument

    def get(self, instrument_id: InstrumentId) -> Instrument:
        try:
            return self._by_id[instrument_id]
        except KeyError:
            known = ", ".join(sorted(str(i) for i in self._by_id)) or "none"
            raise UnknownInstrument(
                f"unknown instrument {instrument_id}: known instruments are {known}; add its definition first"
            ) from None

    def find(self, symbol: str, venue: str) -> Instrument:
        """Look up by venue symbol and venue code (symbol case-insensitive)."""
        for instrument in self._by_id.values():
            if instrument.id.venue.value == venue and instrument.id.symbol.upper() == symbol.upper():
                return instrument
        raise UnknownInstrument(f"unknown instrument {symbol!r} on venue {venue!r}; add its definition first")

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self._by_id

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
