"""The champion gate: a worse challenger is not promoted, a better one is; promote/rollback by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jtrader.config import Settings, load_settings
from jtrader.features import BarFeatureConfig, bar_features_from_rows
from jtrader.storage.lake import Lake
from models.registry import Evaluation, GateDecision, apply_decision, decide, list_versions, promote, rollback
from models.specs import get_spec
from models.train import train_model


def _evaluation(challenger: float, champion: float | None, metric: str = "ic") -> Evaluation:
    return Evaluation(
        "m",
        "2",
        None if champion is None else "1",
        {metric: challenger},
        None if champion is None else {metric: champion},
        100,
    )


def test_worse_challenger_is_not_promoted() -> None:
    decision = decide(_evaluation(0.010, 0.020), "ic", 0.002)
    assert not decision.promote and "does not beat" in decision.reason


def test_better_challenger_within_margin_is_not_promoted() -> None:
    assert not decide(_evaluation(0.021, 0.020), "ic", 0.002).promote


def test_better_challenger_beyond_margin_is_promoted() -> None:
    decision = decide(_evaluation(0.030, 0.020), "ic", 0.002)
    assert decision.promote and "beats champion v1" in decision.reason


def test_lower_log_loss_is_better() -> None:
    assert decide(_evaluation(0.68, 0.69, "log_loss"), "log_loss", 0.001).promote
    assert not decide(_evaluation(0.70, 0.69, "log_loss"), "log_loss", 0.001).promote


def test_first_model_becomes_champion_and_undefined_metric_never_does() -> None:
    assert decide(_evaluation(0.01, None), "ic", 0.002).promote
    assert not decide(_evaluation(math.nan, None), "ic", 0.002).promote


@pytest.fixture(scope="module")
def trained(ml_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[str]]:
    """Two versions of the linear bar model in a fresh MLflow store, features written without Spark."""
    root = tmp_path_factory.mktemp("gate")
    # Features go to a private lake so they never mix with the Spark-built tables of other tests.
    settings = load_settings(env={}, toml_path=None, root=root, lake_path=root / "lake")
    lake = Lake(ml_lake)
    config = BarFeatureConfig()
    for symbol in ("btcusdt", "ethusdt"):
        frame = bar_features_from_rows(lake.read("bars_1m", venue="huobi", symbol=symbol), config)
        for date, part in frame.groupby("date"):
            out = settings.lake_dir / "features" / "bars_1m" / "venue=huobi" / f"symbol={symbol}" / f"date={date}"
            out.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pandas(part.drop(columns=["date"]), preserve_index=False)
            pq.write_table(table, out / "part-0.parquet")
    spec = dataclasses.replace(get_spec("bars_direction_linear"), name="gate_test_linear")
    versions = []
    for start, end in ((dt.date(2020, 5, 1), dt.date(2020, 5, 10)), (dt.date(2020, 5, 11), dt.date(2020, 5, 20))):
        result = train_model(settings, spec, start, end)
        assert not result.reused
        versions.append(result.version)
    again = train_model(settings, spec, dt.date(2020, 5, 11), dt.date(2020, 5, 20))
    assert again.reused and again.version == versions[1]  # re-running an interval registers nothing new
    return settings, versions


def _decision(version: str, champion: str | None, promote: bool) -> GateDecision:
    return GateDecision("gate_test_linear", version, champion, promote, "test", "ic", 0.0, 0.0)


def test_registry_moves_champion_only_on_a_promoting_decision(trained: tuple[Settings, list[str]]) -> None:
    settings, (v1, v2) = trained
    assert apply_decision(settings, _decision(v1, None, True)) == v1
    assert apply_decision(settings, _decision(v2, v1, False)) == v1  # worse challenger: champion stays
    assert apply_decision(settings, _decision(v2, v1, True)) == v2  # better challenger: champion moves
    rows = {r["version"]: r for r in list_versions(settings, "gate_test_linear")}
    assert rows[v2]["aliases"] == "challenger,champion" and rows[v2]["gate"] == "promoted"
    assert rollback(settings, "gate_test_linear") == v1
    assert promote(settings, "gate_test_linear", v2) == v2
