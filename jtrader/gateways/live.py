"""Wire a venue's live feed: which feed class, URL and snapshot fetcher each venue uses.

Exceptions::

    ValueError   a venue without a live feed, or an unknown symbol (UnknownInstrument)
"""

from __future__ import annotations

from collections.abc import Sequence

from jtrader.domain import InstrumentRegistry, Venue
from jtrader.gateways.stream import Feed, SnapshotFetcher

__all__ = ["build_feed", "registry", "snapshot_fetcher_for"]


def registry() -> InstrumentRegistry:
    """Every instrument with a live gateway: Binance (3 markets), BitMEX, Huobi."""
    from jtrader.gateways.binance.instruments import binance_instruments
    from jtrader.gateways.bitmex.instruments import bitmex_instruments
    from jtrader.gateways.huobi.instruments import huobi_instruments

    return InstrumentRegistry([*binance_instruments(), *bitmex_instruments(), *huobi_instruments()])


def build_feed(venue: Venue, symbols: Sequence[str]) -> Feed:
    """The venue's market-data feed for ``symbols`` with its default channels."""
    venue = Venue(venue)
    if venue in (Venue.BINANCE, Venue.BINANCE_USDM, Venue.BINANCE_COINM):
        from jtrader.gateways.binance.data import BinanceFeed

        return BinanceFeed(registry(), venue, symbols)
    if venue is Venue.BITMEX:
        from jtrader.gateways.bitmex.data import BitmexFeed

        return BitmexFeed(registry(), symbols)
    if venue is Venue.HUOBI:
        from jtrader.gateways.huobi.data import HuobiFeed

        return HuobiFeed(registry(), symbols)
    raise ValueError(f"no live feed for venue {venue.value!r}: expected binance*, bitmex or huobi")


def snapshot_fetcher_for(venue: Venue) -> SnapshotFetcher | None:
    """Binance needs REST snapshots (ccxt raw endpoints); BitMEX and Huobi get theirs over the socket."""
    if Venue(venue) in (Venue.BINANCE, Venue.BINANCE_USDM, Venue.BINANCE_COINM):
        from jtrader.gateways.binance.data import binance_rest_snapshot_fetcher

        return binance_rest_snapshot_fetcher(Venue(venue))
    return None
