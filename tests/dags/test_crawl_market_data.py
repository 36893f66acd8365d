"""The crawl DAG: imports cleanly, and dag.test() on the sample data twice gives identical partitions and rows."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pendulum
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_dagbag_has_no_import_errors(airflow_home: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert "crawl_market_data" in bag.dag_ids


def _digest(lake: Path) -> dict[str, str]:
    return {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(lake.rglob("*.parquet"))
    }


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dag_runs_twice_on_the_sample_data_with_identical_output(
    airflow_home: Path, tmp_path: Path, sample_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JTRADER_ROOT", str(tmp_path))
    monkeypatch.setenv("JTRADER_DATA_PATH", str(sample_data_dir))
    from airflow.dag_processing.dagbag import DagBag

    from jtrader.config import load_settings
    from jtrader.storage.sql import SqlStore

    dag = DagBag(dag_folder=str(REPO / "dags" / "crawl_market_data.py")).get_dag("crawl_market_data")
    conf = {
        "source": "capture",
        "venues": ["binance_coinm"],
        "symbols": ["ETHUSD_PERP"],
        "location": "",
        "datasets": [],
    }
    digests, quality = [], []
    for run in range(2):
        state = dag.test(logical_date=pendulum.datetime(2024, 8, 9, tz="UTC"), run_conf=conf)
        assert str(getattr(state, "state", state)).endswith("success"), f"run {run}: {state}"
        digests.append(_digest(tmp_path / "var" / "lake"))
        with SqlStore.from_settings(load_settings()) as store:
            quality.append(sorted((q.dataset, q.date, q.rows, q.source) for q in store.data_quality()))
    assert digests[0] and digests[0] == digests[1]
    assert quality[0] == quality[1] and len(quality[0]) == len({q[0] for q in quality[0]})
    # a daily run at logical date 08-09 covers the interval [08-08, 08-09): it writes the 08-08 partitions
    assert any("symbol=ETHUSD_PERP/date=2024-08-08" in k for k in digests[0]), sorted(digests[0])
    assert os.environ["AIRFLOW_HOME"] == str(airflow_home)
