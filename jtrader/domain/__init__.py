"""Domain types of jtrader: identifiers, exact values, instruments, orders and market data.

Every other package speaks these types; see ``../shared/ARCHITECTURE.md``.
"""

from jtrader.domain.data import Bar, BookDelta, BookSnapshot, BookStatus, Level, MarketEvent, Quote, Trade
from jtrader.domain.enums import (
    BookSide,
    InstrumentKind,
    LiquiditySide,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Venue,
)
from jtrader.domain.errors import DomainError, InvalidValue, OffTick, UnknownInstrument
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import Instrument, InstrumentRegistry
from jtrader.domain.objects import Price, Quantity, parse_decimal
from jtrader.domain.orders import Fill, Order, Position, move_balances

__all__ = [
    "Bar",
    "BookDelta",
    "BookSide",
    "BookSnapshot",
    "BookStatus",
    "DomainError",
    "Fill",
    "Instrument",
    "InstrumentId",
    "InstrumentKind",
    "InstrumentRegistry",
    "InvalidValue",
    "Level",
    "LiquiditySide",
    "MarketEvent",
    "OffTick",
    "Order",
    "OrderStatus",
    "OrderType",
    "Position",
    "move_balances",
    "Price",
    "Quantity",
    "Quote",
    "Side",
    "TimeInForce",
    "Trade",
    "UnknownInstrument",
    "Venue",
    "parse_decimal",
]
