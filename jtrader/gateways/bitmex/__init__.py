"""BitMEX gateway: instruments, ``orderBookL2``/trade/quote/instrument/tradeBin parsing, the live feed.

Exceptions::

    DomainError(ValueError)
     +-- MalformedMessage   a frame that cannot become events (parsing.py); counted by the feed
"""

from jtrader.gateways.bitmex.data import BitmexFeed
from jtrader.gateways.bitmex.instruments import bitmex_instruments
from jtrader.gateways.bitmex.parsing import BitmexParser, FundingUpdate, L2Row

__all__ = ["BitmexFeed", "BitmexParser", "FundingUpdate", "L2Row", "bitmex_instruments"]
