"""Train a direction model with walk-forward CV and log it to MLflow as a registered challenger.

:func:`train_model` guarantees: one MLflow run per (spec, interval, dataset
digest) — a re-run of the same interval on the same data returns the existing
run and version and registers nothing new; the run holds parameters, the
walk-forward (``cv_*``) and holdout (``holdout_*``) metrics, the dataset
digest and input, the feature list and plots (importance, calibration, IC
decay); the model is a pyfunc with a signature and an input example,
registered under the spec's name with alias ``challenger``. The final model
never sees the holdout, so the gate compares out of sample.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jtrader.config import Settings
from models.cv import holdout_split, walk_forward_splits
from models.estimators import make_estimator
from models.metrics import evaluate
from models.specs import ModelSpec

__all__ = ["TrainResult", "load_training_frame", "dataset_digest", "train_model", "fit_and_score"]

CHALLENGER, CHAMPION = "challenger", "champion"


@dataclass
class TrainResult:
    """The run and registered version a training produced (or found, if ``reused``)."""

    model_name: str
    run_id: str
    version: str
    training_key: str
    reused: bool
    cv: dict[str, float] = field(default_factory=dict)
    holdout: dict[str, float] = field(default_factory=dict)


def load_training_frame(lake_root: Path, spec: ModelSpec, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Rows of the spec's feature table dated ``start..end`` with a known label, sorted by time then instrument."""
    from spark_jobs.features.build import read_feature_table

    frame = read_feature_table(lake_root, spec.table, start, end)
    label = f"fwd_ret_{spec.horizon}"
    if frame.empty or label not in frame.columns:
        raise ValueError(
            f"no rows in feature table {spec.table!r} for {start}..{end}: build the features first "
            "(spark_jobs.features or the retrain DAG's build_features task)"
        )
    frame = frame[np.isfinite(frame[label].to_numpy(dtype=float))]
    return frame.sort_values(["ts", "venue", "symbol"], kind="stable").reset_index(drop=True)


def dataset_digest(frame: pd.DataFrame) -> str:
    """A content digest of a training frame (order- and value-sensitive)."""
    hashed = pd.util.hash_pandas_object(frame.drop(columns=["date"], errors="ignore"), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(frame.columns).encode()).hexdigest()[:16]


def _fit(spec: ModelSpec, train: pd.DataFrame) -> Any:
    label = train[f"fwd_ret_{spec.horizon}"].to_numpy(dtype=float)
    moved = label != 0  # a flat future says nothing about direction
    estimator = make_estimator(spec.estimator, list(spec.features), dict(spec.params))
    return estimator.fit(train[moved], (label[moved] > 0).astype(int))


def fit_and_score(spec: ModelSpec, frame: pd.DataFrame) -> tuple[Any, dict[str, float], dict[str, float], pd.DataFrame]:
    """Walk-forward CV, then fit on the pre-holdout part and score the holdout.

    Returns ``(model, cv_metrics, holdout_metrics, oos)`` where ``oos`` holds
    the out-of-sample ``p_up`` and labels of every CV test block.
    """
    ts = frame["ts"].to_numpy(dtype=np.int64)
    horizon_ns, embargo_ns = spec.horizon * spec.step_ns, spec.embargo * spec.step_ns
    fold_metrics, oos = [], []
    for train_idx, test_idx in walk_forward_splits(ts, spec.n_splits, horizon_ns, embargo_ns):
        model = _fit(spec, frame.iloc[train_idx])
        test = frame.iloc[test_idx]
        p = model.predict_up(test)
        fold_metrics.append(evaluate(p, test, spec.horizon, spec.ic_horizons, spec.cost_bps))
        oos.append(test.assign(p_up=p))
    cv = pd.DataFrame(fold_metrics).mean(numeric_only=True).to_dict() if fold_metrics else {}
    cv["folds"] = float(len(fold_metrics))
    train_idx, hold_idx = holdout_split(ts, spec.holdout_fraction, horizon_ns, embargo_ns)
    if len(train_idx) < 50 or len(hold_idx) < 10:
        raise ValueError(f"{spec.name}: too few rows ({len(frame)}) for a holdout of {spec.holdout_fraction:.0%}")
    model = _fit(spec, frame.iloc[train_idx])
    holdout = frame.iloc[hold_idx]
    scores = evaluate(model.predict_up(holdout), holdout, spec.horizon, spec.ic_horizons, spec.cost_bps)
    return model, cv, scores, pd.concat(oos) if oos else frame.iloc[:0].assign(p_up=[])


def holdout_frame(spec: ModelSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The holdout rows :func:`fit_and_score` scores (the gate scores both models on these)."""
    ts = frame["ts"].to_numpy(dtype=np.int64)
    _, hold_idx = holdout_split(ts, spec.holdout_fraction, spec.horizon * spec.step_ns, spec.embargo * spec.step_ns)
    return frame.iloc[hold_idx]


def _plots(spec: ModelSpec, model: Any, oos: pd.DataFrame, holdout: dict[str, float], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    order = np.argsort(model.importance())
    ax.barh(np.array(spec.features)[order], model.importance()[order])
    ax.set_title(f"{spec.name}: feature importance")
    fig.tight_layout()
    paths.append(out / "importance.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    label = oos[f"fwd_ret_{spec.horizon}"].to_numpy(dtype=float) if len(oos) else np.array([])
    moved = label != 0
    if moved.any():
        p, y = oos["p_up"].to_numpy()[moved], (label[moved] > 0).astype(float)
        bins = np.quantile(p, np.linspace(0, 1, 11))
        which = np.clip(np.searchsorted(bins, p, side="right") - 1, 0, 9)
        xs = [p[which == b].mean() for b in range(10) if (which == b).any()]
        ys = [y[which == b].mean() for b in range(10) if (which == b).any()]
        ax.plot(xs, ys, "o-", label="walk-forward OOS")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="predicted P(up)", ylabel="observed frequency", title="calibration")
    fig.tight_layout()
    paths.append(out / "calibration.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    hs = [h for h in spec.ic_horizons if f"ic_{h}" in holdout]
    ax.bar([str(h) for h in hs], [holdout[f"ic_{h}"] for h in hs])
    ax.set(xlabel="horizon (samples)", ylabel="holdout IC", title="IC decay")
    fig.tight_layout()
    paths.append(out / "ic_decay.png")
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths


def _finite(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def train_model(settings: Settings, spec: ModelSpec, start: dt.date, end: dt.date) -> TrainResult:
    """Train ``spec`` on the feature rows dated ``start..end``; log, register and alias it ``challenger``."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.models import infer_signature

    from models.pyfunc import PIP_REQUIREMENTS, DirectionModel

    frame = load_training_frame(settings.lake_dir, spec, start, end)
    digest = dataset_digest(frame)
    key = f"{spec.key()}-{start}-{end}-{digest}"
    mlflow.set_tracking_uri(settings.resolved_mlflow_uri)
    experiment = mlflow.set_experiment(spec.name)
    client = MlflowClient()
    existing = client.search_runs(
        [experiment.experiment_id], f"tags.training_key = '{key}' and attributes.status = 'FINISHED'"
    )
    for run in existing:
        version = run.data.tags.get("model_version")
        if version:
            return TrainResult(
                spec.name,
                run.info.run_id,
                version,
                key,
                True,
                {k[3:]: v for k, v in run.data.metrics.items() if k.startswith("cv_")},
                {k[8:]: v for k, v in run.data.metrics.items() if k.startswith("holdout_")},
            )
    model, cv, holdout, oos = fit_and_score(spec, frame)
    features = list(spec.features)
    with mlflow.start_run(run_name=f"{spec.name} {start}..{end}") as run:
        mlflow.set_tags(
            {
                "training_key": key,
                "interval_start": str(start),
                "interval_end": str(end),
                "dataset_digest": digest,
                "feature_table": spec.table,
                "estimator": spec.estimator,
            }
        )
        mlflow.log_params(
            {
                "estimator": spec.estimator,
                "table": spec.table,
                "horizon": spec.horizon,
                "n_splits": spec.n_splits,
                "embargo": spec.embargo,
                "cost_bps": spec.cost_bps,
                "holdout_fraction": spec.holdout_fraction,
                "gate_metric": spec.gate_metric,
                "gate_margin": spec.gate_margin,
                "rows": len(frame),
                "features": ",".join(features),
                **{f"param_{k}": v for k, v in spec.params.items()},
            }
        )
        mlflow.log_metrics(_finite(cv, "cv_") | _finite(holdout, "holdout_"))
        dataset = from_pandas(
            frame,
            source=str(settings.lake_dir / "features" / spec.table),
            name=f"{spec.table} {start}..{end}",
            targets=f"fwd_ret_{spec.horizon}",
            digest=digest,
        )
        mlflow.log_input(dataset, context="training")
        mlflow.log_dict({"features": features, "label": f"fwd_ret_{spec.horizon} > 0"}, "features.json")
        with tempfile.TemporaryDirectory() as tmp:
            for path in _plots(spec, model, oos, holdout, Path(tmp)):
                mlflow.log_artifact(str(path), "plots")
        example = frame[features].head(5).astype(float)
        wrapped = DirectionModel(model)
        signature = infer_signature(example, wrapped.predict(None, example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=wrapped,
            signature=signature,
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=spec.name,
        )
        version = str(info.registered_model_version)
        client.set_registered_model_alias(spec.name, CHALLENGER, version)
        client.set_model_version_tag(spec.name, version, "training_key", key)
        client.set_model_version_tag(spec.name, version, "run_id", run.info.run_id)
        mlflow.set_tag("model_version", version)
    return TrainResult(spec.name, run.info.run_id, version, key, False, cv, holdout)


def describe(result: TrainResult) -> str:
    """One line for logs and the demo."""
    return json.dumps(
        {
            "model": result.model_name,
            "version": result.version,
            "reused": result.reused,
            "holdout_ic": result.holdout.get("ic"),
            "cv_ic": result.cv.get("ic"),
        }
    )
