"""The Spark MLlib estimator learns what scikit-learn learns, and serves without Spark."""

import numpy as np
import pandas as pd
import pytest

from models.estimators import LinearDirection, SparkLogisticDirection


@pytest.mark.slow
def test_spark_logistic_direction_learns_a_planted_signal_and_matches_sklearn(spark):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"imbalance": rng.normal(size=4000), "noise": rng.normal(size=4000)})
    # up-moves follow the imbalance; the noise column carries nothing
    y = (frame["imbalance"] + 0.5 * rng.normal(size=4000) > 0).astype(int).to_numpy()
    spark_model = SparkLogisticDirection(["imbalance", "noise"], max_iter=100).fit(frame, y)
    assert spark_model.coef[0] > 1.0 and abs(spark_model.coef[1]) < 0.2
    assert spark_model.importance().argmax() == 0
    p_spark = spark_model.predict_up(frame)  # numpy only: no Spark needed to serve it
    hit = ((p_spark > 0.5) == y).mean()
    assert hit > 0.8
    p_sklearn = LinearDirection(["imbalance", "noise"], c=1e6).fit(frame, y).predict_up(frame)
    assert np.corrcoef(p_spark, p_sklearn)[0, 1] > 0.99


def test_spark_logistic_direction_without_a_session_says_what_to_start(monkeypatch):
    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    with pytest.raises(RuntimeError, match="needs an active SparkSession"):
        SparkLogisticDirection(["x"]).fit(pd.DataFrame({"x": [0.0, 1.0]}), np.array([0, 1]))
