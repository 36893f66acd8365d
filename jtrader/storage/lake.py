"""The Parquet lake: hive-partitioned datasets, written atomically and idempotently.

Layout: ``<root>/<dataset>/venue=<venue>/symbol=<symbol>/date=<YYYY-MM-DD>/part-<source>.parquet``.
A partition holds one file per source (a capture file, an archive day, a
crawl interval); writing the same source again replaces its file atomically
(write to a temporary file, fsync, rename), so a re-run duplicates nothing and
a crash never leaves a half-written file. Identical input gives byte-identical
files.

Prices and sizes are stored as float64: every venue value has at most 15
significant digits, so the double is the exact decimal's nearest neighbour and
``instrument`` ticks/lots are recovered exactly by rounding. The files are
readable by pyarrow, pandas and Spark (``spark.read.parquet(root/dataset)``).

Exceptions::

    LakeError(ValueError)   an unknown dataset, a table that does not match the
                            dataset's schema, or a bad partition key
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

__all__ = ["DATASETS", "Lake", "LakeError", "PartitionKey", "PARTITIONING"]


class LakeError(ValueError):
    """A lake operation got an unknown dataset, a mismatched schema or a bad partition key."""


_TS = [pa.field("ts_event", pa.int64(), nullable=False), pa.field("ts_recv", pa.int64(), nullable=False)]

DATASETS: dict[str, pa.Schema] = {
    "trades": pa.schema(
        [
            *_TS,
            pa.field("price", pa.float64(), nullable=False),
            pa.field("size", pa.float64(), nullable=False),
            pa.field("aggressor", pa.string(), nullable=False),  # "buy" | "sell": the side that took liquidity
            pa.field("trade_id", pa.string(), nullable=False),
        ]
    ),
    "quotes": pa.schema(
        [
            *_TS,
            pa.field("bid_price", pa.float64(), nullable=False),
            pa.field("bid_size", pa.float64(), nullable=False),
            pa.field("ask_price", pa.float64(), nullable=False),
            pa.field("ask_size", pa.float64(), nullable=False),
            pa.field("update_id", pa.int64(), nullable=False),
        ]
    ),
    # Aggregate trades (Binance aggTrades): the fills of one taker order at one
    # price, trades first_trade_id..last_trade_id of the venue's trade ids.
    "agg_trades": pa.schema(
        [
            *_TS,
            pa.field("price", pa.float64(), nullable=False),
            pa.field("size", pa.float64(), nullable=False),
            pa.field("aggressor", pa.string(), nullable=False),  # "buy" | "sell": the side that took liquidity
            pa.field("agg_trade_id", pa.int64(), nullable=False),
            pa.field("first_trade_id", pa.int64(), nullable=False),
            pa.field("last_trade_id", pa.int64(), nullable=False),
        ]
    ),
    # One row per level of a venue diff message; the rows of one message share
    # ``update_id`` (its last update id). size 0 deletes the level.
    "book_deltas": pa.schema(
        [
            *_TS,
            pa.field("update_id", pa.int64(), nullable=False),
            pa.field("first_update_id", pa.int64(), nullable=False),
            pa.field("prev_update_id", pa.int64(), nullable=False),  # -1 where the venue sends none
            pa.field("side", pa.string(), nullable=False),  # "bid" | "ask"
            pa.field("price", pa.float64(), nullable=False),
            pa.field("size", pa.float64(), nullable=False),
        ]
    ),
    # One row per level; level 0 is the best.
    "book_snapshots": pa.schema(
        [
            *_TS,
            pa.field("update_id", pa.int64(), nullable=False),
            pa.field("side", pa.string(), nullable=False),
            pa.field("level", pa.int32(), nullable=False),
            pa.field("price", pa.float64(), nullable=False),
            pa.field("size", pa.float64(), nullable=False),
        ]
    ),
    # ts_event is the bar's close time; volume in base units, quote_volume in quote units.
    "bars_1m": pa.schema(
        [
            *_TS,
            pa.field("open", pa.float64(), nullable=False),
            pa.field("high", pa.float64(), nullable=False),
            pa.field("low", pa.float64(), nullable=False),
            pa.field("close", pa.float64(), nullable=False),
            pa.field("volume", pa.float64(), nullable=False),
            pa.field("quote_volume", pa.float64(), nullable=False),
            pa.field("trade_count", pa.int64(), nullable=False),
        ]
    ),
}

PARTITIONING = pa.schema([("venue", pa.string()), ("symbol", pa.string()), ("date", pa.date32())])
_SAFE = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass(frozen=True, slots=True, order=True)
class PartitionKey:
    dataset: str
    venue: str
    symbol: str
    date: dt.date


def _check_name(what: str, value: str) -> str:
    if not _SAFE.match(value):
        raise LakeError(f"{what} {value!r} may only hold letters, digits, '_' and '-'")
    return value


class Lake:
    """A Parquet lake rooted at ``root``.

    Example::

        >>> lake = Lake(Path(tempfile.mkdtemp()))
        >>> lake.datasets()
        []
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def schema(self, dataset: str) -> pa.Schema:
        try:
            return DATASETS[dataset]
        except KeyError:
            raise LakeError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}") from None

    def partition_dir(self, key: PartitionKey) -> Path:
        self.schema(key.dataset)
        return (
            self.root
            / key.dataset
            / f"venue={_check_name('venue', key.venue)}"
            / f"symbol={_check_name('symbol', key.symbol)}"
            / f"date={key.date.isoformat()}"
        )

    def write_partition(self, key: PartitionKey, table: pa.Table, source: str) -> Path:
        """Write ``table`` as the part of partition ``key`` that comes from ``source``.

        Replaces that source's previous file atomically; other sources' files
        in the partition are untouched. Returns the file's path.
        """
        schema = self.schema(key.dataset)
        if table.schema.names != schema.names:
            raise LakeError(f"{key.dataset}: columns {table.schema.names} do not match the dataset's {schema.names}")
        try:
            table = table.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise LakeError(f"{key.dataset}: table does not fit the dataset's schema: {exc}") from None
        directory = self.partition_dir(key)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"part-{_check_name('source', source)}.parquet"
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                pq.write_table(table, handle, compression="zstd", write_statistics=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return target

    def datasets(self) -> list[str]:
        return sorted(d for d in DATASETS if (self.root / d).is_dir())

    def partitions(self, dataset: str) -> list[PartitionKey]:
        """Every partition of ``dataset`` that holds at least one part file, sorted."""
        self.schema(dataset)
        keys = []
        for part_dir in sorted((self.root / dataset).glob("venue=*/symbol=*/date=*")):
            if not any(part_dir.glob("part-*.parquet")):
                continue
            venue = part_dir.parent.parent.name.removeprefix("venue=")
            symbol = part_dir.parent.name.removeprefix("symbol=")
            date = dt.date.fromisoformat(part_dir.name.removeprefix("date="))
            keys.append(PartitionKey(dataset, venue, symbol, date))
        return keys

    def files(self, dataset: str) -> Iterator[Path]:
        yield from sorted((self.root / dataset).glob("venue=*/symbol=*/date=*/part-*.parquet"))

    def read_table(
        self,
        dataset: str,
        venue: str | None = None,
        symbol: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """Read ``dataset`` with its partition columns, filtered, ordered by ``ts_recv`` then ``ts_event``.

        ``start``/``end`` are inclusive dates. An empty dataset gives an empty table.
        """
        schema = self.schema(dataset)
        full_schema = pa.schema(list(schema) + list(PARTITIONING))
        files = [str(f) for f in self.files(dataset)]
        if not files:
            return full_schema.empty_table() if columns is None else full_schema.empty_table().select(columns)
        ds = pads.dataset(
            files,
            schema=full_schema,
            format="parquet",
            partitioning=pads.partitioning(PARTITIONING, flavor="hive"),
            partition_base_dir=str(self.root / dataset),
        )
        expr = None
        for condition in (
            pads.field("venue") == venue if venue else None,
            pads.field("symbol") == symbol if symbol else None,
            pads.field("date") >= pa.scalar(start, pa.date32()) if start else None,
            pads.field("date") <= pa.scalar(end, pa.date32()) if end else None,
        ):
            if condition is not None:
                expr = condition if expr is None else expr & condition
        table = ds.to_table(filter=expr)
        # Stable sort keeps file order (arrival order) among equal timestamps.
        table = table.take(pa.compute.sort_indices(table, [("ts_recv", "ascending"), ("ts_event", "ascending")]))
        return table.select(columns) if columns else table

    def read(self, dataset: str, **filters: object) -> pd.DataFrame:
        """Like :meth:`read_table`, as a pandas DataFrame."""
        return self.read_table(dataset, **filters).to_pandas()  # type: ignore[arg-type]

    def summary(self) -> pd.DataFrame:
        """Rows per dataset, venue, symbol and date, from the Parquet footers (no data scan)."""
        records = []
        for dataset in self.datasets():
            for key in self.partitions(dataset):
                directory = self.partition_dir(key)
                rows = sum(pq.ParquetFile(f).metadata.num_rows for f in directory.glob("part-*.parquet"))
                records.append(
                    {"dataset": dataset, "venue": key.venue, "symbol": key.symbol, "date": key.date, "rows": rows}
                )
        return pd.DataFrame.from_records(records, columns=["dataset", "venue", "symbol", "date", "rows"])
