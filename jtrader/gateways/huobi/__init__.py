"""Huobi gateway: spot instrument definitions and the 1-minute kline archive reader.

Exceptions::

    DomainError(ValueError)
     +-- MalformedMessage   a kline row (or a whole archive) that cannot be read (parsing.py)
"""

from jtrader.gateways.huobi.instruments import huobi_instruments
from jtrader.gateways.huobi.parsing import MalformedMessage, iter_kline_zip, symbol_from_filename

__all__ = ["MalformedMessage", "huobi_instruments", "iter_kline_zip", "symbol_from_filename"]
