"""Shared builders of the simulated-venue tests: instruments, a settable clock, venues and commands."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from jtrader.bus.messages import VenueAmend, VenueCancel, VenueSubmit
from jtrader.domain import (
    Instrument,
    InstrumentId,
    InstrumentKind,
    InstrumentRegistry,
    OrderType,
    Price,
    Quantity,
    Side,
    TimeInForce,
    Venue,
)
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.sim import SimVenue, mirror_instrument

BUY, SELL = Side.BUY, Side.SELL
BTC = InstrumentId("BTCUSDT", Venue.SIM)
REGISTRY = InstrumentRegistry(binance_instruments())
USDM_BTC = REGISTRY.get(InstrumentId.parse("BTCUSDT.binance_usdm"))
SIM_BTC = mirror_instrument(USDM_BTC)
CAPTURE = Path("binance") / "usdm" / "btcusdt_20240808.gz"
SLICE_LINES = 2000


def perp(maker: str = "0.0002", taker: str = "0.0005", **kwargs: object) -> Instrument:
    """BTCUSDT.sim, linear perpetual: tick 0.1, lot 0.001, no minimums unless given."""
    return Instrument(
        BTC, InstrumentKind.LINEAR_PERPETUAL, "BTC", "USDT", "USDT", Price("0.1"), Quantity("0.001"),
        maker_fee=Decimal(maker), taker_fee=Decimal(taker), **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def spot(symbol: str = "ETHUSDT") -> Instrument:
    return Instrument(
        InstrumentId(symbol, Venue.SIM), InstrumentKind.SPOT, "ETH", "USDT", "USDT", Price("0.01"),
        Quantity("0.0001"), maker_fee=Decimal("0.001"), taker_fee=Decimal("0.001"),
    )  # fmt: skip


class Clock:
    """A settable venue clock (ns)."""

    def __init__(self, now: int = 1_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def tick(self, ns: int = 1_000) -> int:
        self.now += ns
        return self.now


def make_venue(*instruments: Instrument, clock: Clock | None = None, **kwargs: object) -> SimVenue:
    return SimVenue(instruments or (perp(),), clock or Clock(), **kwargs)  # type: ignore[arg-type]


def submit(
    cid: str,
    side: Side,
    lots: int,
    price: int | None = None,
    *,
    order_type: OrderType | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    trigger: int | None = None,
    instrument: InstrumentId = BTC,
    account_id: str = "",
) -> VenueSubmit:
    if order_type is None:
        order_type = OrderType.LIMIT if price is not None else OrderType.MARKET
    return VenueSubmit(
        client_order_id=cid, instrument_id=instrument, side=side, order_type=order_type, quantity_lots=lots,
        price_ticks=price, trigger_ticks=trigger, time_in_force=tif, account_id=account_id,
    )  # fmt: skip


def cancel(cid: str, instrument: InstrumentId = BTC) -> VenueCancel:
    return VenueCancel(client_order_id=cid, instrument_id=instrument)


def amend(cid: str, lots: int, price: int | None = None, instrument: InstrumentId = BTC) -> VenueAmend:
    return VenueAmend(client_order_id=cid, instrument_id=instrument, quantity_lots=lots, price_ticks=price)


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]
