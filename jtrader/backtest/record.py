"""Keep a backtest: a run in the SQL store and a run in MLflow, with its parameters, metrics and report.

MLflow is imported only when asked for (it costs about 2 s); the tracking
URI comes from the settings (a local SQLite file by default).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from jtrader.backtest.engine import BacktestResult
from jtrader.config import Settings

__all__ = ["record_backtest", "log_to_mlflow"]


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if math.isfinite(v)}


def log_to_mlflow(
    settings: Settings,
    experiment: str,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    artifacts: list[Path] = (),  # type: ignore[assignment]
    parent_run_id: str | None = None,
) -> str:
    """Log one MLflow run (nested under ``parent_run_id`` if given); return its run id."""
    import mlflow

    mlflow.set_tracking_uri(settings.resolved_mlflow_uri)
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    tags = {"mlflow.runName": run_name}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(experiment_id, tags=tags)
    run_id = run.info.run_id
    from mlflow.entities import Metric, Param

    client.log_batch(
        run_id,
        metrics=[Metric(k, v, 0, 0) for k, v in _finite(metrics).items()],
        params=[Param(k, str(v)[:500]) for k, v in params.items()],
    )
    for artifact in artifacts:
        client.log_artifact(run_id, str(artifact))
    client.set_terminated(run_id)
    return run_id


def record_backtest(
    settings: Settings,
    result: BacktestResult,
    params: dict[str, Any],
    report: Path | None = None,
    mlflow: bool = True,
    experiment: str = "backtest",
    run_name: str | None = None,
) -> tuple[str, str | None]:
    """Store ``result`` as a ``backtest`` run in the SQL store and (optionally) MLflow; return both run ids."""
    from jtrader.storage.sql import RunStatus, SqlStore

    all_params = {**result.config.params(), **params, "strategy_id": result.strategy_id}
    summary = {**_finite(result.metrics), "report": str(report) if report else None}
    mlflow_id = None
    if mlflow:
        mlflow_id = log_to_mlflow(
            settings,
            experiment,
            run_name or result.strategy_id,
            all_params,
            result.metrics,
            [report] if report else [],
        )
        summary["mlflow_run_id"] = mlflow_id
    with SqlStore.from_settings(settings) as store:
        run_id = store.start_run("backtest", all_params)
        store.finish_run(run_id, RunStatus.SUCCEEDED, summary)
    return run_id, mlflow_id
