"""Offline (Spark) and online (the incremental engines in process) features agree within 1e-9."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jtrader.features import BarFeatureConfig, BookFeatureConfig, bar_features_from_rows
from jtrader.features.replay import book_features_from_lake
from jtrader.storage.lake import Lake
from spark_jobs.features import build_bar_features, build_book_features, read_feature_table

DAY = dt.date(2024, 8, 8)


def _assert_equal(offline: pd.DataFrame, online: pd.DataFrame, columns: list[str]) -> None:
    assert len(offline) == len(online) > 0
    np.testing.assert_array_equal(offline["ts"].to_numpy(), online["ts"].to_numpy())
    a, b = offline[columns].to_numpy(dtype=float), online[columns].to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b)) <= 1e-9


@pytest.mark.slow
def test_spark_book_features_equal_online_engine_on_the_capture(spark, ml_lake: Path, tmp_path: Path) -> None:
    config = BookFeatureConfig(sample_ms=1000)
    build = build_book_features(spark, ml_lake, DAY, DAY, config, instruments=[("binance", "BTCUSDT")])
    assert build.partitions == [("binance", "BTCUSDT", DAY)]
    offline = read_feature_table(ml_lake, build.table, DAY, DAY, "binance", "BTCUSDT")
    online = book_features_from_lake(ml_lake, "binance", "BTCUSDT", DAY, DAY, config)
    columns = [c for c in online.columns if c not in ("ts", "date")]
    assert len(offline) > 300  # about 5.8 minutes at 1 s
    _assert_equal(offline, online, columns)


@pytest.mark.slow
def test_spark_bar_features_equal_online_engine(spark, ml_lake: Path) -> None:
    start, end = dt.date(2020, 5, 10), dt.date(2020, 5, 12)
    build = build_bar_features(spark, ml_lake, start, end, BarFeatureConfig(), warmup_days=1)
    offline = read_feature_table(ml_lake, "bars_1m", start, end, "huobi", "btcusdt")
    bars = Lake(ml_lake).read("bars_1m", venue="huobi", symbol="btcusdt", start=start - dt.timedelta(days=1), end=end)
    online = bar_features_from_rows(bars, BarFeatureConfig())
    online = online[(online["date"] >= start) & (online["date"] <= end)].reset_index(drop=True)
    columns = [c for c in online.columns if c not in ("ts", "date")]
    assert build.rows == len(offline) + len(read_feature_table(ml_lake, "bars_1m", start, end, "huobi", "ethusdt"))
    _assert_equal(offline, online, columns)
