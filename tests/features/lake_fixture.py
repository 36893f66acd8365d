"""One small ingested lake for the ML tests: spot BTCUSDT (2024-08-08 capture) and Huobi May-2020 bars.

Ingested once per test session into the pytest base temp directory; every
ML test folder's conftest exposes it as the ``ml_lake`` fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ML_FILES = [
    "binance/spot/btcusdt_20240808.gz",
    "huobi/btcusdt_1min_2020_5.zip",
    "huobi/ethusdt_1min_2020_5.zip",
]


def ingested_lake(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Path:
    """Path of the shared test lake (ingesting it on first use)."""
    from jtrader.ingest import ingest_files
    from jtrader.storage.lake import Lake

    root = tmp_path_factory.getbasetemp() / "ml_lake"
    done = root / ".ingested"
    if not done.exists():
        ingest_files([sample_data_dir / f for f in ML_FILES], Lake(root))
        done.touch()
    return root


@pytest.fixture(scope="session")
def ml_lake(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Path:
    return ingested_lake(tmp_path_factory, sample_data_dir)
