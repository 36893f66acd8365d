"""Zero delays happen in rounds, full-book matching shows the venue's book, and the clock stays within the data."""

from __future__ import annotations

from typing import Any

import pytest

import jtrader.backtest.engine as engine_module
from jtrader.backtest import BacktestConfig, run_backtest
from jtrader.domain import LiquiditySide, OrderType, Side, TimeInForce
from jtrader.strategies.base import Strategy
from tests.backtest.builders import INSTRUMENT, SEC, Scripted, delta, snapshot, trade

IID = INSTRUMENT.id


def _fills(result):  # type: ignore[no-untyped-def]
    return [(f.side, f.price_ticks, f.size_lots, f.liquidity) for f in result.fills]


def test_zero_latency_order_reaches_the_venue_before_the_next_event_at_the_same_time() -> None:
    def script(ctx, n):  # type: ignore[no-untyped-def]
        if n == 1:  # the first diff at 2 s: buy the 101 offer before the second diff at 2 s removes it
            ctx.submit(IID, Side.BUY, 2, 101, OrderType.LIMIT, TimeInForce.IOC)

    events = [
        snapshot(1 * SEC, [(100, 5)], [(101, 5), (102, 5)]),
        delta(2 * SEC, [(99, 1)], []),
        delta(2 * SEC, [], [(101, 0)], uid=3),
    ]
    _, result = _run(events, Scripted(script))
    assert _fills(result) == [(Side.BUY, 101, 2, LiquiditySide.TAKER)]


def test_full_book_strategy_sees_the_venue_book_with_its_own_order_and_its_fill_before_the_print() -> None:
    seen: list[Any] = []

    class Quoting(Scripted):
        def on_book(self, ctx, instrument_id, book):  # type: ignore[no-untyped-def]
            seen.append(("book", book.bid_size(100)))
            super().on_book(ctx, instrument_id, book)

        def on_trade(self, ctx, trade):  # type: ignore[no-untyped-def]
            seen.append(("trade", trade.size_lots))
            super().on_trade(ctx, trade)

        def on_fill(self, ctx, fill):  # type: ignore[no-untyped-def]
            seen.append(("fill", fill.size_lots))

    def script(ctx, n):  # type: ignore[no-untyped-def]
        if n == 0:
            ctx.submit(IID, Side.BUY, 3, 100)  # joins the 5 anonymous lots bid at 100

    events = [snapshot(1 * SEC, [(100, 5)], [(101, 5)]), trade(2 * SEC, 100, 6, Side.SELL)]
    _run(events, Quoting(script))
    assert seen == [
        ("book", 5),  # the replayed book
        ("book", 8),  # our order in it (the venue's public book)
        ("fill", 1),  # the print took the 5 ahead of us and 1 of ours: the fill comes first...
        ("trade", 6),  # ...then the print itself
        ("book", 7),  # our 2 left, and the 5 the print took back behind us until the recording sets 100 again
    ]


def test_strategy_that_never_comes_to_rest_at_one_instant_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    class Churner(Scripted):
        def on_order_update(self, ctx, report):  # type: ignore[no-untyped-def]
            ctx.cancel(report.client_order_id)
            ctx.submit(IID, Side.BUY, 1, 99)  # answers every report with a new order, with zero latency

    def script(ctx, n):  # type: ignore[no-untyped-def]
        if n == 0:
            ctx.submit(IID, Side.BUY, 1, 99)

    monkeypatch.setattr(engine_module, "MAX_ACTIONS_PER_INSTANT", 1_000)
    with pytest.raises(RuntimeError, match="never comes to rest"):
        _run([snapshot(1 * SEC, [(100, 5)], [(101, 5)])], Churner(script))


def test_timer_counts_from_the_first_event_and_one_after_the_data_neither_fires_nor_moves_the_clock() -> None:
    fired: list[int] = []
    stopped: list[int] = []

    class Timed(Strategy):
        def on_start(self, ctx):  # type: ignore[no-untyped-def]
            ctx.set_timer(1 * SEC)

        def on_timer(self, ctx, now_ns):  # type: ignore[no-untyped-def]
            fired.append(now_ns)

        def on_stop(self, ctx):  # type: ignore[no-untyped-def]
            stopped.append(ctx.now())

    events = [snapshot(10 * SEC, [(100, 5)], [(101, 5)]), delta(12 * SEC + 500, [(99, 1)], [])]
    _run(events, Timed("t", [IID]))
    assert fired == [11 * SEC, 12 * SEC]  # not from time 0: the timer starts with the replay
    assert stopped == [12 * SEC + 500]  # the timer due at 13 s is after the data: the run ends at its last event


def _run(events, strategy):  # type: ignore[no-untyped-def]
    return strategy, run_backtest(strategy, events, [INSTRUMENT], BacktestConfig(matching="book"))
