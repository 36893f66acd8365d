"""The champion gate and the hand-operated registry commands (promote, rollback, list).

Production is the alias ``champion``; a new version gets ``challenger``.
:func:`evaluate_challenger` scores the challenger and the current champion on
the challenger's holdout (data the challenger never trained on);
:func:`decide` is the pure rule; :func:`apply_decision` moves ``champion``
only when the rule says so, and records the decision on the challenger's run
and version either way. Every promotion records the version it replaced
(tag ``previous_champion``), which :func:`rollback` restores.

Exceptions: :class:`RegistryError` (ValueError) for an unknown model or
version, or a rollback with nothing to roll back to.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from jtrader.config import Settings
from models.metrics import evaluate
from models.specs import ModelSpec
from models.train import CHAMPION, holdout_frame, load_training_frame

__all__ = [
    "Evaluation",
    "GateDecision",
    "RegistryError",
    "apply_decision",
    "decide",
    "evaluate_challenger",
    "list_versions",
    "promote",
    "rollback",
]

LOWER_IS_BETTER = {"log_loss"}


class RegistryError(ValueError):
    """An unknown model or version, or nothing to roll back to."""


@dataclass(frozen=True)
class Evaluation:
    """Both models' holdout metrics on the same rows (``champion`` is None when there is no champion)."""

    model_name: str
    challenger_version: str
    champion_version: str | None
    challenger: dict[str, float]
    champion: dict[str, float] | None
    rows: int


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger becomes champion, and why (one sentence)."""

    model_name: str
    challenger_version: str
    champion_version: str | None
    promote: bool
    reason: str
    metric: str
    challenger_value: float
    champion_value: float | None


def _client(settings: Settings) -> Any:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(settings.resolved_mlflow_uri)
    return MlflowClient()


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def evaluate_challenger(settings: Settings, spec: ModelSpec, version: str, start: dt.date, end: dt.date) -> Evaluation:
    """Score version ``version`` and the current champion on the holdout of ``start..end``; log on the run."""
    import mlflow.pyfunc

    client = _client(settings)
    holdout = holdout_frame(spec, load_training_frame(settings.lake_dir, spec, start, end))
    champion_version = _alias_version(client, spec.name, CHAMPION)

    def score(v: str) -> dict[str, float]:
        model = mlflow.pyfunc.load_model(f"models:/{spec.name}/{v}")
        p = model.predict(holdout[list(spec.features)].astype(float))["p_up"].to_numpy()
        return evaluate(p, holdout, spec.horizon, spec.ic_horizons, spec.cost_bps)

    challenger = score(version)
    champion = score(champion_version) if champion_version and champion_version != version else None
    run_id = client.get_model_version(spec.name, version).run_id
    for prefix, metrics in (("gate_challenger_", challenger), ("gate_champion_", champion or {})):
        for k, v in metrics.items():
            if np.isfinite(v):
                client.log_metric(run_id, prefix + k, float(v))
    return Evaluation(spec.name, version, champion_version, challenger, champion, len(holdout))


def decide(evaluation: Evaluation, metric: str, margin: float) -> GateDecision:
    """The rule: promote if there is no champion, or the challenger beats it by more than ``margin`` on ``metric``.

    A NaN challenger metric never promotes; the current champion re-evaluated
    as its own challenger is kept as it is.
    """
    ev = evaluation
    new = float(ev.challenger.get(metric, math.nan))
    lower = metric in LOWER_IS_BETTER
    if ev.champion_version == ev.challenger_version:
        return GateDecision(
            ev.model_name,
            ev.challenger_version,
            ev.champion_version,
            False,
            f"version {ev.challenger_version} is already champion",
            metric,
            new,
            new,
        )
    if math.isnan(new):
        return GateDecision(
            ev.model_name,
            ev.challenger_version,
            ev.champion_version,
            False,
            f"challenger {metric} is undefined on the holdout ({ev.rows} rows)",
            metric,
            new,
            None,
        )
    if ev.champion is None or ev.champion_version is None:
        return GateDecision(
            ev.model_name,
            ev.challenger_version,
            None,
            True,
            f"no champion yet; challenger holdout {metric}={new:.4f}",
            metric,
            new,
            None,
        )
    old = float(ev.champion.get(metric, math.nan))
    gain = (old - new) if lower else (new - old)
    if math.isnan(old) or gain > margin:
        why = "champion's is undefined" if math.isnan(old) else f"beats champion v{ev.champion_version}'s {old:.4f}"
        return GateDecision(
            ev.model_name,
            ev.challenger_version,
            ev.champion_version,
            True,
            f"challenger holdout {metric}={new:.4f} {why} by more than {margin}",
            metric,
            new,
            old,
        )
    return GateDecision(
        ev.model_name,
        ev.challenger_version,
        ev.champion_version,
        False,
        f"challenger holdout {metric}={new:.4f} does not beat champion v{ev.champion_version}'s "
        f"{old:.4f} by more than {margin}",
        metric,
        new,
        old,
    )


def apply_decision(settings: Settings, decision: GateDecision) -> str | None:
    """Record ``decision`` on the challenger's run and version; move ``champion`` if it promotes.

    Returns the champion version afterwards.
    """
    client = _client(settings)
    name, version = decision.model_name, decision.challenger_version
    run_id = client.get_model_version(name, version).run_id
    client.set_tag(run_id, "gate.decision", "promoted" if decision.promote else "kept_champion")
    client.set_tag(run_id, "gate.reason", decision.reason)
    client.set_tag(run_id, "gate.champion_version", str(decision.champion_version))
    client.log_dict(
        run_id,
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(decision).items()},
        "gate_decision.json",
    )
    client.set_model_version_tag(name, version, "gate.decision", "promoted" if decision.promote else "rejected")
    client.set_model_version_tag(name, version, "gate.reason", decision.reason)
    if decision.promote:
        return promote(settings, name, version, reason=decision.reason)
    return _alias_version(client, name, CHAMPION)


def promote(settings: Settings, name: str, version: str, reason: str = "promoted by hand") -> str:
    """Point ``champion`` at ``version`` (recording the replaced version for :func:`rollback`); return it."""
    client = _client(settings)
    _check_version(client, name, version)
    current = _alias_version(client, name, CHAMPION)
    if current == version:
        return version
    if current is not None:
        client.set_model_version_tag(name, version, "previous_champion", current)
    client.set_model_version_tag(name, version, "promotion_reason", reason)
    client.set_registered_model_alias(name, CHAMPION, version)
    return version


def rollback(settings: Settings, name: str) -> str:
    """Move ``champion`` back to the version it replaced; return that version."""
    client = _client(settings)
    current = _alias_version(client, name, CHAMPION)
    if current is None:
        raise RegistryError(f"model {name!r} has no champion: nothing to roll back")
    previous = client.get_model_version(name, current).tags.get("previous_champion")
    if not previous:
        raise RegistryError(f"champion v{current} of {name!r} replaced no earlier version: nothing to roll back to")
    client.set_registered_model_alias(name, CHAMPION, previous)
    client.set_model_version_tag(name, current, "rolled_back", "true")
    return str(previous)


def _check_version(client: Any, name: str, version: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, version)
    except MlflowException:
        raise RegistryError(f"model {name!r} has no version {version!r}: see `jtrader models list`") from None


def list_versions(settings: Settings, name: str | None = None) -> list[dict[str, Any]]:
    """Every registered version (of ``name``, or all models) with aliases, gate decision and holdout metric."""
    client = _client(settings)
    names = [name] if name else [m.name for m in client.search_registered_models()]
    rows = []
    for model_name in names:
        model = client.get_registered_model(model_name)
        aliases: dict[str, list[str]] = {}
        for alias, v in (model.aliases or {}).items():
            aliases.setdefault(str(v), []).append(alias)
        for mv in client.search_model_versions(f"name='{model_name}'"):
            run = client.get_run(mv.run_id) if mv.run_id else None
            metrics = run.data.metrics if run else {}
            rows.append(
                {
                    "model": model_name,
                    "version": str(mv.version),
                    "aliases": ",".join(sorted(aliases.get(str(mv.version), []))),
                    "interval": f"{run.data.tags.get('interval_start')}..{run.data.tags.get('interval_end')}"
                    if run
                    else "",
                    "holdout_ic": metrics.get("holdout_ic"),
                    "holdout_hit_rate": metrics.get("holdout_hit_rate"),
                    "gate": mv.tags.get("gate.decision", ""),
                    "reason": mv.tags.get("gate.reason", mv.tags.get("promotion_reason", "")),
                }
            )
    return sorted(rows, key=lambda r: (r["model"], int(r["version"])))
