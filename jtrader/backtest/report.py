"""The HTML report of one backtest: metrics, parameters and plots in one self-contained file.

Plots (PNG, embedded): equity, drawdown, inventory, fills over the price,
and the markout curve (mean markout in bps at 0 to 60 s after fills).
matplotlib runs headless (Agg) and is imported only here.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from jtrader.backtest.engine import BacktestResult
from jtrader.backtest.metrics import drawdown, equity_grid, markouts

__all__ = ["write_report", "MARKOUT_CURVE_S"]

MARKOUT_CURVE_S = (0, 1, 2, 5, 10, 20, 30, 45, 60)
_CSS = (
    "body{font-family:sans-serif;margin:2em} table{border-collapse:collapse} td{border:1px solid #ccc;padding:2px 8px}"
)


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _plots(result: BacktestResult) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: list[tuple[str, str]] = []
    t, e = equity_grid(result.equity_ts, result.equity, result.config.sample_interval_ns)
    x = (t - t[0]) / 3.6e12 if t.size else t
    for title, y in (("equity (net PnL)", e), ("drawdown", -drawdown(e) if e.size else e)):
        fig, ax = plt.subplots(figsize=(9, 2.6))
        ax.plot(x, y, lw=0.8)
        ax.set_xlabel("hours")
        ax.set_title(title)
        out.append((title, _png(fig)))
    fig, ax = plt.subplots(figsize=(9, 2.6))
    for iid, lots in result.inventory.items():
        if lots:
            ts = np.asarray(result.equity_ts[: len(lots)], np.int64)
            ax.step(
                (ts - ts[0]) / 3.6e12,
                np.asarray(lots) * result.instruments[iid].lots_to_float(1),
                where="post",
                label=str(iid),
            )
    ax.set_title("inventory (base units)")
    ax.set_xlabel("hours")
    out.append(("inventory", _png(fig)))
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for iid, (mts, mpx) in result.marks.items():
        if mts:
            t0 = mts[0]
            ax.plot((np.asarray(mts) - t0) / 3.6e12, mpx, lw=0.5, color="grey")
            fills = [f for f in result.fills if f.instrument_id == iid]
            instrument = result.instruments[iid]
            for side, color in (("buy", "tab:green"), ("sell", "tab:red")):
                chosen = [f for f in fills if f.side.value == side]
                ax.scatter(
                    [(f.ts_event - t0) / 3.6e12 for f in chosen],
                    [instrument.ticks_to_float(f.price_ticks) for f in chosen],
                    s=6,
                    color=color,
                    label=side,
                )
    ax.set_title("fills over price")
    ax.legend(loc="best", fontsize=7)
    out.append(("fills over price", _png(fig)))
    fig, ax = plt.subplots(figsize=(5, 2.8))
    curve = [float(m.mean()) if (m := markouts(result, s * 1_000_000_000)).size else 0.0 for s in MARKOUT_CURVE_S]
    ax.plot(MARKOUT_CURVE_S, curve, marker="o")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("seconds after fill")
    ax.set_ylabel("bps")
    ax.set_title("markout curve")
    out.append(("markout curve", _png(fig)))
    return out


def write_report(result: BacktestResult, path: Path, title: str, params: dict[str, Any] | None = None) -> Path:
    """Write the report of ``result`` to ``path`` (parents created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,.6g}</td></tr>" for k, v in sorted(result.metrics.items()))
    prow = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in sorted((params or {}).items())
    )
    images = "".join(
        f'<h3>{html.escape(name)}</h3><img alt="{html.escape(name)}" src="data:image/png;base64,{data}"/>'
        for name, data in _plots(result)
    )
    path.write_text(
        f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>strategy {html.escape(result.strategy_id)}; {result.events:,} events; {len(result.fills):,} fills;
matching {html.escape(result.config.matching)}; replayed in {result.wall_seconds:.2f} s</p>
<h2>metrics</h2><table>{rows}</table><h2>parameters</h2><table>{prow}</table><h2>plots</h2>{images}
</body></html>
"""
    )
    return path
