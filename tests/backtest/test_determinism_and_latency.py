"""Replays of the Binance capture: deterministic for a seed, and latency changes what we get."""

from __future__ import annotations

import pytest

from jtrader.backtest import BacktestConfig, ConstantLatency, EmpiricalLatency, load_events, run_backtest
from jtrader.strategies.quoting import QuotingParams, QuotingStrategy

DATASETS = ("book_snapshots", "book_deltas", "trades")


@pytest.fixture(scope="module")
def events(binance_lake, usdm_btc):  # type: ignore[no-untyped-def]
    return load_events(binance_lake, [usdm_btc], DATASETS)[:8000]


def _run(events, instrument, **config):  # type: ignore[no-untyped-def]
    # 2 lots (0.002 BTC, about 124 USDT): full-book matching refuses orders under the venue's 100 USDT minimum
    strategy = QuotingStrategy("mm", [instrument.id], QuotingParams(quote_lots=2, max_position_lots=10))
    return run_backtest(strategy, events, [instrument], BacktestConfig(**config))


def _key(result):  # type: ignore[no-untyped-def]
    return [(f.client_order_id, f.trade_id, f.price_ticks, f.size_lots, f.ts_event, f.fee) for f in result.fills]


@pytest.mark.parametrize("matching", ["queue", "book"])
def test_same_events_config_and_seed_give_identical_fills_and_metrics(events, usdm_btc, matching):  # type: ignore[no-untyped-def]
    def config():  # type: ignore[no-untyped-def]
        return {
            "matching": matching,
            "queue_model": "proportional",
            "seed": 11,
            "order_latency": EmpiricalLatency([1_000_000, 3_000_000, 20_000_000]),
            "md_latency": EmpiricalLatency([0, 500_000, 5_000_000]),
        }

    a, b = _run(events, usdm_btc, **config()), _run(events, usdm_btc, **config())
    assert a.fills and _key(a) == _key(b)
    assert a.metrics == b.metrics


def test_replay_of_the_capture_keeps_the_book_uncrossed_and_fills_quotes(events, usdm_btc):  # type: ignore[no-untyped-def]
    result = _run(events, usdm_btc, matching="queue")
    assert result.metrics["maker_ratio"] == 1.0  # post-only quotes never take
    assert 0 < result.metrics["fill_rate"] <= 1


def test_order_latency_delays_orders_to_the_venue(events, usdm_btc):  # type: ignore[no-untyped-def]
    zero = _run(events, usdm_btc, matching="queue")
    slow = _run(events, usdm_btc, matching="queue", order_latency=ConstantLatency(50_000_000))
    assert _key(zero) != _key(slow)
    first_zero, first_slow = zero.fills[0], slow.fills[0]
    assert first_slow.ts_event >= first_zero.ts_event


def test_empirical_latency_draws_only_its_samples_and_repeats_with_its_seed():
    a = EmpiricalLatency([5, 7, 9], seed=3)
    draws = [a.sample() for _ in range(100)]
    a.reset(3)
    assert draws == [a.sample() for _ in range(100)] and set(draws) <= {5, 7, 9}
    with pytest.raises(ValueError):
        ConstantLatency(-1)
