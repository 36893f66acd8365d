"""Ingest of the real sample data and of damaged files, through the library and the CLI."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jtrader.cli import app
from jtrader.ingest import default_registry, ingest_files, parse_binance_capture
from jtrader.storage.lake import Lake
from jtrader.storage.sql import SqlStore

# Line counts of ../shared/data/README.md
README_LINES = {
    "usdm/btcusdt_20240808.gz": 93_954,
    "usdm/ethusdt_20240808.gz": 74_655,
    "spot/btcusdt_20240808.gz": 41_249,
    "spot/btcusdt_20240809.gz": 58_325,
    "spot/ethusdt_20240808.gz": 33_618,
    "spot/ethusdt_20240809.gz": 46_126,
    "cm/btcusd_perp_20240808.gz": 48_270,
    "cm/btcusd_perp_20240809.gz": 50_116,
    "cm/ethusd_perp_20240808.gz": 40_454,
    "cm/ethusd_perp_20240809.gz": 37_860,
    "btcusdt_1min_2017.zip": 95_760,
    "btcusdt_1min_2020_5.zip": 44_640,
    "ethusdt_1min_2017.zip": 95_760,
    "ethusdt_1min_2020_5.zip": 44_638,
}


@pytest.fixture(scope="module")
def ingested(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    lake = Lake(tmp_path_factory.mktemp("lake"))
    return lake, ingest_files([sample_data_dir], lake)


def _key(path: Path) -> str:
    return path.name if path.suffix == ".zip" else f"{path.parent.name}/{path.name}"


def test_every_sample_file_ingests_with_no_rejects_gaps_or_crossed_books(ingested):
    _, report = ingested
    assert {_key(f.path) for f in report.files} == set(README_LINES)
    for f in report.files:
        assert f.error is None, f.error
        assert f.messages == README_LINES[_key(f.path)], _key(f.path)
        assert (f.rejects, f.gaps, f.crossed) == (0, 0, 0), (_key(f.path), f.reject_samples)
        if f.format == "binance_capture":
            assert f.book_valid is True, _key(f.path)


def test_lake_rows_equal_the_events_parsed(ingested):
    lake, report = ingested
    trades = sum(f.events["Trade"] for f in report.files)
    quotes = sum(f.events["Quote"] for f in report.files)
    bars = sum(f.events["Bar"] for f in report.files)
    summary = lake.summary().groupby("dataset")["rows"].sum()
    assert summary["trades"] == trades
    assert summary["quotes"] == quotes
    assert summary["bars_1m"] == bars == 95_760 * 2 + 44_640 + 44_638
    assert summary["book_snapshots"] == 6 * 2 * 1000  # six snapshots of 1,000 levels a side


def test_lake_values_are_the_venue_strings_exactly(ingested, sample_data_dir):
    lake, _ = ingested
    # first trade of the USD-M BTCUSDT capture:
    # {"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,
    #  "p":"61800.30","q":"0.006",...,"m":false}
    trades = lake.read("trades", venue="binance_usdm", symbol="BTCUSDT")
    first = trades.iloc[0]
    assert (first["price"], first["size"], first["aggressor"], first["trade_id"]) == (
        61800.30,
        0.006,
        "buy",
        "5266583935",
    )
    assert first.ts_event == 1723161256322 * 1_000_000
    assert first.ts_recv == 1723161255088176367
    bars = lake.read("bars_1m", venue="huobi", symbol="btcusdt")
    # first 2017 bar: 1508990400,5712.0...,5712.0...,5712.0...,5712.0...,28.56,5,0.005
    assert bars.iloc[0][["open", "close", "volume", "quote_volume", "trade_count"]].tolist() == [
        5712.0,
        5712.0,
        0.005,
        28.56,
        5,
    ]
    assert bars.iloc[0].ts_event == (1508990400 + 60) * 1_000_000_000


def test_reingesting_a_file_gives_identical_partitions_and_no_duplicates(sample_data_dir, tmp_path):
    lake = Lake(tmp_path)
    path = sample_data_dir / "binance" / "spot" / "ethusdt_20240808.gz"
    ingest_files([path], lake)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}
    rows = lake.summary()["rows"].sum()
    ingest_files([path], lake)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}
    assert before == after
    assert lake.summary()["rows"].sum() == rows


def test_parse_binance_capture_continues_the_book_into_the_next_file_given_the_same_books(sample_data_dir):
    folder = sample_data_dir / "binance" / "cm"
    registry = default_registry()
    books: dict = {}
    _, first = parse_binance_capture(folder / "ethusd_perp_20240808.gz", registry, books)
    columns, second = parse_binance_capture(folder / "ethusd_perp_20240809.gz", registry, books)
    assert (first.book_valid, second.book_valid, second.gaps, second.rejects) == (True, True, 0, 0)
    assert second.messages == README_LINES["cm/ethusd_perp_20240809.gz"]
    assert sum(len(b) for b in columns.buffers.values()) > 0
    # the 08-09 file holds no snapshot: on its own its book never syncs
    _, alone = parse_binance_capture(folder / "ethusd_perp_20240809.gz", registry)
    assert alone.book_valid is False


def _damaged_capture(sample_data_dir: Path, tmp_path: Path) -> Path:
    source = sample_data_dir / "binance" / "usdm" / "btcusdt_20240808.gz"
    with gzip.open(source, "rb") as handle:
        lines = [handle.readline() for _ in range(40)]
    lines.insert(5, b"not a capture line\n")
    lines.insert(10, lines[12][: len(lines[12]) // 2] + b"\n")  # truncated JSON
    lines.insert(
        15,
        b'1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"BTCUSDT",'
        b'"t":1,"p":"NaN","q":"0.006","X":"MARKET","m":false}}\n',
    )
    path = tmp_path / "usdm" / "btcusdt_damaged.gz"
    path.parent.mkdir()
    with gzip.open(path, "wb") as handle:
        handle.writelines(lines)
    return path


def test_malformed_lines_are_counted_with_line_numbers_and_the_rest_is_ingested(sample_data_dir, tmp_path):
    path = _damaged_capture(sample_data_dir, tmp_path)
    lake = Lake(tmp_path / "lake")
    (report,) = ingest_files([path], lake).files
    assert report.error is None
    assert report.messages == 43
    assert report.rejects == 3
    assert [line for line, _ in report.reject_samples] == [6, 11, 16]
    assert "NaN" in report.reject_samples[2][1]
    assert sum(report.rows.values()) > 0
    assert lake.summary()["rows"].sum() == sum(report.rows.values())


def test_unreadable_file_is_reported_and_does_not_stop_the_others(sample_data_dir, tmp_path):
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"\x1f\x8b this is not gzip")
    good = tmp_path / "huobi" / "ethusdt_1min_2020_5.zip"
    good.parent.mkdir()
    shutil.copy(sample_data_dir / "huobi" / "ethusdt_1min_2020_5.zip", good)
    report = ingest_files([garbage, good], Lake(tmp_path / "lake"))
    by_name = {f.path.name: f for f in report.files}
    assert by_name["garbage.gz"].error is not None
    assert by_name["ethusdt_1min_2020_5.zip"].events["Bar"] == 44_638


@pytest.fixture
def cli_env(tmp_path, sample_data_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JTRADER_DATA_PATH", str(sample_data_dir))
    for key in list(__import__("os").environ):
        if key.startswith("JTRADER_") and key not in ("JTRADER_DATA_PATH",) and not key.startswith("JTRADER_TEST_"):
            monkeypatch.delenv(key)
    return tmp_path


def test_cli_ingest_prints_counts_records_a_run_and_lists_rejects(cli_env, sample_data_dir):
    path = _damaged_capture(sample_data_dir, cli_env)
    result = CliRunner().invoke(app, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    assert "btcusdt_damaged.gz" in result.output
    assert f"reject {path}:6:" in result.output
    with SqlStore(f"sqlite:///{cli_env}/var/jtrader.db") as store:
        (run,) = store.runs(kind="ingest")
    assert run.summary is not None and run.summary["files"][0]["rejects"] == 3


def test_cli_ingest_exits_non_zero_only_when_a_file_cannot_be_read(cli_env):
    bad = cli_env / "bad.gz"
    bad.write_bytes(b"\x00\x01\x02")
    result = CliRunner().invoke(app, ["ingest", str(bad)])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_cli_bad_setting_stops_with_the_key_named(cli_env, monkeypatch):
    monkeypatch.setenv("JTRADER_SPARK_MASTER", "mesos://x")
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 2
    assert "JTRADER_SPARK_MASTER='mesos://x'" in result.output
