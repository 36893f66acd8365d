"""BitMEX instrument definitions: the XBTUSD inverse perpetual.

XBTUSD: 1 contract = 1 USD, settled in XBT; ``tickSize`` 0.5 and ``lotSize``
100 contracts as listed by BitMEX (orders must be multiples of the lot;
book sizes are whole contracts). Fees: the regular maker/taker schedule.
"""

from __future__ import annotations

from decimal import Decimal

from jtrader.domain.enums import InstrumentKind, Venue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import Instrument
from jtrader.domain.objects import Price, Quantity

__all__ = ["bitmex_instruments"]


def bitmex_instruments() -> list[Instrument]:
    """Return ``XBTUSD`` (inverse perpetual, quantity in 1-USD contracts)."""
    return [
        Instrument(
            InstrumentId("XBTUSD", Venue.BITMEX),
            InstrumentKind.INVERSE_PERPETUAL,
            "XBT",
            "USD",
            "XBT",
            Price("0.5"),
            Quantity("1"),
            lot_size=Quantity("100"),
            min_quantity=Quantity("100"),
            maker_fee=Decimal("0.0002"),
            taker_fee=Decimal("0.00075"),
            contract_size=Decimal(1),
        )
    ]
