"""Market data, venue-independent: the L2 order book, exact string-to-units converters, errors.

Venue specifics (message formats, sequencing rules) live in ``jtrader.gateways.<venue>``.

Exceptions::

    DomainError(ValueError)
     +-- MalformedMessage   a venue message or row that cannot become an event
"""

from jtrader.marketdata.book import OrderBook
from jtrader.marketdata.errors import MalformedMessage
from jtrader.marketdata.units import UnitParser, price_parser, size_parser

__all__ = ["MalformedMessage", "OrderBook", "UnitParser", "price_parser", "size_parser"]
