"""Retrain a direction model for each data interval: build features → train → evaluate → gate → promote.

Thin: each task makes one call into :mod:`models.pipeline` with the data
interval (``start`` = interval start, ``end`` = the last day inside it).
Nothing is read or imported heavily at parse time. Re-running an interval
rewrites its feature partitions and finds the already-registered version, so
no duplicate version is registered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

MODEL = "{{ params.model }}"


def _days(start: dt.datetime, end: dt.datetime) -> tuple[str, str]:
    """Inclusive first and last dates of a data interval [start, end)."""
    return start.date().isoformat(), (end - dt.timedelta(microseconds=1)).date().isoformat()


def _settings() -> Any:
    from jtrader.config import load_settings

    return load_settings()


@dag(
    dag_id="retrain_models",
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone="UTC"),
    start_date=dt.datetime(2020, 5, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    params={"model": "bars_direction_gbt"},
    tags=["ml"],
    doc_md=__doc__,
)
def retrain_models() -> None:
    @task
    def build_features(model: str, data_interval_start: Any = None, data_interval_end: Any = None) -> dict[str, Any]:
        from models.pipeline import build_features

        return build_features(_settings(), model, *_days(data_interval_start, data_interval_end))

    @task
    def train(model: str, built: Any, data_interval_start: Any = None, data_interval_end: Any = None) -> dict[str, Any]:
        from models.pipeline import train

        return train(_settings(), model, *_days(data_interval_start, data_interval_end))

    @task
    def evaluate(
        model: str, trained: Any, data_interval_start: Any = None, data_interval_end: Any = None
    ) -> dict[str, Any]:
        from models.pipeline import evaluate

        return evaluate(_settings(), model, trained["version"], *_days(data_interval_start, data_interval_end))

    @task
    def gate(model: str, evaluation: Any) -> dict[str, Any]:
        from models.pipeline import gate

        return gate(_settings(), model, evaluation)

    @task
    def promote(decision: Any) -> dict[str, Any]:
        from models.pipeline import promote

        return promote(_settings(), decision)

    built = build_features(MODEL)
    trained = train(MODEL, built)
    promote(gate(MODEL, evaluate(MODEL, trained)))


retrain_models()
