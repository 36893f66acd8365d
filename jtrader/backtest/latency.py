"""Latency models: how long market data takes to reach a strategy, and orders to reach the venue.

A model is asked for one delay (ns) per message. :class:`ConstantLatency` always
gives the same delay; :class:`EmpiricalLatency` draws from recorded samples
with its own seeded generator, so a run with the same seed gives the same
delays. The backtester keeps one model for market data and one for order
entry (requests and the venue's responses each take one draw).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = ["LatencyModel", "ConstantLatency", "EmpiricalLatency"]


class LatencyModel(Protocol):
    def sample(self) -> int:
        """One delay in ns (never negative)."""
        ...

    def reset(self, seed: int) -> None:
        """Restart the sequence of draws from ``seed``."""
        ...


@dataclass
class ConstantLatency:
    """The same delay every time.

    Example::

        >>> ConstantLatency(1_000_000).sample()
        1000000
    """

    ns: int = 0

    def __post_init__(self) -> None:
        if self.ns < 0:
            raise ValueError(f"latency: a delay cannot be negative, got {self.ns} ns")

    def sample(self) -> int:
        return self.ns

    def reset(self, seed: int) -> None:
        return None


@dataclass
class EmpiricalLatency:
    """Delays drawn uniformly, with replacement, from ``samples_ns`` (seeded).

    Draws come in blocks from a numpy generator, so the cost per message is an
    index into an array. Negative samples are rejected.

    Example::

        >>> model = EmpiricalLatency([1_000, 2_000, 3_000], seed=1)
        >>> all(model.sample() in (1_000, 2_000, 3_000) for _ in range(10))
        True
    """

    samples_ns: Sequence[int]
    seed: int = 0
    _samples: np.ndarray = field(init=False, repr=False)
    _rng: np.random.Generator = field(init=False, repr=False)
    _block: list[int] = field(init=False, repr=False)
    _pos: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples_ns, dtype=np.int64)
        if samples.size == 0:
            raise ValueError("latency: an empirical model needs at least one sample")
        if (samples < 0).any():
            raise ValueError("latency: samples must be non-negative delays in ns")
        self._samples = samples
        self.reset(self.seed)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._block = []
        self._pos = 0

    def sample(self) -> int:
        if self._pos >= len(self._block):
            self._block = self._samples[self._rng.integers(0, len(self._samples), 4096)].tolist()
            self._pos = 0
        value = self._block[self._pos]
        self._pos += 1
        return int(value)

    @classmethod
    def from_recv_minus_event(cls, ts_event: Sequence[int], ts_recv: Sequence[int], seed: int = 0) -> EmpiricalLatency:
        """A model of the recorded ``ts_recv - ts_event`` gaps, shifted so the smallest is 0.

        Recorder clocks are offset from the venue's (the Binance captures run
        about 1.27 s behind), so only the spread of the gaps is information.
        """
        gaps = np.asarray(ts_recv, dtype=np.int64) - np.asarray(ts_event, dtype=np.int64)
        return cls((gaps - gaps.min()).tolist(), seed)
