"""Lakes of the sample files that backtest and optimiser tests replay, ingested once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from jtrader.domain import Instrument
from jtrader.ingest import default_registry, ingest_files
from jtrader.storage.lake import Lake


@pytest.fixture(scope="session")
def huobi_lake(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Lake:
    """Huobi BTCUSDT 1-minute bars of May 2020 (44,640 bars)."""
    lake = Lake(tmp_path_factory.mktemp("lake-huobi"))
    ingest_files([sample_data_dir / "huobi" / "btcusdt_1min_2020_5.zip"], lake)
    return lake


@pytest.fixture(scope="session")
def binance_lake(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Lake:
    """Binance USD-M BTCUSDT capture: snapshot, depth diffs, trades and best bid/offer (about 6 minutes)."""
    lake = Lake(tmp_path_factory.mktemp("lake-binance"))
    ingest_files([sample_data_dir / "binance" / "usdm" / "btcusdt_20240808.gz"], lake)
    return lake


@pytest.fixture(scope="session")
def huobi_btc() -> Instrument:
    return default_registry().find("btcusdt", "huobi")


@pytest.fixture(scope="session")
def usdm_btc() -> Instrument:
    return default_registry().find("BTCUSDT", "binance_usdm")
