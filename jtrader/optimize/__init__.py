"""Strategy parameter optimisation with Optuna: samplers, named objectives, Pareto fronts, walk-forward.

Entry points: :func:`optimize` (one study over a parameter space with an
``evaluate(params) -> metrics`` function), :func:`walk_forward` (rolling
train/test windows, reporting out-of-sample metrics), :func:`grid_points`
(the exact trial list a grid study runs: what the Spark sweep distributes),
:func:`heatmap` (a parameter-neighbourhood heatmap) and :func:`log_study`
(every trial an MLflow run under one parent run).

Objectives are metric names (:data:`OBJECTIVES`: ``sharpe``, ``sortino``,
``pnl``, ``calmar``, ``pnl_over_maxdd``, all maximised) or any callable
``metrics -> float`` (maximised). Several objectives make a multi-objective
study whose result is the Pareto front. The same space, sampler, seed and
trial count give the same trials.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jtrader.backtest.metrics import OBJECTIVES

__all__ = [
    "IntRange",
    "Objective",
    "OptimizeResult",
    "Trial",
    "OBJECTIVES",
    "grid_points",
    "heatmap",
    "log_study",
    "objective_value",
    "optimize",
    "sample_points",
    "walk_forward",
]

Objective = str | Callable[[dict[str, float]], float]
Metrics = dict[str, float]


@dataclass(frozen=True)
class IntRange:
    """Integers ``low..high`` inclusive in steps of ``step``."""

    low: int
    high: int
    step: int = 1

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))


Space = dict[str, IntRange | Sequence[Any]]


@dataclass
class Trial:
    number: int
    params: dict[str, Any]
    metrics: Metrics
    values: list[float]


@dataclass
class OptimizeResult:
    """Every trial, and the best (single objective) or the Pareto front (several)."""

    objectives: list[str]
    trials: list[Trial]
    best: list[Trial] = field(default_factory=list)

    @property
    def best_params(self) -> dict[str, Any]:
        return self.best[0].params if self.best else {}


def objective_value(metrics: Metrics, objective: Objective) -> float:
    """The value to maximise; raises ValueError naming the known objectives for an unknown name."""
    if callable(objective):
        return float(objective(metrics))
    if objective not in OBJECTIVES and objective not in metrics:
        raise ValueError(f"objective {objective!r}: expected one of {', '.join(OBJECTIVES)} or a callable")
    return float(metrics.get(objective, 0.0))


def _name(objective: Objective) -> str:
    return objective if isinstance(objective, str) else getattr(objective, "__name__", "custom")


def grid_points(space: Space) -> list[dict[str, Any]]:
    """Every point of the grid, in a fixed order (last parameter fastest)."""
    names = list(space)
    axes = [s.values() if isinstance(s, IntRange) else list(s) for s in space.values()]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]


def _sampler(name: str, space: Space, seed: int) -> Any:
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        grid = {k: (s.values() if isinstance(s, IntRange) else list(s)) for k, s in space.items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    raise ValueError(f"sampler {name!r}: expected tpe, grid or random")


def _suggest(trial: Any, space: Space) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, spec in space.items():
        if isinstance(spec, IntRange):
            params[key] = trial.suggest_int(key, spec.low, spec.high, step=spec.step)
        else:
            params[key] = trial.suggest_categorical(key, list(spec))
    return params


def sample_points(space: Space, sampler: str, n_trials: int, seed: int) -> list[dict[str, Any]]:
    """The points a grid or random study visits, known before any is evaluated (they do not depend on results).

    Equal to the ``params`` of :func:`optimize`'s trials, in order, for the same arguments.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler not in ("grid", "random"):
        raise ValueError(f"sampler {sampler!r}: only grid and random points are known in advance (TPE learns)")
    if sampler == "grid":
        n_trials = min(n_trials, len(grid_points(space)))
    study = optuna.create_study(direction="maximize", sampler=_sampler(sampler, space, seed))
    points = []
    for _ in range(n_trials):
        trial = study.ask()
        points.append(_suggest(trial, space))
        try:
            study.tell(trial, 0.0)
        except RuntimeError:  # the grid sampler stops the study after its last point
            break
    return points


def optimize(
    evaluate: Callable[[dict[str, Any]], Metrics],
    space: Space,
    objectives: Sequence[Objective] = ("sharpe",),
    sampler: str = "tpe",
    n_trials: int = 20,
    seed: int = 0,
    constraint: Callable[[dict[str, Any]], bool] | None = None,
) -> OptimizeResult:
    """Run a study maximising ``objectives`` of ``evaluate(params)`` over ``space``.

    A grid study runs at most every grid point once. Points failing
    ``constraint`` are not evaluated and score -inf (e.g. ``fast < slow``).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler == "grid":
        n_trials = min(n_trials, len(grid_points(space)))
    names = [_name(o) for o in objectives]
    study = optuna.create_study(directions=["maximize"] * len(objectives), sampler=_sampler(sampler, space, seed))
    trials: list[Trial] = []

    def run(trial: Any) -> float | list[float]:
        params = _suggest(trial, space)
        if constraint is not None and not constraint(params):
            values = [float("-inf")] * len(objectives)
            metrics: Metrics = {}
        else:
            metrics = evaluate(params)
            values = [objective_value(metrics, o) for o in objectives]
        trials.append(Trial(trial.number, params, metrics, values))
        return values[0] if len(values) == 1 else values

    study.optimize(run, n_trials=n_trials)
    valid = [t for t in trials if t.metrics]
    if len(objectives) == 1:
        best = sorted(valid, key=lambda t: (-t.values[0], t.number))[:1]
    else:
        unique = {tuple(sorted(t.params.items())): t for t in reversed(valid)}  # first trial of each point
        valid = sorted(unique.values(), key=lambda t: t.number)
        best = [
            t
            for t in valid
            if not any(
                all(o >= v for o, v in zip(u.values, t.values, strict=True)) and u.values != t.values for u in valid
            )
        ]
    return OptimizeResult(names, trials, best)


@dataclass
class WalkForwardWindow:
    train: tuple[int, int]  # [start, end) indices into the event list
    test: tuple[int, int]
    best_params: dict[str, Any]
    in_sample: Metrics
    out_of_sample: Metrics


def walk_forward(
    evaluate_on: Callable[[dict[str, Any], int, int], Metrics],
    n_events: int,
    space: Space,
    train: int,
    test: int,
    objective: Objective = "sharpe",
    sampler: str = "grid",
    n_trials: int = 20,
    seed: int = 0,
    constraint: Callable[[dict[str, Any]], bool] | None = None,
) -> list[WalkForwardWindow]:
    """Rolling windows: optimise on ``train`` events, evaluate the best on the next ``test``, step by ``test``.

    ``evaluate_on(params, start, end)`` backtests events ``[start, end)``.
    """
    windows = []
    start = 0
    while start + train + test <= n_events:
        a, b, c = start, start + train, start + train + test

        def on_train(params: dict[str, Any], a: int = a, b: int = b) -> Metrics:
            return evaluate_on(params, a, b)

        study = optimize(on_train, space, [objective], sampler, n_trials, seed, constraint)
        best = study.best_params
        windows.append(WalkForwardWindow((a, b), (b, c), best, study.best[0].metrics, evaluate_on(best, b, c)))
        start += test
    return windows


def heatmap(result: OptimizeResult, x: str, y: str, metric: str, path: Path) -> Path:
    """A heatmap of ``metric`` over two parameters (mean over the others), to see how flat the optimum is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    xs = sorted({t.params[x] for t in result.trials})
    ys = sorted({t.params[y] for t in result.trials})
    grid = np.full((len(ys), len(xs)), np.nan)
    sums: dict[tuple[Any, Any], list[float]] = {}
    for t in result.trials:
        if t.metrics:
            sums.setdefault((t.params[x], t.params[y]), []).append(objective_value(t.metrics, metric))
    for (vx, vy), vals in sums.items():
        grid[ys.index(vy), xs.index(vx)] = float(np.mean(vals))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=90, fontsize=7)
    ax.set_yticks(range(len(ys)), [str(v) for v in ys], fontsize=7)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{metric} over {x} x {y}")
    fig.colorbar(image)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def log_study(
    settings: Any, name: str, result: OptimizeResult, params: dict[str, Any], artifacts: Sequence[Path] = ()
) -> str:
    """Log the study to MLflow: a parent run (best values, artifacts) and one nested run per trial."""
    from jtrader.backtest.record import log_to_mlflow

    best = result.best[0] if result.best else None
    parent = log_to_mlflow(
        settings,
        "optimize",
        name,
        {
            **params,
            "objectives": ",".join(result.objectives),
            **({f"best_{k}": v for k, v in best.params.items()} if best else {}),
        },
        best.metrics if best else {},
        list(artifacts),
    )
    for trial in result.trials:
        log_to_mlflow(
            settings, "optimize", f"{name}-trial-{trial.number}", trial.params, trial.metrics, parent_run_id=parent
        )
    return parent
