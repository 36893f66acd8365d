"""Build feature tables from the lake on Spark, with the library's one feature definition.

Input: the lake's ``book_snapshots``, ``book_deltas`` and ``trades`` (book
features) or ``bars_1m`` (bar features). Output:
``<lake>/features/<table>/venue=/symbol=/date=/part-*.parquet`` where
``<table>`` is ``book_<sample_ms>ms`` or ``bars_1m``; the columns are ``ts``
(int ns), the features, the labels, and the partition keys.

Guarantees: each (venue, symbol) is replayed by
:func:`jtrader.features.replay.book_features_from_events` (or
:func:`~jtrader.features.replay.bar_features_from_rows`) inside
``applyInPandas``, so values equal the in-process and live engines'; only the
dates ``start..end`` are written, each as a dynamic partition overwrite, so a
re-run replaces them and duplicates nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from jtrader.features.bars import BarFeatureConfig, bar_feature_names
from jtrader.features.book import BookFeatureConfig
from jtrader.storage.lake import Lake

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "FeatureBuild",
    "bar_feature_columns",
    "book_feature_columns",
    "build_bar_features",
    "build_book_features",
    "feature_table_path",
    "read_feature_table",
]

_KEYS = ["venue", "symbol", "date"]


@dataclass(frozen=True)
class FeatureBuild:
    """What a build wrote: the table's path, its rows and the partitions written."""

    table: str
    path: Path
    rows: int
    partitions: list[tuple[str, str, dt.date]]


def feature_table_path(lake_root: Path, table: str) -> Path:
    """Where feature table ``table`` lives in the lake."""
    return Path(lake_root) / "features" / table


def book_feature_columns(config: BookFeatureConfig) -> list[str]:
    """Every double column of a book feature table, in order (features, then labels)."""
    base = ["mid", "microprice", "best_bid", "best_ask", "spread_bps", "micro_offset_bps", "depth_imb"]
    base += ["ofi", "ofi_norm", "tfi", "trade_count", *(f"ret_{h}" for h in config.return_horizons), "vol_ewma"]
    for h in config.label_horizons:
        base += [f"fwd_ret_{h}", f"adverse_{h}"]
    return base


def bar_feature_columns(config: BarFeatureConfig) -> list[str]:
    """Every double column of a bar feature table, in order (features, then labels)."""
    return ["close", *bar_feature_names(config), *(f"fwd_ret_{h}" for h in config.label_horizons)]


def _schema(columns: list[str]) -> str:
    return ", ".join(["ts long", "venue string", "symbol string", "date date", *(f"{c} double" for c in columns)])


def _read(spark: SparkSession, lake_root: Path, dataset: str, first: dt.date, end: dt.date) -> DataFrame | None:
    from pyspark.sql import functions as sf

    path = Path(lake_root) / dataset
    if not any(path.glob("venue=*/symbol=*/date=*/part-*.parquet")):
        return None
    frame = spark.read.option("basePath", str(path)).parquet(str(path))
    return frame.where((sf.col("date") >= sf.lit(first)) & (sf.col("date") <= sf.lit(end)))


def _write(frame: DataFrame, path: Path) -> None:
    (frame.write.mode("overwrite").option("partitionOverwriteMode", "dynamic").partitionBy(*_KEYS).parquet(str(path)))


def _report(table: str, path: Path, pdf: pd.DataFrame) -> FeatureBuild:
    parts = sorted({(str(v), str(s), d) for v, s, d in zip(pdf["venue"], pdf["symbol"], pdf["date"], strict=True)})
    return FeatureBuild(table, path, int(pdf["rows"].sum()) if len(pdf) else 0, parts)


def build_book_features(
    spark: SparkSession,
    lake_root: Path,
    start: dt.date,
    end: dt.date,
    config: BookFeatureConfig | None = None,
    instruments: list[tuple[str, str]] | None = None,
) -> FeatureBuild:
    """Compute book features and labels for Binance instruments with depth data, dates ``start..end``.

    ``instruments`` limits the build to these ``(venue, symbol)`` pairs (all
    by default). Each instrument is replayed from its latest snapshot on or
    before ``start``. Returns the table written (``book_<sample_ms>ms``).
    """
    from pyspark.sql import functions as sf

    from jtrader.features.replay import snapshot_start

    config = config or BookFeatureConfig()
    lake = Lake(Path(lake_root))
    table = f"book_{config.sample_ms}ms"
    out_path = feature_table_path(lake_root, table)
    found = {(k.venue, k.symbol) for k in lake.partitions("book_deltas") if start <= k.date <= end}
    wanted = found & set(instruments) if instruments is not None else found
    if not wanted:
        return FeatureBuild(table, out_path, 0, [])
    first = min(snapshot_start(lake, v, s, start) for v, s in wanted)
    pairs = sf.lit(False)
    for venue, symbol in sorted(wanted):
        pairs = pairs | ((sf.col("venue") == venue) & (sf.col("symbol") == symbol))
    columns = ["ts_recv", "ts_event", "update_id", "first_update_id", "prev_update_id", "side", "level"]
    columns += ["price", "size", "aggressor", "trade_id", "venue", "symbol"]
    types = {"update_id": "long", "first_update_id": "long", "prev_update_id": "long", "level": "int"}
    types |= {"side": "string", "aggressor": "string", "trade_id": "string", "price": "double", "size": "double"}
    parts = []
    for kind, dataset in ((0, "book_snapshots"), (1, "book_deltas"), (2, "trades")):
        frame = _read(spark, lake_root, dataset, first, end)
        if frame is None:
            continue
        selected = [
            sf.col(c) if c in frame.columns else sf.lit(None).cast(types.get(c, "string")).alias(c) for c in columns
        ]
        parts.append(frame.where(pairs).select(sf.lit(kind).cast("int").alias("kind"), *selected))
    events = parts[0]
    for part in parts[1:]:
        events = events.unionByName(part)
    feature_columns = book_feature_columns(config)

    def replay(pdf: pd.DataFrame) -> pd.DataFrame:
        from jtrader.features.replay import book_features_from_events, instrument_for, order_book_events

        venue, symbol = str(pdf["venue"].iloc[0]), str(pdf["symbol"].iloc[0])
        if (venue, symbol) not in wanted:
            return pd.DataFrame(columns=["ts", *_KEYS, *feature_columns])
        by_kind = {k: pdf[pdf["kind"] == k] for k in (0, 1, 2)}
        ordered = order_book_events(by_kind[0], by_kind[1], by_kind[2])
        out = book_features_from_events(ordered, instrument_for(venue, symbol), config)
        if out.empty:
            return pd.DataFrame(columns=["ts", *_KEYS, *feature_columns])
        out = out[(out["date"] >= start) & (out["date"] <= end)]
        out = out.assign(venue=venue, symbol=symbol)
        return out[["ts", *_KEYS, *feature_columns]]

    features = events.groupBy("venue", "symbol").applyInPandas(replay, _schema(feature_columns)).cache()
    try:
        _write(features, out_path)
        counts = features.groupBy(*_KEYS).count().withColumnRenamed("count", "rows").toPandas()
    finally:
        features.unpersist()
    return _report(table, out_path, counts)


def build_bar_features(
    spark: SparkSession,
    lake_root: Path,
    start: dt.date,
    end: dt.date,
    config: BarFeatureConfig | None = None,
    warmup_days: int = 1,
) -> FeatureBuild:
    """Compute bar features and labels per instrument for dates ``start..end`` into ``features/bars_1m``.

    ``warmup_days`` of earlier bars are read (not written) so horizons and
    EWMAs are warm at ``start``; labels at the end of ``end`` that would need
    later bars are NaN.
    """
    config = config or BarFeatureConfig()
    table = "bars_1m"
    out_path = feature_table_path(lake_root, table)
    bars = _read(spark, lake_root, "bars_1m", start - dt.timedelta(days=warmup_days), end)
    if bars is None:
        return FeatureBuild(table, out_path, 0, [])
    feature_columns = bar_feature_columns(config)

    def replay(pdf: pd.DataFrame) -> pd.DataFrame:
        from jtrader.features.replay import bar_features_from_rows

        out = bar_features_from_rows(pdf, config)
        if out.empty:
            return pd.DataFrame(columns=["ts", *_KEYS, *feature_columns])
        out = out[(out["date"] >= start) & (out["date"] <= end)]
        out = out.assign(venue=str(pdf["venue"].iloc[0]), symbol=str(pdf["symbol"].iloc[0]))
        return out[["ts", *_KEYS, *feature_columns]]

    features = bars.groupBy("venue", "symbol").applyInPandas(replay, _schema(feature_columns)).cache()
    try:
        _write(features, out_path)
        counts = features.groupBy(*_KEYS).count().withColumnRenamed("count", "rows").toPandas()
    finally:
        features.unpersist()
    return _report(table, out_path, counts)


def read_feature_table(
    lake_root: Path,
    table: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    venue: str | None = None,
    symbol: str | None = None,
) -> pd.DataFrame:
    """Read a feature table (no Spark) filtered by dates and instrument, sorted by venue, symbol, ts."""
    import pyarrow as pa
    import pyarrow.dataset as pads

    path = feature_table_path(lake_root, table)
    files = sorted(str(p) for p in path.glob("venue=*/symbol=*/date=*/*.parquet"))
    if not files:
        return pd.DataFrame()
    partitioning = pads.partitioning(
        pa.schema([("venue", pa.string()), ("symbol", pa.string()), ("date", pa.date32())]), flavor="hive"
    )
    ds = pads.dataset(files, format="parquet", partitioning=partitioning, partition_base_dir=str(path))
    expr = None
    for cond in (
        pads.field("venue") == venue if venue else None,
        pads.field("symbol") == symbol if symbol else None,
        pads.field("date") >= pa.scalar(start, pa.date32()) if start else None,
        pads.field("date") <= pa.scalar(end, pa.date32()) if end else None,
    ):
        if cond is not None:
            expr = cond if expr is None else expr & cond
    frame = ds.to_table(filter=expr).to_pandas()
    return frame.sort_values(["venue", "symbol", "ts"], kind="stable").reset_index(drop=True)
