"""Walk-forward cross-validation with purging and embargo (López de Prado, AFML ch. 7).

Samples are ordered in time; each test block is a contiguous slice, and its
training set is every earlier sample whose label window ends before the test
block starts (purge: a label at ``t`` looks ``horizon`` steps ahead), minus
``embargo`` more samples before the block (serially correlated features leak
too). Training sets never contain a sample at or after their test block.
"""

from __future__ import annotations

import numpy as np

__all__ = ["walk_forward_splits", "holdout_split"]


def walk_forward_splits(
    ts: np.ndarray, n_splits: int, horizon_ns: int, embargo_ns: int, min_train: int = 50
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return ``(train_idx, test_idx)`` pairs over sorted timestamps ``ts``.

    The series is cut into ``n_splits + 1`` equal blocks; block ``k`` (k >= 1)
    is tested on a model trained on samples with ``t + horizon_ns + embargo_ns
    < start of block k``. Folds with fewer than ``min_train`` training samples
    are skipped.
    """
    ts = np.asarray(ts, dtype=np.int64)
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1, got {n_splits}")
    if np.any(np.diff(ts) < 0):
        raise ValueError("timestamps must be sorted ascending")
    bounds = np.linspace(0, len(ts), n_splits + 2).astype(int)
    folds = []
    for k in range(1, n_splits + 1):
        lo, hi = bounds[k], bounds[k + 1]
        if hi <= lo:
            continue
        test_start = ts[lo]
        train = np.flatnonzero(ts + horizon_ns + embargo_ns < test_start)
        if len(train) >= min_train:
            folds.append((train, np.arange(lo, hi)))
    return folds


def holdout_split(ts: np.ndarray, fraction: float, horizon_ns: int, embargo_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Split into (train, holdout): the last ``fraction`` of samples, with the train side purged and embargoed."""
    ts = np.asarray(ts, dtype=np.int64)
    if not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    lo = int(len(ts) * (1 - fraction))
    if lo >= len(ts):
        return np.arange(len(ts)), np.arange(0)
    train = np.flatnonzero(ts + horizon_ns + embargo_ns < ts[lo])
    return train, np.arange(lo, len(ts))
