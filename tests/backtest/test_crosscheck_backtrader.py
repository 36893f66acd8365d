"""Our bar backtest of the MA crossover against backtrader on the Huobi 1-minute bars."""

from __future__ import annotations

import pytest

from jtrader.backtest import BacktestConfig, load_events, run_backtest
from jtrader.backtest.crosscheck import run_backtrader_ma_cross
from jtrader.backtest.data import bar_arrays
from jtrader.strategies.ma_cross import MaCrossParams, MaCrossStrategy


@pytest.mark.slow
@pytest.mark.parametrize("allow_short", [True])
def test_ma_cross_on_huobi_bars_matches_backtrader_trades_and_pnl(huobi_lake, huobi_btc, allow_short):
    lots = 10_000  # 0.01 BTC
    params = MaCrossParams(fast=10, slow=30, quantity_lots=lots, allow_short=allow_short)
    events = load_events(huobi_lake, [huobi_btc])
    ours = run_backtest(MaCrossStrategy("ma", huobi_btc.id, params), events, [huobi_btc], BacktestConfig())

    tick = huobi_btc.ticks_to_float(1)
    size = huobi_btc.lots_to_float(lots)
    peer, peer_pnl, _ = run_backtrader_ma_cross(
        bar_arrays(huobi_lake, huobi_btc), tick, 10, 30, size, float(huobi_btc.taker_fee), allow_short
    )

    assert len(ours.fills) > 500
    assert len(peer) == len(ours.fills)
    for fill, trade in zip(ours.fills, peer, strict=True):
        assert fill.side.sign == trade.side
        assert huobi_btc.lots_to_float(fill.size_lots) == pytest.approx(trade.size, rel=1e-12)
        assert huobi_btc.ticks_to_float(fill.price_ticks) == pytest.approx(trade.price, rel=1e-12)
        assert fill.ts_event - 60_000_000_000 == trade.ts_open_ns
    assert abs(ours.metrics["pnl"] - peer_pnl) <= 1e-8 * abs(peer_pnl)


def test_compiled_bar_loop_gives_the_engines_fills(huobi_lake, huobi_btc):  # type: ignore[no-untyped-def]
    from jtrader.backtest.fast import ma_cross_fast

    params = MaCrossParams(fast=7, slow=25, quantity_lots=10_000, allow_short=True)
    ours = run_backtest(MaCrossStrategy("ma", huobi_btc.id, params), load_events(huobi_lake, [huobi_btc]), [huobi_btc])
    bars = bar_arrays(huobi_lake, huobi_btc)
    idx, lots, px = ma_cross_fast(bars["open"], bars["close"], 7, 25, 10_000, True)
    assert [(int(bars["ts"][i]), int(q), int(p)) for i, q, p in zip(idx, lots, px, strict=True)] == [
        (f.ts_event, f.size_lots * f.side.sign, f.price_ticks) for f in ours.fills
    ]
