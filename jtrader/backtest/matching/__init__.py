"""Matching mechanisms of the backtester, chosen per run: bar/touch, L2 queue position, full book.

Entry point: :func:`make_matcher`. Each is a simulated venue for one
instrument with the same interface (:class:`BaseMatcher`).
"""

from __future__ import annotations

from collections.abc import Callable

from jtrader.backtest.matching.bar import BarMatcher
from jtrader.backtest.matching.base import BaseMatcher, FeeSchedule, Report, SimOrder
from jtrader.backtest.matching.book import BookMatcher
from jtrader.backtest.matching.queue import (
    PowerProbQueue,
    QueueMatcher,
    QueueModel,
    RiskAverseQueue,
    proportional,
    queue_model,
)
from jtrader.domain import Instrument

__all__ = [
    "BarMatcher",
    "BaseMatcher",
    "BookMatcher",
    "FeeSchedule",
    "MATCHING_MODES",
    "PowerProbQueue",
    "QueueMatcher",
    "QueueModel",
    "Report",
    "RiskAverseQueue",
    "SimOrder",
    "make_matcher",
    "proportional",
    "queue_model",
]

MATCHING_MODES = ("bar", "queue", "book")


def make_matcher(
    mode: str,
    instrument: Instrument,
    queue: str = "risk_averse",
    touch: bool = False,
    replay_trades: bool = True,
    *,
    clock: Callable[[], int] | None = None,
    book_depth: int = 20,
    check_minimums: bool = True,
) -> BaseMatcher:
    """The matcher for ``mode`` (``bar``, ``queue`` or ``book``); raises ValueError naming the modes.

    ``clock``, ``book_depth`` and ``check_minimums`` apply to ``book`` (the simulated venue's own settings).
    """
    if mode == "bar":
        return BarMatcher(instrument, touch=touch)
    if mode == "queue":
        return QueueMatcher(instrument, queue_model(queue))
    if mode == "book":
        return BookMatcher(
            instrument, replay_trades=replay_trades, clock=clock, book_depth=book_depth, check_minimums=check_minimums
        )
    raise ValueError(f"matching: expected one of {', '.join(MATCHING_MODES)}, got {mode!r}")
