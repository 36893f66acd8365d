import datetime as dt

import pyarrow as pa
import pytest

from jtrader.storage.lake import Lake, LakeError, PartitionKey

DAY = dt.date(2024, 8, 8)


def trades(prices, ts0=0):
    n = len(prices)
    return pa.table(
        {
            "ts_event": list(range(ts0, ts0 + n)),
            "ts_recv": list(range(ts0 + 10, ts0 + 10 + n)),
            "price": prices,
            "size": [1.0] * n,
            "aggressor": ["buy"] * n,
            "trade_id": [str(i) for i in range(n)],
        }
    )


def key(date=DAY, symbol="BTCUSDT"):
    return PartitionKey("trades", "binance_usdm", symbol, date)


def test_rewriting_a_source_replaces_its_file_with_identical_bytes(tmp_path):
    lake = Lake(tmp_path)
    path = lake.write_partition(key(), trades([1.0, 2.0]), "capture_a")
    first = path.read_bytes()
    lake.write_partition(key(), trades([1.0, 2.0]), "capture_a")
    assert path.read_bytes() == first
    assert len(lake.read("trades")) == 2  # nothing duplicated


def test_other_sources_in_a_partition_are_untouched_by_a_rewrite(tmp_path):
    lake = Lake(tmp_path)
    lake.write_partition(key(), trades([1.0]), "a")
    lake.write_partition(key(), trades([2.0, 3.0], ts0=100), "b")
    lake.write_partition(key(), trades([5.0]), "a")
    assert sorted(lake.read("trades")["price"]) == [2.0, 3.0, 5.0]


def test_no_temporary_file_is_left_behind_and_a_failed_write_keeps_the_old_file(tmp_path):
    lake = Lake(tmp_path)
    path = lake.write_partition(key(), trades([1.0]), "a")
    bad = trades([1.0]).drop_columns(["trade_id"])
    with pytest.raises(LakeError, match="do not match"):
        lake.write_partition(key(), bad, "a")
    assert [p.name for p in path.parent.iterdir()] == ["part-a.parquet"]
    assert lake.read("trades")["price"].tolist() == [1.0]


def test_wrong_type_is_refused_with_the_dataset_named(tmp_path):
    table = trades([1.0]).set_column(2, "price", pa.array(["x"]))
    with pytest.raises(LakeError, match="trades: table does not fit"):
        Lake(tmp_path).write_partition(key(), table, "a")


def test_unknown_dataset_and_unsafe_names_are_refused(tmp_path):
    lake = Lake(tmp_path)
    with pytest.raises(LakeError, match="unknown dataset 'tardes'"):
        lake.read("tardes")
    with pytest.raises(LakeError, match=r"symbol '\.\./etc'"):
        lake.write_partition(key(symbol="../etc"), trades([1.0]), "a")


def test_reads_filter_by_partition_and_order_by_receive_time(tmp_path):
    lake = Lake(tmp_path)
    lake.write_partition(key(DAY), trades([1.0, 2.0], ts0=50), "a")
    lake.write_partition(key(DAY + dt.timedelta(days=1)), trades([3.0], ts0=0), "b")
    lake.write_partition(key(DAY, symbol="ETHUSDT"), trades([9.0]), "a")
    frame = lake.read("trades", symbol="BTCUSDT")
    assert frame["price"].tolist() == [3.0, 1.0, 2.0]
    assert lake.read("trades", start=DAY + dt.timedelta(days=1))["price"].tolist() == [3.0]
    assert set(frame.columns) >= {"venue", "symbol", "date"}
    summary = lake.summary()
    assert summary["rows"].sum() == 4 and len(summary) == 3


def test_empty_dataset_reads_as_empty_frame_with_columns(tmp_path):
    frame = Lake(tmp_path).read("quotes")
    assert frame.empty and "bid_price" in frame.columns


@pytest.mark.slow
def test_spark_reads_the_lake_with_hive_partition_columns(tmp_path, spark):
    lake = Lake(tmp_path)
    lake.write_partition(key(DAY), trades([1.0, 2.0]), "a")
    lake.write_partition(key(DAY + dt.timedelta(days=1)), trades([3.0]), "a")
    frame = spark.read.parquet(str(tmp_path / "trades"))
    rows = frame.where("date = DATE'2024-08-09'").select("price", "venue", "symbol").collect()
    assert [(r.price, r.venue, r.symbol) for r in rows] == [(3.0, "binance_usdm", "BTCUSDT")]
    assert frame.count() == 3
