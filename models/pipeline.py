"""The retrain pipeline as library calls, one per DAG task, each keyed on the data interval.

``build_features`` → ``train`` → ``evaluate`` → ``gate`` → ``promote``. Each
returns small JSON-able values (what Airflow passes between tasks). Re-running
an interval rewrites its feature partitions and finds the existing MLflow run
and version (no duplicate registration); the gate then sees that version as
what it already is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from jtrader.config import Settings
from models.registry import Evaluation, GateDecision, apply_decision, decide, evaluate_challenger
from models.specs import get_spec
from models.train import train_model

__all__ = ["build_features", "train", "evaluate", "gate", "promote", "run_pipeline", "DEFAULT_MODEL"]

DEFAULT_MODEL = "bars_direction_gbt"


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def build_features(settings: Settings, model: str, start: dt.date | str, end: dt.date | str) -> dict[str, Any]:
    """Build the model's feature table on Spark for ``start..end``; return the table, rows and partitions."""
    from jtrader.features.bars import BarFeatureConfig
    from jtrader.features.book import BookFeatureConfig
    from spark_jobs.features.build import build_bar_features, build_book_features
    from spark_jobs.session import spark_session

    spec = get_spec(model)
    spark = spark_session(settings, "jtrader-retrain")
    if spec.table == "bars_1m":
        report = build_bar_features(spark, settings.lake_dir, _date(start), _date(end), BarFeatureConfig())
    else:
        sample_ms = int(spec.table.removeprefix("book_").removesuffix("ms"))
        report = build_book_features(spark, settings.lake_dir, _date(start), _date(end), BookFeatureConfig(sample_ms))
    return {"table": report.table, "rows": report.rows, "partitions": len(report.partitions)}


def train(settings: Settings, model: str, start: dt.date | str, end: dt.date | str) -> dict[str, Any]:
    """Train and register the challenger for ``start..end`` (idempotent per interval and data)."""
    result = train_model(settings, get_spec(model), _date(start), _date(end))
    return {
        "model": result.model_name,
        "version": result.version,
        "run_id": result.run_id,
        "reused": result.reused,
        "holdout": result.holdout,
    }


def evaluate(settings: Settings, model: str, version: str, start: dt.date | str, end: dt.date | str) -> dict[str, Any]:
    """Score the challenger and the champion on the interval's holdout."""
    return asdict(evaluate_challenger(settings, get_spec(model), str(version), _date(start), _date(end)))


def gate(settings: Settings, model: str, evaluation: dict[str, Any]) -> dict[str, Any]:
    """Apply the spec's promotion rule to an evaluation (pure: decides, changes nothing)."""
    spec = get_spec(model)
    return asdict(decide(Evaluation(**evaluation), spec.gate_metric, spec.gate_margin))


def promote(settings: Settings, decision: dict[str, Any]) -> dict[str, Any]:
    """Record the decision on the run and move ``champion`` if it says so; return the champion afterwards."""
    champion = apply_decision(settings, GateDecision(**decision))
    return {
        "model": decision["model_name"],
        "champion": champion,
        "promoted": decision["promote"],
        "reason": decision["reason"],
    }


def run_pipeline(settings: Settings, model: str, start: dt.date | str, end: dt.date | str) -> dict[str, Any]:
    """Every step in order, as the DAG runs them (for the demo, notebooks and tests)."""
    built = build_features(settings, model, start, end)
    trained = train(settings, model, start, end)
    evaluation = evaluate(settings, model, trained["version"], start, end)
    decision = gate(settings, model, evaluation)
    outcome = promote(settings, decision)
    return {"features": built, "train": trained, "evaluation": evaluation, "decision": decision, "outcome": outcome}
