"""Stable enum codes of the domain. Values are wire and storage codes, never display text."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Venue",
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "InstrumentKind",
    "BookSide",
    "LiquiditySide",
]


class Venue(StrEnum):
    """Trading venues; each Binance market is its own venue (separate books and accounts)."""

    BINANCE = "binance"  # spot
    BINANCE_USDM = "binance_usdm"  # USD-margined futures
    BINANCE_COINM = "binance_coinm"  # coin-margined futures
    BITMEX = "bitmex"
    HUOBI = "huobi"
    SIM = "sim"  # the local simulated venue


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class OrderStatus(StrEnum):
    NEW = "new"  # accepted by the OMS, not yet acknowledged by the venue
    ACKED = "acked"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED)


class InstrumentKind(StrEnum):
    SPOT = "spot"
    LINEAR_PERPETUAL = "linear_perpetual"  # margined and settled in the quote currency
    INVERSE_PERPETUAL = "inverse_perpetual"  # quantity in contracts of a quote amount, settled in base


class BookSide(StrEnum):
    BID = "bid"
    ASK = "ask"


class LiquiditySide(StrEnum):
    MAKER = "maker"
    TAKER = "taker"
