"""Estimators of P(forward return > 0): a linear baseline, gradient-boosted trees, Spark MLlib logistic.

Each has ``fit(frame, y)`` (``y`` 1 for up, 0 for down) and ``predict_up(frame)``
returning probabilities; missing feature values are allowed (filled with 0
for the linear models, native for the trees). ``importance()`` gives one
non-negative number per feature.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

__all__ = ["DirectionEstimator", "make_estimator", "LinearDirection", "TreeDirection", "SparkLogisticDirection"]


class DirectionEstimator(Protocol):
    features: list[str]

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> DirectionEstimator: ...

    def predict_up(self, frame: pd.DataFrame) -> np.ndarray: ...

    def importance(self) -> np.ndarray: ...


class LinearDirection:
    """Standardised logistic regression (the baseline)."""

    def __init__(self, features: list[str], c: float = 1.0) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.features = features
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=float(c), max_iter=500))

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> LinearDirection:
        self.model.fit(frame[self.features].fillna(0.0).to_numpy(), y)
        return self

    def predict_up(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(frame[self.features].fillna(0.0).to_numpy())[:, 1])

    def importance(self) -> np.ndarray:
        return np.abs(self.model[-1].coef_[0])


class TreeDirection:
    """LightGBM gradient-boosted trees."""

    def __init__(self, features: list[str], **params: Any) -> None:
        from lightgbm import LGBMClassifier

        self.features = features
        self.model = LGBMClassifier(verbose=-1, n_jobs=2, random_state=7, **params)

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> TreeDirection:
        self.model.fit(frame[self.features], y)
        return self

    def predict_up(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(frame[self.features]))[:, 1]

    def importance(self) -> np.ndarray:
        return np.asarray(self.model.booster_.feature_importance(importance_type="gain"), dtype=float)


class SparkLogisticDirection:
    """Logistic regression trained by Spark MLlib (for tables larger than memory), served with numpy.

    :meth:`fit_spark` trains on a Spark DataFrame straight from the feature
    table; :meth:`fit` does the same from pandas. The fitted coefficients are
    kept, so prediction needs no Spark.
    """

    def __init__(self, features: list[str], reg_param: float = 0.0, max_iter: int = 50) -> None:
        self.features = features
        self.reg_param = float(reg_param)
        self.max_iter = int(max_iter)
        self.coef = np.zeros(len(features))
        self.intercept = 0.0

    def fit_spark(self, frame: Any, label: str = "label") -> SparkLogisticDirection:
        """Train on a Spark DataFrame holding the feature columns and a 0/1 ``label`` column."""
        from pyspark.ml.classification import LogisticRegression
        from pyspark.ml.feature import VectorAssembler

        filled = frame.fillna(0.0, subset=self.features)
        assembled = VectorAssembler(inputCols=self.features, outputCol="x").transform(filled)
        model = LogisticRegression(
            featuresCol="x", labelCol=label, regParam=self.reg_param, maxIter=self.max_iter, standardization=True
        ).fit(assembled)
        self.coef = np.asarray(model.coefficients.toArray(), dtype=float)
        self.intercept = float(model.intercept)
        return self

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> SparkLogisticDirection:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        if spark is None:
            raise RuntimeError("SparkLogisticDirection.fit needs an active SparkSession (spark_jobs.session)")
        pdf = frame[self.features].astype(float).assign(label=np.asarray(y, dtype=float))
        return self.fit_spark(spark.createDataFrame(pdf))

    def predict_up(self, frame: pd.DataFrame) -> np.ndarray:
        z = frame[self.features].fillna(0.0).to_numpy(dtype=float) @ self.coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def importance(self) -> np.ndarray:
        return np.abs(self.coef)


def make_estimator(kind: str, features: list[str], params: dict[str, Any]) -> DirectionEstimator:
    """Build the estimator ``kind`` (``linear``, ``gbt``, ``spark_lr``); raises ValueError for others."""
    if kind == "linear":
        return LinearDirection(features, **params)
    if kind == "gbt":
        return TreeDirection(features, **params)
    if kind == "spark_lr":
        return SparkLogisticDirection(features, **params)
    raise ValueError(f"unknown estimator {kind!r}: expected 'linear', 'gbt' or 'spark_lr'")
