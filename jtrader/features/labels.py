"""Labels: what happened after each sample. Offline only (they need the future).

Labels are joined on time, not on row position: the label at ``ts`` for a
horizon of ``h`` steps uses the sample at exactly ``ts + h*step`` and is NaN if
that sample does not exist (book invalid, missing bar, end of data).

- ``fwd_ret_<h>``: log return of the reference price (mid, or close for bars) from ``ts`` to ``ts + h*step``;
- ``adverse_<h>`` (book samples only): 1.0 if a passive order resting at the
  touch at ``ts`` and filled there would be under water at ``ts + h*step``
  (the mid has moved below the bid or above the ask), else 0.0; NaN when unknown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["add_labels"]


def add_labels(samples: pd.DataFrame, horizons: tuple[int, ...], step_ns: int, price: str = "mid") -> pd.DataFrame:
    """Return ``samples`` (one instrument, any order) sorted by ``ts`` with label columns added."""
    out = samples.sort_values("ts", kind="stable").reset_index(drop=True)
    ts = out["ts"].to_numpy(dtype=np.int64)
    ref = out[price].to_numpy(dtype=np.float64)
    index = pd.Index(ts)
    has_touch = "best_bid" in out.columns and "best_ask" in out.columns
    for h in horizons:
        pos = index.get_indexer(ts + h * step_ns)
        found = pos >= 0
        future = np.full(len(out), np.nan)
        future[found] = ref[pos[found]]
        out[f"fwd_ret_{h}"] = np.log(future / ref)
        if has_touch:
            bid = out["best_bid"].to_numpy(dtype=np.float64)
            ask = out["best_ask"].to_numpy(dtype=np.float64)
            adverse = ((future < bid) | (future > ask)).astype(np.float64)
            adverse[~found] = np.nan
            out[f"adverse_{h}"] = adverse
    return out
