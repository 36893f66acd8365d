"""The bundled instrument definitions of every venue, in one registry.

Light on purpose (no pandas or pyarrow): the desk processes build it at start-up.
"""

from __future__ import annotations

from jtrader.domain import InstrumentRegistry
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.bitmex.instruments import bitmex_instruments
from jtrader.gateways.huobi.instruments import huobi_instruments

__all__ = ["default_registry"]


def default_registry() -> InstrumentRegistry:
    """Every instrument the bundled venue definitions know (Binance, BitMEX, Huobi)."""
    return InstrumentRegistry([*binance_instruments(), *bitmex_instruments(), *huobi_instruments()])
