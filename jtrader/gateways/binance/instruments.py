"""Binance instrument definitions for the sample-data markets, as Binance listed them in August 2024.

Sources: the ``exchangeInfo`` filters of each market (``PRICE_FILTER.tickSize``,
``LOT_SIZE.stepSize``, ``NOTIONAL``/``MIN_NOTIONAL``) and the regular (VIP 0)
fee schedule. Every price and size string in the sample captures converts
exactly to these ticks and lots (checked by the tests on the real files).

Spot books and trades carry sizes with 8 decimals, finer than today's order
step (legacy resting orders), so spot ``size_increment`` is 0.00000001 and
``lot_size`` holds the order step.
"""

from __future__ import annotations

from decimal import Decimal

from jtrader.domain.enums import InstrumentKind, Venue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import Instrument
from jtrader.domain.objects import Price, Quantity

__all__ = ["binance_instruments"]

_SPOT_FEE = Decimal("0.001")
_FUTURES_MAKER = Decimal("0.0002")
_FUTURES_TAKER = Decimal("0.0005")


def _spot(symbol: str, base: str, tick: str, lot: str) -> Instrument:
    return Instrument(
        InstrumentId(symbol, Venue.BINANCE),
        InstrumentKind.SPOT,
        base,
        "USDT",
        "USDT",
        Price(tick),
        Quantity("0.00000001"),
        lot_size=Quantity(lot),
        min_quantity=Quantity(lot),
        min_notional=Decimal(5),
        maker_fee=_SPOT_FEE,
        taker_fee=_SPOT_FEE,
    )


def _usdm(symbol: str, base: str, tick: str, step: str, min_notional: int) -> Instrument:
    return Instrument(
        InstrumentId(symbol, Venue.BINANCE_USDM),
        InstrumentKind.LINEAR_PERPETUAL,
        base,
        "USDT",
        "USDT",
        Price(tick),
        Quantity(step),
        min_quantity=Quantity(step),
        min_notional=Decimal(min_notional),
        maker_fee=_FUTURES_MAKER,
        taker_fee=_FUTURES_TAKER,
    )


def _coinm(symbol: str, base: str, tick: str, contract_usd: int) -> Instrument:
    # Quantity is in contracts of ``contract_usd`` USD; margin and PnL settle in the base coin.
    return Instrument(
        InstrumentId(symbol, Venue.BINANCE_COINM),
        InstrumentKind.INVERSE_PERPETUAL,
        base,
        "USD",
        base,
        Price(tick),
        Quantity("1"),
        min_quantity=Quantity("1"),
        maker_fee=_FUTURES_MAKER,
        taker_fee=_FUTURES_TAKER,
        contract_size=Decimal(contract_usd),
    )


def binance_instruments() -> list[Instrument]:
    """Return the six sample-data instruments: spot, USD-M and COIN-M BTC and ETH perpetuals/pairs."""
    return [
        _spot("BTCUSDT", "BTC", "0.01", "0.00001"),
        _spot("ETHUSDT", "ETH", "0.01", "0.0001"),
        _usdm("BTCUSDT", "BTC", "0.10", "0.001", 100),
        _usdm("ETHUSDT", "ETH", "0.01", "0.001", 20),
        _coinm("BTCUSD_PERP", "BTC", "0.1", 100),
        _coinm("ETHUSD_PERP", "ETH", "0.01", 10),
    ]
