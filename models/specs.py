"""Model specifications: which feature table, label, estimator and gate a model uses.

A spec is plain data; :data:`SPECS` holds the models the platform retrains.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from jtrader.features.bars import BarFeatureConfig, bar_feature_names
from jtrader.features.book import BookFeatureConfig, book_feature_names

__all__ = ["ModelSpec", "SPECS", "get_spec"]


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: data, label, estimator, evaluation and promotion rule.

    ``gate_metric`` is a holdout metric name (``ic``, ``hit_rate``,
    ``log_loss``, ``pnl_bps``); the challenger replaces the champion only if it
    is better by more than ``gate_margin`` (lower is better for ``log_loss``).
    """

    name: str
    table: str  # feature table under <lake>/features/
    features: tuple[str, ...]
    horizon: int  # label horizon in samples (fwd_ret_<horizon>)
    estimator: str  # "linear" | "gbt" | "spark_lr"
    params: dict[str, float | int | str] = field(default_factory=dict)
    ic_horizons: tuple[int, ...] = (1, 5, 15, 60)
    step_ns: int = 60_000_000_000  # sampling step of the table
    n_splits: int = 4
    embargo: int = 5  # samples dropped before each test block beyond the label purge
    holdout_fraction: float = 0.25
    cost_bps: float = 1.0  # per unit of position change, for the signal PnL
    gate_metric: str = "ic"
    gate_margin: float = 0.002

    def key(self) -> str:
        """A digest of everything that shapes a training (used to make re-runs idempotent)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()[:16]


_BARS = BarFeatureConfig()
_BOOK = BookFeatureConfig()

SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "bars_direction_gbt",
            "bars_1m",
            tuple(bar_feature_names(_BARS)),
            15,
            "gbt",
            {"n_estimators": 80, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 200},
        ),
        ModelSpec("bars_direction_linear", "bars_1m", tuple(bar_feature_names(_BARS)), 15, "linear", {"c": 1.0}),
        ModelSpec(
            "bars_direction_spark",
            "bars_1m",
            tuple(bar_feature_names(_BARS)),
            15,
            "spark_lr",
            {"reg_param": 0.01, "max_iter": 50},
            n_splits=2,
        ),
        ModelSpec(
            "book_direction_linear",
            f"book_{_BOOK.sample_ms}ms",
            tuple(book_feature_names(_BOOK)),
            5,
            "linear",
            {"c": 1.0},
            ic_horizons=_BOOK.label_horizons,
            step_ns=_BOOK.sample_ns,
            n_splits=3,
            embargo=5,
            cost_bps=0.0,
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name``; raises KeyError listing the known ones."""
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}: expected one of {', '.join(sorted(SPECS))}") from None
