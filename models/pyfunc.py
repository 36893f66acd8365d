"""The MLflow pyfunc every direction model is served as.

Input: a DataFrame with the model's feature columns (float; NaN allowed).
Output: a DataFrame with ``p_up`` (probability the forward return is
positive) and ``signal`` (``2*p_up - 1``, in [-1, 1]).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

__all__ = ["DirectionModel", "PIP_REQUIREMENTS"]

# Explicit requirements: MLflow's inference costs seconds per log (ENVIRONMENT.md).
PIP_REQUIREMENTS = ["mlflow", "numpy", "pandas", "scikit-learn", "lightgbm"]


class DirectionModel(PythonModel):
    """Wrap a fitted :class:`models.estimators.DirectionEstimator` for serving."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.features = list(estimator.features)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ValueError(f"model input lacks feature columns {missing}: pass every column of {self.features}")
        p = np.asarray(self.estimator.predict_up(frame[self.features].astype(float)), dtype=float)
        return pd.DataFrame({"p_up": p, "signal": 2 * p - 1})
