"""Shared fixtures: settings on a temporary root, the sample data, the Postgres harness."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from jtrader.config import Settings, load_settings

# Property tests check behaviour, not speed: on a loaded 2-core CI machine a slow example must not
# fail a run (speed targets live in bench/).
hypothesis_settings.register_profile("jtrader", deadline=None)
hypothesis_settings.load_profile("jtrader")

pytest_plugins = ["tests.harness.postgres", "tests.harness.lakes"]

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_data_dir() -> Path:
    """The real market data in ../shared/data (or JTRADER_DATA_PATH); fails loudly if absent."""
    configured = os.environ.get("JTRADER_DATA_PATH")
    path = Path(configured) if configured else REPO_ROOT / ".." / "shared" / "data"
    path = path.resolve()
    if not (path / "README.md").exists():
        pytest.fail(f"sample data not found at {path}: clone the repo beside shared/ or set JTRADER_DATA_PATH")
    return path


@pytest.fixture
def settings(tmp_path: Path, sample_data_dir: Path) -> Settings:
    """Settings rooted in a fresh temporary directory, reading the real sample data."""
    return load_settings(env={}, toml_path=None, root=tmp_path, data_path=sample_data_dir)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """One local Spark session per test run (start-up costs about 9 s)."""
    from spark_jobs.session import spark_session

    root = tmp_path_factory.mktemp("spark")
    session = spark_session(load_settings(env={}, toml_path=None, root=root, spark_master="local[2]"), "jtrader-tests")
    yield session
    session.stop()
