"""The optional MongoDB store: documents and filters offline, and a contract suite against a real server.

The contract suite (``mongo`` marker) runs only when ``JTRADER_TEST_MONGO_URI``
points at a MongoDB >= 5.0 server; each test uses its own database and drops it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import bson
import numpy as np
import pandas as pd
import pytest

from jtrader.config import load_settings
from jtrader.storage.mongo import (
    InvalidMarketRows,
    MongoStore,
    MongoStoreError,
    MongoUnavailable,
    market_documents,
    market_filter,
    partition_filter,
    timeseries_options,
)

MONGO_URI_ENV = "JTRADER_TEST_MONGO_URI"
NO_SERVER = "no MongoDB server: set JTRADER_TEST_MONGO_URI to run"
TS = 1_723_161_255_123_456_789  # 2024-08-08T23:54:15.123456789Z
DAY = 86_400 * 10**9


def trade(ts: int, trade_id: int, venue: str = "binance_usdm", symbol: str = "BTCUSDT") -> dict[str, object]:
    return {"venue": venue, "symbol": symbol, "ts_event": ts, "trade_id": trade_id, "price": "61800.30", "qty": 0.002}


# -- without a server -----------------------------------------------------------------


def test_from_settings_gives_none_when_no_uri_is_set(tmp_path: Path) -> None:
    settings = load_settings(env={}, toml_path=None, root=tmp_path)

    assert MongoStore.from_settings(settings) is None


def test_from_settings_with_a_uri_connects_lazily_and_never_shows_the_password(tmp_path: Path) -> None:
    settings = load_settings(
        env={"JTRADER_MONGO_URI": "mongodb://trader:s3cret@127.0.0.1:1/", "JTRADER_MONGO_DATABASE": "desk"},
        toml_path=None,
        root=tmp_path,
    )

    store = MongoStore.from_settings(settings)

    assert store is not None and store.database == "desk"
    assert "s3cret" not in repr(store)
    store.close()


def test_an_unreachable_server_raises_mongo_unavailable_without_the_password() -> None:
    store = MongoStore.connect("mongodb://trader:s3cret@127.0.0.1:1/", "jt", timeout_ms=200)

    with pytest.raises(MongoUnavailable, match="cannot reach MongoDB") as raised:
        store.insert_market_rows("trades", [trade(TS, 1)])

    assert "s3cret" not in str(raised.value)
    assert raised.value.__cause__ is None  # pymongo's own message is not chained in
    store.close()


def test_a_malformed_uri_is_rejected_without_echoing_it() -> None:
    with pytest.raises(MongoStoreError, match="JTRADER_MONGO_URI") as raised:
        MongoStore.connect("mongodb://trader:s3cret@host:notaport/")

    assert "s3cret" not in str(raised.value)


def test_market_collections_are_time_series_on_ts_and_meta() -> None:
    assert timeseries_options("trades") == {"timeField": "ts", "metaField": "meta", "granularity": "seconds"}
    assert timeseries_options("bars_1m")["granularity"] == "minutes"
    with pytest.raises(InvalidMarketRows, match="bars_1m, trades"):
        timeseries_options("bars_5m")


def test_market_documents_group_rows_by_venue_symbol_and_utc_date() -> None:
    rows = [trade(TS, 1), trade(TS + 1, 2), trade(TS + DAY, 3), trade(TS, 4, symbol="ETHUSDT")]

    partitions = market_documents("trades", rows)

    assert {key: [d["trade_id"] for d in docs] for key, docs in partitions.items()} == {
        ("binance_usdm", "BTCUSDT", "2024-08-08"): [1, 2],
        ("binance_usdm", "BTCUSDT", "2024-08-09"): [3],
        ("binance_usdm", "ETHUSDT", "2024-08-08"): [4],
    }


def test_market_document_keeps_exact_ns_beside_a_millisecond_bson_date() -> None:
    (docs,) = market_documents("trades", [trade(TS, 1)]).values()

    doc = docs[0]

    assert doc["ts"] == datetime(2024, 8, 8, 23, 54, 15, 123000, tzinfo=UTC)
    assert doc["ts_ns"] == doc["ts_event"] == TS
    assert doc["meta"] == {"venue": "binance_usdm", "symbol": "BTCUSDT", "date": "2024-08-08"}
    assert "venue" not in doc and "symbol" not in doc
    assert bson.decode(bson.encode(doc))["ts_ns"] == TS


def test_a_dataframe_of_bars_becomes_bson_encodable_documents() -> None:
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(["2020-05-01 00:01", "2020-05-01 00:02"]),
            "venue": "huobi",
            "symbol": "btcusdt",
            "open": np.array([8620.5, 8633.1]),
            "count": np.array([151, 203], dtype=np.int64),
            "vwap": [Decimal("8625.123456789012345678"), Decimal("8630")],
        }
    )

    (docs,) = market_documents("bars_1m", frame).values()

    decoded = [bson.decode(bson.encode(d)) for d in docs]
    assert [d["count"] for d in decoded] == [151, 203]
    assert decoded[0]["vwap"].to_decimal() == Decimal("8625.123456789012345678")
    assert decoded[1]["ts_ns"] == pd.Timestamp("2020-05-01 00:02").value
    assert docs[0]["meta"]["date"] == "2020-05-01"
    assert list(frame.columns) == ["ts", "venue", "symbol", "open", "count", "vwap"]  # input untouched


def test_a_tz_aware_time_is_converted_to_utc_for_the_partition_date() -> None:
    # 01:30 UTC on the 9th is 09:30 in Shanghai, and 2024-08-08 21:30 in New York.
    new_york = datetime(2024, 8, 9, 1, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=-4)))

    (key,) = market_documents("trades", [{"venue": "huobi", "symbol": "btcusdt", "ts": new_york}])

    assert new_york.date() == date(2024, 8, 8)
    assert key == ("huobi", "btcusdt", "2024-08-09")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"symbol": "BTCUSDT", "ts_event": TS}, "needs non-empty 'venue' and 'symbol'"),
        ({"venue": "binance", "symbol": "BTCUSDT"}, "needs a time"),
        ({"venue": "binance", "symbol": "BTCUSDT", "ts_event": TS // 10**6}, "seconds, ms or us"),
        ({"venue": "binance", "symbol": "BTCUSDT", "ts": "2024-08-08"}, "expected a datetime or int ns"),
    ],
)
def test_a_bad_row_is_rejected_naming_the_row_and_the_problem(row: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidMarketRows, match=message) as raised:
        market_documents("trades", [trade(TS, 1), row])

    assert "trades row 1" in str(raised.value)


def test_partition_filter_uses_meta_fields_only_as_time_series_deletes_require() -> None:
    query = partition_filter("binance_usdm", "BTCUSDT", date(2024, 8, 8))

    assert query == {"meta.venue": "binance_usdm", "meta.symbol": "BTCUSDT", "meta.date": "2024-08-08"}


def test_market_filter_is_a_half_open_time_range_on_the_bson_date() -> None:
    query = market_filter("binance_usdm", "BTCUSDT", start=TS, end=datetime(2024, 8, 9, tzinfo=UTC))

    assert query == {
        "meta.venue": "binance_usdm",
        "meta.symbol": "BTCUSDT",
        "ts": {"$gte": datetime(2024, 8, 8, 23, 54, 15, 123456, tzinfo=UTC), "$lt": datetime(2024, 8, 9, tzinfo=UTC)},
    }
    assert market_filter() == {}


def test_upsert_document_refuses_a_market_collection_and_a_conflicting_id() -> None:
    store = MongoStore.connect("mongodb://127.0.0.1:1/", timeout_ms=200)

    with pytest.raises(MongoStoreError, match="insert_market_rows"):
        store.upsert_document("trades", "x", {})
    with pytest.raises(MongoStoreError, match="_id"):
        store.upsert_document("runs", "r1", {"_id": "r2"})
    store.close()


# -- against a real server (contract suite) ----------------------------------------------


@pytest.fixture
def mongo_store() -> Iterator[MongoStore]:
    uri = os.environ.get(MONGO_URI_ENV)
    if not uri:
        pytest.skip(NO_SERVER)
    store = MongoStore.connect(uri, f"jtrader_test_{uuid.uuid4().hex[:12]}")
    try:
        yield store
    finally:
        store._client.drop_database(store.database)
        store.close()


mongo = pytest.mark.mongo


@mongo
def test_server_creates_market_collections_as_time_series(mongo_store: MongoStore) -> None:
    mongo_store.ensure_collections()

    infos = {c["name"]: c for c in mongo_store._db.list_collections()}

    assert infos["trades"]["type"] == "timeseries"
    assert infos["trades"]["options"]["timeseries"]["timeField"] == "ts"
    assert infos["trades"]["options"]["timeseries"]["metaField"] == "meta"
    assert infos["bars_1m"]["options"]["timeseries"]["granularity"] == "minutes"
    mongo_store.ensure_collections()  # a second call is a no-op


@mongo
def test_server_reingesting_a_partition_stores_it_once(mongo_store: MongoStore) -> None:
    rows = [trade(TS + i, i) for i in range(100)]

    assert mongo_store.insert_market_rows("trades", rows) == 100
    assert mongo_store.insert_market_rows("trades", rows) == 100

    stored = mongo_store.find_market_rows("trades", "binance_usdm", "BTCUSDT")
    assert [r["trade_id"] for r in stored] == list(range(100))


@mongo
def test_server_corrected_reingest_replaces_the_partition_and_spares_the_others(mongo_store: MongoStore) -> None:
    mongo_store.insert_market_rows(
        "trades", [trade(TS, 1), trade(TS + 1, 2), trade(TS + DAY, 3), trade(TS, 9, symbol="ETHUSDT")]
    )

    mongo_store.insert_market_rows("trades", [trade(TS + 1, 2)])

    assert [r["trade_id"] for r in mongo_store.find_market_rows("trades", symbol="BTCUSDT")] == [2, 3]
    assert [r["trade_id"] for r in mongo_store.find_market_rows("trades", symbol="ETHUSDT")] == [9]


@mongo
def test_server_finds_market_rows_in_a_half_open_time_range(mongo_store: MongoStore) -> None:
    second = 10**9
    mongo_store.insert_market_rows("trades", [trade(TS + i * second, i) for i in range(5)])

    found = mongo_store.find_market_rows("trades", "binance_usdm", "BTCUSDT", start=TS + second, end=TS + 3 * second)

    assert [r["trade_id"] for r in found] == [1, 2]
    assert found[0]["ts_ns"] == TS + second


@mongo
def test_server_bars_from_a_dataframe_round_trip(mongo_store: MongoStore) -> None:
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2020-05-01", periods=3, freq="1min"),
            "venue": "huobi",
            "symbol": "btcusdt",
            "close": [8620.5, 8633.1, 8640.0],
            "amount": [Decimal("1.5"), Decimal("0.25"), Decimal("3")],
        }
    )

    mongo_store.insert_market_rows("bars_1m", frame)

    stored = mongo_store.find_market_rows("bars_1m", "huobi", "btcusdt")
    assert [r["close"] for r in stored] == [8620.5, 8633.1, 8640.0]
    assert [r["amount"] for r in stored] == [Decimal("1.5"), Decimal("0.25"), Decimal("3")]


@mongo
def test_server_upsert_document_replaces_the_document(mongo_store: MongoStore) -> None:
    mongo_store.upsert_document("runs", "r1", {"kind": "backtest", "pnl": Decimal("12.50"), "tags": ["a"]})
    mongo_store.upsert_document("runs", "r1", {"kind": "backtest", "status": "succeeded"})

    assert mongo_store.get_document("runs", "r1") == {"_id": "r1", "kind": "backtest", "status": "succeeded"}
    assert mongo_store.get_document("runs", "missing") is None


@mongo
def test_server_find_filters_sorts_and_limits_documents(mongo_store: MongoStore) -> None:
    for i in range(5):
        mongo_store.upsert_document("reports", f"d{i}", {"day": i, "kind": "daily" if i % 2 else "weekly"})

    found = mongo_store.find("reports", {"kind": "daily"}, sort=[("day", -1)], limit=1)

    assert found == [{"_id": "d3", "day": 3, "kind": "daily"}]


@mongo
def test_server_refuses_a_plain_collection_named_like_a_market_dataset(mongo_store: MongoStore) -> None:
    mongo_store._db.create_collection("trades")

    with pytest.raises(MongoStoreError, match="not a time-series collection"):
        mongo_store.insert_market_rows("trades", [trade(TS, 1)])
