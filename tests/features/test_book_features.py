"""Book, bar and label features on small hand-computed inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jtrader.features import BarFeatureConfig, BarFeatureEngine, BookFeatureConfig, BookFeatureEngine, add_labels
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.marketdata.book import OrderBook

SEC = 1_000_000_000
USDM_BTC = binance_instruments()[2]  # tick 0.1, lot 0.001


def _engine(**kw: object) -> BookFeatureEngine:
    return BookFeatureEngine(USDM_BTC, BookFeatureConfig(sample_ms=1000, depth_levels=2, **kw))  # type: ignore[arg-type]


def _book() -> OrderBook:
    book = OrderBook()
    book.apply_snapshot([(100, 2), (99, 3), (98, 50)], [(102, 1), (103, 4), (104, 50)])
    return book


def test_static_book_gives_hand_computed_levels_and_imbalance() -> None:
    engine, book = _engine(), _book()
    engine.on_book(SEC // 2, book)
    [s] = engine.advance(SEC)
    assert s["ts"] == SEC
    assert s["mid"] == pytest.approx(10.1, abs=1e-12)
    assert s["microprice"] == pytest.approx((100 * 1 + 102 * 2) / 3 * 0.1, abs=1e-12)
    assert s["spread_bps"] == pytest.approx(2 / 101 * 1e4, abs=1e-9)
    assert s["micro_offset_bps"] == pytest.approx(((100 + 204) / 3 - 101) / 101 * 1e4, abs=1e-9)
    assert s["depth_imb"] == pytest.approx(0.0)  # 2+3 bid lots vs 1+4 ask lots over 2 levels
    assert s["ofi"] == 0 and s["tfi"] == 0 and s["trade_count"] == 0
    assert math.isnan(s["ret_1"]) and math.isnan(s["vol_ewma"])


def test_order_flow_imbalance_follows_cont_kukanov_stoikov() -> None:
    engine, book = _engine(), _book()
    engine.on_book(SEC // 2, book)
    book.apply_levels([(100, 5)], [])  # bid queue grows by 3 lots: e = +5 - 2
    engine.on_book(SEC // 2 + 1, book)
    book.apply_levels([], [(101, 2)])  # a better ask: e = -2 (new ask queue), previous ask not added
    engine.on_book(SEC // 2 + 2, book)
    [s] = engine.advance(SEC)
    assert s["ofi"] == pytest.approx((3 - 2) * 0.001, abs=1e-15)
    assert s["ofi_norm"] == pytest.approx(1 / (5 + 2))


def test_trade_flow_imbalance_counts_aggressor_volume_within_the_sample() -> None:
    engine, book = _engine(), _book()
    engine.on_book(1, book)
    engine.on_trade(2, 4, aggressor_is_buy=True)
    engine.on_trade(3, 1, aggressor_is_buy=False)
    [s1] = engine.on_trade(SEC + 5, 7, aggressor_is_buy=True)  # lands in the next sample
    assert s1["tfi"] == pytest.approx(0.6) and s1["trade_count"] == 2
    [s2] = engine.advance(2 * SEC)
    assert s2["tfi"] == 1.0 and s2["trade_count"] == 1


def test_event_at_the_instant_is_included_and_returns_and_vol_follow_the_mid() -> None:
    engine, book = _engine(return_horizons=(1,), vol_halflife=1.0), _book()
    engine.on_book(1, book)
    book.apply_levels([(101, 1)], [])  # mid 101 -> 101.5 exactly at the 1 s instant
    assert engine.on_book(SEC, book) == []
    [s1] = engine.advance(SEC)
    assert s1["mid"] == pytest.approx(10.15)
    book.apply_levels([(101, 0)], [])
    assert engine.on_book(SEC + 1, book) == []
    [s2] = engine.advance(2 * SEC)
    r = math.log(101 / 101.5)
    assert s2["ret_1"] == pytest.approx(r, abs=1e-15)
    assert s2["vol_ewma"] == pytest.approx(abs(r), abs=1e-15)


def test_no_sample_while_a_side_is_empty() -> None:
    engine, book = _engine(), OrderBook()
    book.apply_snapshot([(100, 1)], [])
    engine.on_book(1, book)
    assert engine.advance(3 * SEC) == []


def test_labels_join_on_time_and_mark_adverse_moves() -> None:
    samples = pd.DataFrame(
        {
            "ts": [0, 1, 2, 4],
            "mid": [10.0, 10.0, 11.0, 12.0],
            "best_bid": [9.5, 9.9, 10.9, 11.9],
            "best_ask": [10.5, 10.1, 11.1, 12.1],
        }
    )
    out = add_labels(samples, (1,), step_ns=1)
    np.testing.assert_allclose(out["fwd_ret_1"], [0.0, math.log(1.1), np.nan, np.nan])
    np.testing.assert_array_equal(out["adverse_1"], [0.0, 1.0, np.nan, np.nan])


def test_bar_features_use_wall_time_horizons_across_gaps() -> None:
    engine = BarFeatureEngine(BarFeatureConfig(return_horizons=(1, 2)))
    m = 60 * SEC
    engine.on_bar(m, 10, 10, 10, 10, 1.0)
    s = engine.on_bar(3 * m, 10, 12, 9, 11, 1.0)  # the 2-minute bar is missing
    assert math.isnan(s["ret_1"])
    assert s["ret_2"] == pytest.approx(math.log(1.1))
    assert s["clv"] == pytest.approx((22 - 21) / 3)
    assert s["range_bps"] == pytest.approx(3 / 11 * 1e4)


def test_bars_out_of_order_are_rejected() -> None:
    engine = BarFeatureEngine()
    engine.on_bar(120 * SEC, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="time order"):
        engine.on_bar(60 * SEC, 1, 1, 1, 1, 1)
