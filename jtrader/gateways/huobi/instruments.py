"""Huobi spot instrument definitions for the sample kline data.

Tick and size increments are Huobi's ``price-precision`` / ``amount-precision``
for the pairs. The kline archives print prices with 18 decimals, all trailing
zeros beyond the second: every open/high/low/close in the 2017 and 2020
samples (including the illiquid first minutes after the October 2017 listing)
is a whole number of 0.01 ticks, so 0.01 is also what the data needs.
Fees are the standard spot rate of the period (0.2 % maker and taker).
"""

from __future__ import annotations

from decimal import Decimal

from jtrader.domain.enums import InstrumentKind, Venue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import Instrument
from jtrader.domain.objects import Price, Quantity

__all__ = ["huobi_instruments"]

_FEE = Decimal("0.002")


def _spot(symbol: str, base: str, tick: str, size: str) -> Instrument:
    return Instrument(
        InstrumentId(symbol, Venue.HUOBI),
        InstrumentKind.SPOT,
        base,
        "USDT",
        "USDT",
        Price(tick),
        Quantity(size),
        maker_fee=_FEE,
        taker_fee=_FEE,
    )


def huobi_instruments() -> list[Instrument]:
    """Return the sample-data Huobi spot pairs ``btcusdt`` and ``ethusdt`` (Huobi's lower-case symbols)."""
    return [
        _spot("btcusdt", "BTC", "0.01", "0.000001"),
        _spot("ethusdt", "ETH", "0.01", "0.0001"),
    ]
