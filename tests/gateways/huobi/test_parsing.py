"""Huobi kline archives: real zips give the README's bar counts; bad rows are reported by line."""

from __future__ import annotations

import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from jtrader.domain import Bar, InvalidValue, UnknownInstrument
from jtrader.gateways.huobi.instruments import huobi_instruments
from jtrader.gateways.huobi.parsing import (
    MalformedMessage,
    interval_from_filename,
    iter_kline_zip,
    symbol_from_filename,
)

BTC, ETH = huobi_instruments()
HEADER = "id,open,high,low,close,vol,count,amount"


def _zip(path: Path, rows: list[str], header: str = HEADER, member: str = "btcusdt_1min_2099.csv") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, "\n".join([header, *rows]) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "bars"),
    [
        ("btcusdt_1min_2017.zip", 95_760),
        ("btcusdt_1min_2020_5.zip", 44_640),
        ("ethusdt_1min_2017.zip", 95_760),
        ("ethusdt_1min_2020_5.zip", 44_638),
    ],
)
def test_real_archive_gives_the_readme_bar_count_with_no_rejects(sample_data_dir: Path, name: str, bars: int) -> None:
    items = list(iter_kline_zip(sample_data_dir / "huobi" / name))
    rejects = [item for _, item in items if not isinstance(item, Bar)]
    assert rejects == []
    assert len(items) == bars
    opens = [bar.ts_open for _, bar in items]  # type: ignore[union-attr]
    assert opens == sorted(set(opens))  # in order, no duplicates
    assert [line_no for line_no, _ in items] == list(range(2, bars + 2))


def test_first_bar_of_2017_listing_is_exact_with_quote_turnover_and_base_volume(sample_data_dir: Path) -> None:
    line_no, bar = next(iter_kline_zip(sample_data_dir / "huobi" / "btcusdt_1min_2017.zip", BTC))
    # 1508990400,5712.000000000000000000,...,28.560000000000000000,5.000000000000000000,0.005000000000000000
    assert line_no == 2
    assert isinstance(bar, Bar)
    assert bar.instrument_id == BTC.id
    assert (bar.open_ticks, bar.high_ticks, bar.low_ticks, bar.close_ticks) == (571200,) * 4
    assert bar.volume == 0.005  # base (amount)
    assert bar.quote_volume == 28.56  # quote (vol) = 0.005 * 5712
    assert bar.trade_count == 5
    assert bar.interval_ns == 60_000_000_000
    assert bar.ts_event == bar.ts_recv == (1508990400 + 60) * 1_000_000_000
    assert bar.ts_open == 1508990400 * 1_000_000_000


def test_illiquid_listing_minute_with_a_wide_range_is_a_valid_bar(sample_data_dir: Path) -> None:
    items = iter_kline_zip(sample_data_dir / "huobi" / "btcusdt_1min_2017.zip")
    next(items)
    _, bar = next(items)  # 5712 -> 5990 inside one minute
    assert isinstance(bar, Bar)
    assert BTC.ticks_to_price(bar.high_ticks).as_decimal() == Decimal("5990")


def test_malformed_rows_are_reported_with_line_numbers_and_good_rows_still_parse(tmp_path: Path) -> None:
    rows = [
        "1508990400,5712.00,5712.00,5712.00,5712.00,28.56,5.0,0.005",  # line 2: good
        "1508990460,NaN,5990.00,5712.00,5990.00,1.0,3,0.1",  # 3: NaN price
        "1508990520,5712.00,5990.00,5400.00",  # 4: too few fields
        "1508990580,-5.00,5990.00,5400.00,5804.00,1.0,6,2.5",  # 5: negative price
        "1508990640,5712.005,5990.00,5400.00,5804.00,1.0,6,2.5",  # 6: finer than the tick
        "1508990700,5712.00,5400.00,5990.00,5804.00,1.0,6,2.5",  # 7: high below low
        "15089907x0,5712.00,5990.00,5400.00,5804.00,1.0,6,2.5",  # 8: bad id
        "1508990820,5712.00,5990.00,5400.00,5804.00,inf,6,2.5",  # 9: infinite turnover
        "1508990880,5712.00,5990.00,5400.00,5804.00,1.0,6.5,2.5",  # 10: fractional trade count
        "1508990940,5712.00,5990.00,5400.00,5804.00,1.0,6,-2.5",  # 11: negative volume
        "1508991000,5712.00,5990.00,5400.00,5804.00,1.0,6,2.5",  # 12: good
    ]
    items = list(iter_kline_zip(_zip(tmp_path / "btcusdt_1min_2099.zip", rows)))
    assert [line_no for line_no, _ in items] == list(range(2, 13))
    bad = {line_no: str(item) for line_no, item in items if isinstance(item, MalformedMessage)}
    assert sorted(bad) == list(range(3, 12))
    assert "open" in bad[3] and "'NaN'" in bad[3]
    assert "expected 8 fields" in bad[4]
    assert "positive" in bad[5]
    assert "not a whole number" in bad[6]
    assert "inconsistent OHLC" in bad[7]
    assert "'15089907x0'" in bad[8]
    assert "'inf'" in bad[9]
    assert "'6.5'" in bad[10]
    assert "'-2.5'" in bad[11]
    assert all(text.startswith(f"btcusdt_1min_2099.zip:{n}: ") for n, text in bad.items())
    assert isinstance(items[0][1], Bar) and isinstance(items[-1][1], Bar)


def test_columns_are_found_by_header_name(tmp_path: Path) -> None:
    path = _zip(
        tmp_path / "ethusdt_1min_2099.zip",
        ["2.5,100,1508990400,230.00,230.00,230.00,230.00,575.0"],
        header="amount,count,id,open,high,low,close,vol",
    )
    ((_, bar),) = list(iter_kline_zip(path))
    assert isinstance(bar, Bar)
    assert (bar.volume, bar.quote_volume, bar.trade_count, bar.instrument_id) == (2.5, 575.0, 100, ETH.id)


def test_archive_without_kline_header_or_csv_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(MalformedMessage, match="lacks columns"):
        list(iter_kline_zip(_zip(tmp_path / "btcusdt_1min_2099.zip", ["1,2"], header="time,price")))
    empty = tmp_path / "ethusdt_1min_2098.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "nothing")
    with pytest.raises(MalformedMessage, match="one CSV"):
        list(iter_kline_zip(empty))


def test_symbol_and_interval_come_from_the_file_name() -> None:
    assert symbol_from_filename(Path("data/btcusdt_1min_2020_5.zip")) == "btcusdt"
    assert symbol_from_filename(Path("ETHUSDT_1min_2017.zip")) == "ethusdt"
    assert interval_from_filename(Path("btcusdt_1min_2017.zip")) == 60_000_000_000
    assert interval_from_filename(Path("btcusdt_4hour_2017.zip")) == 4 * 3600 * 1_000_000_000
    with pytest.raises(MalformedMessage, match="symbol and interval"):
        symbol_from_filename(Path("klines.zip"))


def test_instrument_of_another_symbol_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "btcusdt_1min_2099.zip", [])
    with pytest.raises(InvalidValue, match="holds 'btcusdt'"):
        list(iter_kline_zip(path, ETH))


def test_unknown_symbol_names_the_fix(tmp_path: Path) -> None:
    path = _zip(tmp_path / "dogeusdt_1min_2099.zip", [])
    with pytest.raises(UnknownInstrument, match="add its definition"):
        list(iter_kline_zip(path))
