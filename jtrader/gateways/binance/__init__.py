"""Binance gateway: instrument definitions, capture parsing and local order-book sync.

Spot, USD-M futures and COIN-M futures are separate venues
(``Venue.BINANCE``, ``Venue.BINANCE_USDM``, ``Venue.BINANCE_COINM``).

Exceptions::

    DomainError(ValueError)
     +-- MalformedMessage   a capture line that cannot become events (parsing.py)
"""

from jtrader.gateways.binance.book_sync import BinanceBookSync
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.binance.parsing import (
    BinanceCaptureParser,
    BinanceEvent,
    MalformedMessage,
    MarkPrice,
    detect_binance_venue,
    iter_capture,
)

__all__ = [
    "BinanceBookSync",
    "BinanceCaptureParser",
    "BinanceEvent",
    "MalformedMessage",
    "MarkPrice",
    "binance_instruments",
    "detect_binance_venue",
    "iter_capture",
]
