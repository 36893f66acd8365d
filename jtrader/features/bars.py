"""Bar features, defined once, computed incrementally from 1-minute bars.

:class:`BarFeatureEngine` takes bars in time order (``ts`` is the bar's close
time in ns) and returns the features known at that close. Horizons are in
minutes of wall time, not rows: a return over ``h`` minutes uses the close
exactly ``h`` minutes earlier and is NaN if that bar is missing, so gaps in
the venue's data never silently stretch a horizon.

Features:

- ``ret_<h>``: log close return over ``h`` minutes;
- ``vol_ewma``: EWMA realised volatility of 1-minute log returns
  (``lam = 0.5 ** (1/vol_halflife)``; a missing minute contributes nothing);
- ``range_bps``: ``(high - low) / close * 1e4``;
- ``clv``: close location value ``(2*close - high - low)/(high - low)`` (0 on a flat bar),
  a trade-flow proxy where bars carry no aggressor side;
- ``volume_z``: log volume minus its EWMA, over the EWMA of its absolute deviation.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["BarFeatureConfig", "BarFeatureEngine", "bar_feature_names"]

NS_PER_MINUTE = 60_000_000_000


@dataclass(frozen=True, slots=True)
class BarFeatureConfig:
    """Horizons (minutes) and smoothing of the bar features."""

    return_horizons: tuple[int, ...] = (1, 5, 15, 60)
    vol_halflife: float = 30.0  # minutes
    volume_halflife: float = 60.0  # minutes
    label_horizons: tuple[int, ...] = (1, 5, 15, 60)

    def __post_init__(self) -> None:
        if not self.return_horizons or min(self.return_horizons) <= 0:
            raise ValueError(f"return_horizons must be positive minute counts, got {self.return_horizons}")


def bar_feature_names(config: BarFeatureConfig) -> list[str]:
    """The model-input feature columns, in a fixed order."""
    return [*(f"ret_{h}" for h in config.return_horizons), "vol_ewma", "range_bps", "clv", "volume_z"]


@dataclass
class BarFeatureEngine:
    """Incremental bar features of one instrument.

    Example::

        >>> e = BarFeatureEngine(BarFeatureConfig(return_horizons=(1,)))
        >>> _ = e.on_bar(60_000_000_000, 10.0, 10.0, 10.0, 10.0, 1.0)
        >>> round(e.on_bar(120_000_000_000, 10.0, 11.0, 10.0, 11.0, 1.0)["ret_1"], 6)
        0.09531
    """

    config: BarFeatureConfig = field(default_factory=BarFeatureConfig)

    def __post_init__(self) -> None:
        self._closes: deque[tuple[int, float]] = deque()
        self._max_h = max(self.config.return_horizons)
        self._lam = 0.5 ** (1.0 / self.config.vol_halflife)
        self._vlam = 0.5 ** (1.0 / self.config.volume_halflife)
        self._var: float | None = None
        self._vmean: float | None = None
        self._vdev: float | None = None
        self._by_ts: dict[int, float] = {}

    def on_bar(self, ts: int, open_: float, high: float, low: float, close: float, volume: float) -> dict[str, float]:
        """Take the bar that closed at ``ts`` (later than the previous one); return its features."""
        closes, by_ts = self._closes, self._by_ts
        if closes and ts <= closes[-1][0]:
            raise ValueError(f"bars must arrive in time order: {ts} after {closes[-1][0]}")
        closes.append((ts, close))
        by_ts[ts] = close
        horizon_ns = self._max_h * NS_PER_MINUTE
        while closes[0][0] < ts - horizon_ns:
            old_ts, _ = closes.popleft()
            del by_ts[old_ts]
        features: dict[str, float] = {"ts": ts, "close": close}
        for h in self.config.return_horizons:
            past = by_ts.get(ts - h * NS_PER_MINUTE)
            features[f"ret_{h}"] = math.log(close / past) if past else math.nan
        r1 = features.get("ret_1")
        if r1 is None:
            past = by_ts.get(ts - NS_PER_MINUTE)
            r1 = math.log(close / past) if past else math.nan
        if not math.isnan(r1):
            self._var = r1 * r1 if self._var is None else self._lam * self._var + (1 - self._lam) * r1 * r1
        features["vol_ewma"] = math.sqrt(self._var) if self._var is not None else math.nan
        features["range_bps"] = (high - low) / close * 1e4
        features["clv"] = (2 * close - high - low) / (high - low) if high > low else 0.0
        lv = math.log1p(volume)
        if self._vmean is None or self._vdev is None:
            self._vmean, self._vdev = lv, 0.0
            features["volume_z"] = 0.0
        else:
            dev = lv - self._vmean
            features["volume_z"] = dev / self._vdev if self._vdev > 0 else 0.0
            self._vmean += (1 - self._vlam) * dev
            self._vdev = self._vlam * self._vdev + (1 - self._vlam) * abs(dev)
        return features
