"""The retrain DAG: parses cleanly, runs under dag.test() on the sample bars, re-runs without a duplicate version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.features.lake_fixture import ml_lake  # noqa: F401  (the shared ingested test lake)

REPO = Path(__file__).resolve().parents[2]


def test_retrain_dag_imports_without_errors(airflow_home: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "retrain_models.py"))
    assert bag.import_errors == {}
    assert [t.task_id for t in bag.dags["retrain_models"].tasks] == [
        "build_features",
        "train",
        "evaluate",
        "gate",
        "promote",
    ]


@pytest.mark.slow
def test_retrain_dag_promotes_once_and_rerun_registers_no_duplicate(
    airflow_home: Path,
    ml_lake: Path,  # noqa: F811
    spark,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from mlflow import MlflowClient

    from jtrader.config import load_settings

    monkeypatch.setenv("JTRADER_ROOT", str(tmp_path))
    monkeypatch.setenv("JTRADER_LAKE_PATH", str(ml_lake))
    dag = DagBag(dag_folder=str(REPO / "dags" / "retrain_models.py")).get_dag("retrain_models")
    logical = dt.datetime(2020, 6, 1, tzinfo=dt.UTC)  # the run for the interval May 2020
    for _ in range(2):
        run = dag.test(logical_date=logical)
        assert str(getattr(run, "state", run)).endswith("success"), run
    client = MlflowClient(load_settings().resolved_mlflow_uri)
    versions = client.search_model_versions("name='bars_direction_gbt'")
    assert len(versions) == 1
    champion = client.get_model_version_by_alias("bars_direction_gbt", "champion")
    assert champion.version == versions[0].version
    run_tags = client.get_run(champion.run_id).data.tags
    assert run_tags["gate.decision"] == "kept_champion"  # the second run saw it was champion already
    assert run_tags["interval_start"] == "2020-05-01" and run_tags["interval_end"] == "2020-05-31"
