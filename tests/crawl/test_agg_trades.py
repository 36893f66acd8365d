"""Crawl of Binance aggTrades daily zips from a file mirror into the ``agg_trades`` lake dataset.

The zips are built here in the archive's documented format
(https://github.com/binance/binance-public-data, README "AggTrades": columns
Aggregate tradeId, Price, Quantity, First tradeId, Last tradeId, Timestamp,
Was the buyer the maker, and on spot Was the trade the best price match; the
futures files start with the header row
``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker``,
the spot files have none; spot times are microseconds from 2025).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from jtrader.config import Settings
from jtrader.crawl import CrawlUnit, SourceError, archive_path, crawl_range, crawl_unit, plan_units
from jtrader.domain import Venue
from jtrader.storage.lake import Lake
from jtrader.storage.sql import SqlStore

FUTURES_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
DAY = dt.date(2024, 8, 8)
# USD-M BTCUSDT around 23:54:15 UTC on 2024-08-08 (tick 0.10, lot 0.001)
USDM_ROWS = [
    "2279004100,61523.40,0.012,5089123400,5089123400,1723161255101,true",
    "2279004101,61523.50,0.250,5089123401,5089123403,1723161255101,false",
    "2279004102,61523.50,0.004,5089123404,5089123404,1723161255350,false",
    "2279004103,61523.30,1.337,5089123405,5089123409,1723161256002,true",
]


def _zip(csv_name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(csv_name, text)
    return buf.getvalue()


def _publish(mirror: Path, venue: Venue, symbol: str, day: dt.date, blob: bytes) -> Path:
    path = mirror / archive_path(venue, "aggTrades", symbol, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path


def _usdm_zip(rows: list[str]) -> bytes:
    return _zip(f"BTCUSDT-aggTrades-{DAY}.csv", FUTURES_HEADER + "\n" + "\n".join(rows) + "\n")


def _unit(mirror: Path, symbol: str = "BTCUSDT", venue: str = "binance_usdm", day: dt.date = DAY) -> CrawlUnit:
    return CrawlUnit(venue, symbol, day.isoformat(), "binance_archive", ("aggTrades",), str(mirror))


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _quality(settings: Settings) -> list[tuple]:
    with SqlStore.from_settings(settings) as store:
        return [
            (q.dataset, q.venue, q.symbol, q.date, q.source, q.rows, q.rejects, q.gaps) for q in store.data_quality()
        ]


def _crawl(unit: CrawlUnit, settings: Settings):
    with SqlStore.from_settings(settings) as store:
        return crawl_unit(unit, settings, store=store)


def test_futures_agg_trades_land_in_their_partition_exactly_and_a_rerun_is_byte_identical(
    settings: Settings, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    _publish(mirror, Venue.BINANCE_USDM, "BTCUSDT", DAY, _usdm_zip(USDM_ROWS))
    result = _crawl(_unit(mirror), settings)
    part = settings.lake_dir / "agg_trades/venue=binance_usdm/symbol=BTCUSDT/date=2024-08-08"
    assert result.status == "ok" and result.partitions == [str(part / "part-crawl-binance_archive.parquet")]
    table = Lake(settings.lake_dir).read_table("agg_trades").to_pydict()
    assert table["price"] == [61523.4, 61523.5, 61523.5, 61523.3]
    assert table["size"] == [0.012, 0.25, 0.004, 1.337]
    assert table["aggressor"] == ["sell", "buy", "buy", "sell"]  # the buyer was the maker: a seller took
    assert table["agg_trade_id"] == [2279004100, 2279004101, 2279004102, 2279004103]
    assert table["first_trade_id"] == [5089123400, 5089123401, 5089123404, 5089123405]
    assert table["last_trade_id"] == [5089123400, 5089123403, 5089123404, 5089123409]
    assert table["ts_event"][0] == 1723161255101 * 10**6
    (quality,) = result.datasets
    assert (quality.dataset, quality.rows, quality.duplicates, quality.gaps, quality.backwards) == (
        "agg_trades", 4, 0, 0, 0
    )  # fmt: skip
    first_rows, first_files = _quality(settings), _digest(settings.lake_dir)
    assert first_rows == [("agg_trades", "binance_usdm", "BTCUSDT", DAY, "crawl-binance_archive", 4, 0, 0)]

    again = _crawl(_unit(mirror), settings)
    assert again.status == "ok"
    assert _digest(settings.lake_dir) == first_files and _quality(settings) == first_rows


def test_spot_file_without_header_and_with_microsecond_times_is_read_on_its_day(
    settings: Settings, tmp_path: Path
) -> None:
    day = dt.date(2025, 1, 2)
    rows = [
        "4420000000,96912.01000000,0.00052000,4390000000,4390000001,1735776000123456,True,True",
        "4420000001,96912.00000000,0.01000000,4390000002,4390000002,1735776000200001,False,True",
    ]
    mirror = tmp_path / "mirror"
    _publish(mirror, Venue.BINANCE, "BTCUSDT", day, _zip(f"BTCUSDT-aggTrades-{day}.csv", "\n".join(rows) + "\n"))
    result = _crawl(_unit(mirror, "BTCUSDT", "binance", day), settings)
    assert result.status == "ok" and result.rejects == 0
    table = Lake(settings.lake_dir).read_table("agg_trades", venue="binance", start=day, end=day).to_pydict()
    assert table["ts_event"] == [1735776000123456000, 1735776000200001000]  # µs kept to the µs
    assert table["price"] == [96912.01, 96912.0] and table["aggressor"] == ["sell", "buy"]


def test_duplicates_id_gaps_backward_times_and_price_jumps_are_counted_and_the_rows_kept(
    settings: Settings, tmp_path: Path
) -> None:
    rows = [
        *USDM_ROWS,
        USDM_ROWS[-1],  # a duplicate
        "2279004107,61523.20,0.100,5089123413,5089123413,1723161257000,true",  # 104..106 missing
        "2279004108,61523.10,0.100,5089123414,5089123414,1723161256900,true",  # time goes back
        "2279004109,615231.00,0.100,5089123415,5089123415,1723161257100,false",  # 10x the price
        "2279004110,61523.10,abc,5089123416,5089123416,1723161257200,false",  # not a number: a reject
    ]
    mirror = tmp_path / "mirror"
    _publish(mirror, Venue.BINANCE_USDM, "BTCUSDT", DAY, _usdm_zip(rows))
    result = _crawl(_unit(mirror), settings)
    (quality,) = result.datasets
    assert (quality.rows, quality.duplicates, quality.gaps, quality.backwards, quality.price_outliers) == (
        8, 1, 1, 1, 1
    )  # fmt: skip
    assert result.rejects == 1
    (row,) = _quality(settings)
    assert row[5:] == (8, 1, 3)  # rows, rejects, gaps + duplicates + backwards


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (_usdm_zip(USDM_ROWS)[:-40], "not a zip or a damaged one"),  # a truncated download
        (
            _zip(
                f"BTCUSDT-trades-{DAY}.csv",
                "id,price,qty,quote_qty,time,is_buyer_maker\n1,61523.40,0.012,738.28,1,true",
            ),
            "is not an aggTrades header",
        ),  # a trades file under the aggTrades name
        (_usdm_zip([r.replace("true", "yes").replace("false", "no") for r in USDM_ROWS]), "none of its 4 rows"),
    ],
    ids=["truncated-zip", "trades-file", "no-valid-row"],
)
def test_bad_file_fails_with_a_clear_error_and_the_stored_day_is_kept(
    settings: Settings, tmp_path: Path, bad: bytes, says: str
) -> None:
    mirror = tmp_path / "mirror"
    path = _publish(mirror, Venue.BINANCE_USDM, "BTCUSDT", DAY, _usdm_zip(USDM_ROWS))
    assert _crawl(_unit(mirror), settings).status == "ok"
    files, rows = _digest(settings.lake_dir), _quality(settings)
    path.write_bytes(bad)
    with pytest.raises(SourceError, match=says) as raised:
        _crawl(_unit(mirror), settings)
    assert "BTCUSDT-aggTrades-2024-08-08.zip" in str(raised.value)
    (failed,) = crawl_range([_unit(mirror)], settings, state_file=tmp_path / "state.json", sleep=lambda _: None)
    assert failed.status == "failed" and says in failed.message
    assert _digest(settings.lake_dir) == files and _quality(settings) == rows


def test_crawling_trades_of_a_day_keeps_its_agg_trades(settings: Settings, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    _publish(mirror, Venue.BINANCE_USDM, "BTCUSDT", DAY, _usdm_zip(USDM_ROWS))
    trades = mirror / archive_path(Venue.BINANCE_USDM, "trades", "BTCUSDT", DAY)
    trades.parent.mkdir(parents=True)
    trades.write_bytes(
        _zip(
            f"BTCUSDT-trades-{DAY}.csv",
            "id,price,qty,quote_qty,time,is_buyer_maker\n5089123400,61523.40,0.012,738.28,1723161255101,true\n",
        )
    )
    assert _crawl(_unit(mirror), settings).status == "ok"
    result = _crawl(
        CrawlUnit("binance_usdm", "BTCUSDT", DAY.isoformat(), "binance_archive", ("trades",), str(mirror)), settings
    )
    assert result.status == "ok"
    lake = Lake(settings.lake_dir)
    assert lake.read_table("agg_trades").num_rows == 4 and lake.read_table("trades").num_rows == 1


def test_a_day_missing_from_the_mirror_is_missing_not_failed(settings: Settings, tmp_path: Path) -> None:
    (result,) = crawl_range([_unit(tmp_path / "empty")], settings, state_file=tmp_path / "s.json", sleep=lambda _: None)
    assert result.status == "missing" and "no such file" in result.message


def test_an_unknown_archive_dataset_is_refused_before_crawling(settings: Settings) -> None:
    with pytest.raises(SourceError, match="aggTrades"):
        plan_units(settings, DAY, "binance_archive", datasets=["agg_trades"])
