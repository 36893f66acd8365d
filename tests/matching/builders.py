"""Shared builders for the matching tests: instruments, engines and event summaries."""

from __future__ import annotations

from decimal import Decimal

from jtrader.domain import Instrument, InstrumentId, InstrumentKind, Price, Quantity, Venue
from jtrader.matching import EngineEvent, Filled, MatchingEngine


def make_instrument(
    maker_fee: str = "0", taker_fee: str = "0", kind: InstrumentKind = InstrumentKind.SPOT
) -> Instrument:
    """BTCUSDT-like: tick 0.1, lot 0.001."""
    return Instrument(
        InstrumentId("BTCUSDT", Venue.SIM),
        kind,
        "BTC",
        "USDT",
        "USDT" if kind is not InstrumentKind.INVERSE_PERPETUAL else "BTC",
        Price("0.1"),
        Quantity("0.001"),
        maker_fee=Decimal(maker_fee),
        taker_fee=Decimal(taker_fee),
    )


def make_engine(**kwargs: object) -> MatchingEngine:
    """An engine on :func:`make_instrument`, with a deliberately tiny ladder and pool so growth is exercised."""
    kwargs.setdefault("initial_levels", 16)
    kwargs.setdefault("initial_orders", 4)
    return MatchingEngine(make_instrument(), **kwargs)  # type: ignore[arg-type]


def kinds(events: list[EngineEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def fills(events: list[EngineEvent]) -> list[tuple[int, int, int, str]]:
    """``(order_id, price_ticks, lots, maker|taker)`` of each fill, in order."""
    return [(e.order_id, e.price_ticks, e.lots, e.liquidity.value) for e in events if isinstance(e, Filled)]


def taker_fills(events: list[EngineEvent]) -> list[tuple[int, int, int]]:
    """``(maker order id, price, lots)`` of each trade, as the taker saw it."""
    return [
        (e.counterparty_order_id, e.price_ticks, e.lots)
        for e in events
        if isinstance(e, Filled) and e.liquidity.value == "taker"
    ]
