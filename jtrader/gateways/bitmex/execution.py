"""BitMEX order entry: none. The exchange closed on 2026-09-23 04:00 UTC.

BitMEX announced on 2026-07-23 that it would cease operations on 23 September
2026 at 04:00 UTC (https://www.bitmex.com/blog/bitmex-closure), and ccxt
dropped the exchange afterwards: the pinned ccxt (4.5.90) has no
``ccxt.bitmex``. There is no venue to send orders to, so a live run naming
BitMEX stops at start-up with :data:`BITMEX_CLOSED` instead of failing on its
first order. The BitMEX market-data parsing and the recorded captures in this
folder stay: they are history, still used by research and backtests.
"""

from __future__ import annotations

from typing import NoReturn

from jtrader.gateways.ccxt_execution import VenueUnavailable

__all__ = ["BITMEX_CLOSED", "bitmex_execution"]

BITMEX_CLOSED = (
    "bitmex: no live order entry: BitMEX ceased operations on 2026-09-23 04:00 UTC "
    "(https://www.bitmex.com/blog/bitmex-closure) and ccxt no longer ships ccxt.bitmex; "
    "trade binance, binance_usdm, binance_coinm or huobi live, or replay BitMEX captures with --mode paper"
)


def bitmex_execution() -> NoReturn:
    """Raise :class:`VenueUnavailable`: BitMEX is closed."""
    raise VenueUnavailable(BITMEX_CLOSED)
