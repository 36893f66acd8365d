"""Each matching mechanism on small hand-built books and bars with known answers."""

from __future__ import annotations

from jtrader.backtest import BacktestConfig, ConstantLatency, run_backtest
from jtrader.bus.messages import RejectReason
from jtrader.domain import LiquiditySide, OrderType, Side, TimeInForce
from tests.backtest.builders import INSTRUMENT, MIN, SEC, Scripted, bar, delta, snapshot, trade


def _run(events, script, **config):  # type: ignore[no-untyped-def]
    strategy = Scripted(script)
    result = run_backtest(strategy, events, [INSTRUMENT], BacktestConfig(**config))
    return strategy, result


def _fills(result):  # type: ignore[no-untyped-def]
    return [(f.side, f.price_ticks, f.size_lots, f.liquidity) for f in result.fills]


def _at(n, **order):  # type: ignore[no-untyped-def]
    def script(ctx, i):  # type: ignore[no-untyped-def]
        if i == n:
            ctx.submit(INSTRUMENT.id, **order)

    return script


# -- bar / touch ------------------------------------------------------------------------------------


def test_bar_limit_traded_through_fills_at_limit_as_maker():
    events = [bar(0, 100, 101, 99, 100), bar(1, 100, 100, 97, 98)]
    _, result = _run(events, _at(0, side=Side.BUY, quantity_lots=3, price_ticks=98))
    assert _fills(result) == [(Side.BUY, 98, 3, LiquiditySide.MAKER)]
    assert result.fills[0].ts_event == 2 * MIN


def test_bar_limit_only_touched_fills_only_with_touch():
    events = [bar(0, 100, 101, 99, 100), bar(1, 100, 100, 98, 99)]
    script = _at(0, side=Side.BUY, quantity_lots=1, price_ticks=98)
    assert _run(events, script)[1].fills == []
    assert _fills(_run(events, script, touch=True)[1]) == [(Side.BUY, 98, 1, LiquiditySide.MAKER)]


def test_bar_limit_gapped_through_fills_at_open_as_taker():
    events = [bar(0, 100, 101, 99, 100), bar(1, 95, 96, 94, 95)]
    _, result = _run(events, _at(0, side=Side.BUY, quantity_lots=1, price_ticks=98))
    assert _fills(result) == [(Side.BUY, 95, 1, LiquiditySide.TAKER)]


def test_bar_market_order_fills_at_next_open_never_the_deciding_bar():
    events = [bar(0, 100, 110, 90, 100), bar(1, 104, 105, 103, 104)]
    _, result = _run(events, _at(0, side=Side.SELL, quantity_lots=2, order_type=OrderType.MARKET))
    assert _fills(result) == [(Side.SELL, 104, 2, LiquiditySide.TAKER)]


def test_bar_order_arriving_mid_bar_waits_for_the_following_bar():
    events = [bar(0, 100, 101, 99, 100), bar(1, 100, 100, 90, 91), bar(2, 91, 92, 90, 91)]
    latency = ConstantLatency(SEC)  # lands one second into bar 1
    _, result = _run(events, _at(0, side=Side.BUY, quantity_lots=1, order_type=OrderType.MARKET), order_latency=latency)
    assert _fills(result) == [(Side.BUY, 91, 1, LiquiditySide.TAKER)]


def test_bar_stop_market_fills_at_worse_of_open_and_trigger():
    events = [bar(0, 100, 101, 99, 100), bar(1, 100, 106, 99, 105)]
    script = _at(0, side=Side.BUY, quantity_lots=1, order_type=OrderType.STOP_MARKET, trigger_ticks=104)
    assert _fills(_run(events, script)[1]) == [(Side.BUY, 104, 1, LiquiditySide.TAKER)]


def test_bar_fees_are_maker_rebate_and_taker_charge():
    events = [bar(0, 100, 101, 99, 100), bar(1, 100, 100, 97, 98), bar(2, 98, 99, 97, 98)]

    def script(ctx, i):  # type: ignore[no-untyped-def]
        if i == 0:
            ctx.submit(INSTRUMENT.id, Side.BUY, 10, 98)
        if i == 1:
            ctx.submit(INSTRUMENT.id, Side.SELL, 10, None, OrderType.MARKET)

    _, result = _run(events, script)
    maker, taker = result.fills
    assert maker.fee == 98 * 10 * INSTRUMENT.maker_fee  # a rebate: negative
    assert taker.fee == 98 * 10 * INSTRUMENT.taker_fee
    assert result.metrics["pnl"] == float(-maker.fee - taker.fee)


# -- L2 queue position ------------------------------------------------------------------------------


def _book_events(*more):  # type: ignore[no-untyped-def]
    return [snapshot(1 * SEC, [(100, 5), (99, 10)], [(101, 5), (102, 10)]), *more]


def test_queue_trades_eat_the_queue_ahead_then_fill_us_partially():
    events = _book_events(
        trade(2 * SEC, 100, 3, Side.SELL),  # 5 ahead -> 2 ahead
        trade(3 * SEC, 100, 4, Side.SELL, 2),  # 2 ahead eaten, 2 of our 3 filled
    )
    strategy, result = _run(events, _at(0, side=Side.BUY, quantity_lots=3, price_ticks=100), matching="queue")
    assert _fills(result) == [(Side.BUY, 100, 2, LiquiditySide.MAKER)]
    assert strategy.updates[-1].leaves_lots == 1


def test_queue_trade_through_our_price_fills_the_rest():
    events = _book_events(trade(2 * SEC, 99, 1, Side.SELL))
    _, result = _run(events, _at(0, side=Side.BUY, quantity_lots=3, price_ticks=100), matching="queue")
    assert _fills(result) == [(Side.BUY, 100, 3, LiquiditySide.MAKER)]


def test_queue_cancels_never_advance_us_risk_averse_but_do_proportionally():
    events = _book_events(
        delta(2 * SEC, [(100, 15)], []),  # 10 joins behind us (5 ahead)
        delta(3 * SEC, [(100, 9)], [], 3),  # 6 cancelled: where?
        trade(4 * SEC, 100, 5, Side.SELL),
    )
    script = _at(0, side=Side.BUY, quantity_lots=3, price_ticks=100)
    assert _run(events, script, matching="queue", queue_model="risk_averse")[1].fills == []
    # proportional: front 5, back 10 -> 6 * 5/15 = 2 cancelled ahead: 3 ahead, the 5-lot trade fills 2
    assert _fills(_run(events, script, matching="queue", queue_model="proportional")[1]) == [
        (Side.BUY, 100, 2, LiquiditySide.MAKER)
    ]


def test_queue_marketable_order_takes_levels_at_their_prices():
    _, result = _run(_book_events(), _at(0, side=Side.BUY, quantity_lots=7, price_ticks=102), matching="queue")
    assert _fills(result) == [(Side.BUY, 101, 5, LiquiditySide.TAKER), (Side.BUY, 102, 2, LiquiditySide.TAKER)]


def test_queue_post_only_that_would_take_is_rejected():
    strategy, result = _run(
        _book_events(),
        _at(0, side=Side.BUY, quantity_lots=1, price_ticks=101, time_in_force=TimeInForce.POST_ONLY),
        matching="queue",
    )
    assert result.fills == [] and strategy.rejects[0].reason is RejectReason.POST_ONLY_WOULD_TAKE


# -- full book (the venue's matching engine) --------------------------------------------------------


def test_book_market_order_consumes_replayed_levels():
    _, result = _run(
        _book_events(), _at(0, side=Side.BUY, quantity_lots=7, order_type=OrderType.MARKET), matching="book"
    )
    assert _fills(result) == [(Side.BUY, 101, 5, LiquiditySide.TAKER), (Side.BUY, 102, 2, LiquiditySide.TAKER)]


def test_book_taken_liquidity_is_gone_until_the_replay_resets_the_level():
    def script(ctx, i):  # type: ignore[no-untyped-def]
        if i in (0, 1):
            ctx.submit(INSTRUMENT.id, Side.BUY, 4, 101, OrderType.LIMIT, TimeInForce.IOC)

    events = _book_events(trade(2 * SEC, 90, 1, Side.SELL))  # a second event, nothing of ours to hit
    _, result = _run(events, script, matching="book")
    assert _fills(result) == [(Side.BUY, 101, 4, LiquiditySide.TAKER), (Side.BUY, 101, 1, LiquiditySide.TAKER)]


def test_book_resting_order_fills_after_the_anonymous_queue_ahead():
    events = _book_events(trade(2 * SEC, 100, 7, Side.SELL))
    _, result = _run(events, _at(0, side=Side.BUY, quantity_lots=3, price_ticks=100), matching="book")
    assert _fills(result) == [(Side.BUY, 100, 2, LiquiditySide.MAKER)]


def test_book_replayed_level_crossing_our_order_fills_it_whole():
    events = _book_events(delta(2 * SEC, [], [(100, 4), (101, 0)]))
    _, result = _run(events, _at(0, side=Side.BUY, quantity_lots=3, price_ticks=100), matching="book")
    assert _fills(result) == [(Side.BUY, 100, 3, LiquiditySide.MAKER)]


def test_book_post_only_that_would_take_is_rejected():
    strategy, result = _run(
        _book_events(),
        _at(0, side=Side.BUY, quantity_lots=1, price_ticks=101, time_in_force=TimeInForce.POST_ONLY),
        matching="book",
    )
    assert result.fills == [] and strategy.rejects[0].reason is RejectReason.POST_ONLY_WOULD_TAKE
