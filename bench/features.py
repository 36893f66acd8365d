"""Book-feature build throughput (input lake rows/s) on Spark local[2], beside the same features in pandas.

Ours: :func:`spark_jobs.features.build_book_features` (the library's feature
engine distributed per instrument with ``applyInPandas``, Parquet out) on the
spot BTCUSDT and ETHUSDT captures of 2024-08-08. Baseline, in the same run:
:func:`jtrader.features.replay.book_features_from_lake` per instrument in one
process (no Spark), same rows, same values. Spark start-up is excluded; the
first Spark build is a warm-up and not timed.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from rich.console import Console

from jtrader.config import Settings, load_settings
from jtrader.features import BookFeatureConfig
from jtrader.features.replay import book_features_from_lake
from jtrader.ingest import ingest_files
from jtrader.storage.lake import Lake

DAY = dt.date(2024, 8, 8)
FILES = ["binance/spot/btcusdt_20240808.gz", "binance/spot/ethusdt_20240808.gz"]
INSTRUMENTS = [("binance", "BTCUSDT"), ("binance", "ETHUSDT")]


def run(settings: Settings, console: Console) -> list[dict]:
    from spark_jobs.features import build_book_features
    from spark_jobs.session import spark_session

    config = BookFeatureConfig(sample_ms=100)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lake = Lake(root / "lake")
        ingest_files([settings.data_dir / f for f in FILES], lake)
        rows = int(
            lake.summary()
            .query("dataset in ['book_snapshots', 'book_deltas', 'trades'] and symbol in ['BTCUSDT', 'ETHUSDT']")[
                "rows"
            ]
            .sum()
        )
        spark = spark_session(load_settings(env={}, toml_path=None, root=root, spark_master="local[2]"), "bench")
        build_book_features(spark, lake.root, DAY, DAY, config, INSTRUMENTS)  # warm-up (JVM, Python workers)
        t0 = time.perf_counter()
        built = build_book_features(spark, lake.root, DAY, DAY, config, INSTRUMENTS)
        spark_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        samples = sum(len(book_features_from_lake(lake.root, v, s, DAY, DAY, config)) for v, s in INSTRUMENTS)
        pandas_s = time.perf_counter() - t0
    console.print(
        f"book features at 100 ms: {rows:,} input rows -> {built.rows:,} samples; "
        f"Spark local[2] {spark_s:.2f} s, pandas {pandas_s:.2f} s ({samples:,} samples)"
    )
    return [
        {"name": "book_features_spark_local2", "value": rows / spark_s, "unit": "rows/s",
         "baseline": "same features, pandas in process", "baseline_value": rows / pandas_s},
    ]  # fmt: skip
