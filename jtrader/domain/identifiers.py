"""Identifiers: never bare strings in signatures."""

from __future__ import annotations

import msgspec

from jtrader.domain.enums import Venue
from jtrader.domain.errors import InvalidValue

__all__ = ["InstrumentId", "ClientOrderId", "VenueOrderId", "TradeId", "AccountId", "StrategyId"]


# gc=False: two values, no cycle possible; every order the OMS keeps holds one.
class InstrumentId(msgspec.Struct, frozen=True, order=True, array_like=True, gc=False):
    """An instrument on a venue, e.g. ``InstrumentId("BTCUSDT", Venue.BINANCE_USDM)``.

    The symbol is the venue's own spelling; ``str()`` gives ``SYMBOL.venue``.

    Example::

        >>> InstrumentId.parse("BTCUSDT.binance_usdm").venue
        <Venue.BINANCE_USDM: 'binance_usdm'>
    """

    symbol: str
    venue: Venue

    def __post_init__(self) -> None:
        symbol = self.symbol  # checked on every decode: plain `in` tests, no generator
        if not symbol or " " in symbol or "." in symbol or "/" in symbol or "\\" in symbol:
            raise InvalidValue(
                f"instrument symbol: expected a venue symbol without spaces, dots or slashes, got {self.symbol!r}"
            )

    @classmethod
    def parse(cls, text: str) -> InstrumentId:
        """Parse ``SYMBOL.venue``; raises InvalidValue naming the known venues."""
        symbol, dot, venue = text.rpartition(".")
        if not dot:
            raise InvalidValue(f"instrument id: expected 'SYMBOL.venue', got {text!r}")
        try:
            return cls(symbol, Venue(venue))
        except ValueError:
            raise InvalidValue(
                f"instrument id {text!r}: unknown venue {venue!r}, expected one of {', '.join(v.value for v in Venue)}"
            ) from None

    def __str__(self) -> str:
        return f"{self.symbol}.{self.venue.value}"


# Plain aliases keep the hot path cheap while naming what a string is.
ClientOrderId = str
VenueOrderId = str
TradeId = str
AccountId = str
StrategyId = str
