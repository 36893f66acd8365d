"""Backtest throughput beside peers, each measured in the same run.

Rows:

- ``backtest.l2_queue_events_per_s``: the event-driven engine replaying the
  Binance USD-M BTCUSDT capture (snapshot, depth diffs, trades) to
  :class:`QuotingStrategy` with the queue model (risk-averse) and 1 ms order
  latency; events are depth messages and trades. Baseline: hftbacktest
  (``HashMapMarketDepthBacktest``, risk-averse queue, 1 ms latency, a quoting
  loop stepping 100 ms) on the same capture, converted by hftbacktest's own
  Binance-futures converter, in its own venv ``bench/.venv-hftbacktest``
  (created here with pip, ``numpy<2.3``). If it cannot be installed or run,
  the row says so (baseline_value None) and the error is printed.
  hftbacktest counts its converted rows (one per level change or trade), so the
  comparable row is ``backtest.l2_queue_rows_per_s``: our messages/s times the
  level rows per message. Cadence differs: hftbacktest requotes every 100 ms
  step, ours on every book event (at most every 100 ms).
- ``backtest.bar_events_per_s``: the event-driven engine, MA crossover, bar
  matcher, Huobi BTCUSDT May 2020 (44,640 bars). Baseline: backtrader, the same
  strategy and fill rules (:mod:`jtrader.backtest.crosscheck`).
- ``backtest.bar_compiled_bars_per_s``: the numba bar loop
  (:mod:`jtrader.backtest.fast`, same fills) over the bars repeated to 4.46 M
  (compile excluded). Same baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from jtrader.config import Settings

__all__ = ["run"]

_HBT_SCRIPT = r"""
import json, sys, time
import numpy as np
from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest
from hftbacktest.data.utils import binancefutures
data = binancefutures.convert(sys.argv[1], combined_stream=True)
asset = (BacktestAsset().data([data]).linear_asset(1.0).constant_order_latency(1_000_000, 1_000_000)
         .risk_adverse_queue_model().no_partial_fill_exchange().trading_value_fee_model(0.0002, 0.0005)
         .tick_size(0.1).lot_size(0.001))
hbt = HashMapMarketDepthBacktest([asset])
started = time.perf_counter()
while hbt.elapse(100_000_000) == 0:
    hbt.clear_inactive_orders(0)
    depth = hbt.depth(0)
    bid, ask = depth.best_bid, depth.best_ask
    if not (bid > 0 and ask > bid):
        continue
    values = hbt.orders(0).values()
    stale = []
    while values.has_next():
        order = values.get()
        if order.cancellable and order.price not in (bid, ask):
            stale.append(order.order_id)
    for order_id in stale:
        hbt.cancel(0, order_id, False)
    oid = int(round(bid * 10))
    pos = hbt.position(0)
    if pos < 0.005:
        hbt.submit_buy_order(0, oid, bid, 0.001, 2, 0, False)  # GTX (post-only), limit
    if pos > -0.005:
        hbt.submit_sell_order(0, oid + 1, ask, 0.001, 2, 0, False)
seconds = time.perf_counter() - started
hbt.close()
print(json.dumps({"events": int(len(data)), "seconds": seconds}))
"""


def _hftbacktest(settings: Settings, console: Console) -> tuple[float | None, str]:
    venv = Path(__file__).parent / ".venv-hftbacktest"
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            console.print("  creating bench/.venv-hftbacktest (pip install hftbacktest 'numpy<2.3')")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "hftbacktest", "numpy<2.3"],
                check=True,
                capture_output=True,
                timeout=900,
            )
        capture = settings.data_dir / "binance" / "usdm" / "btcusdt_20240808.gz"
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
            handle.write(_HBT_SCRIPT)
        done = subprocess.run(
            [str(python), handle.name, str(capture)], check=True, capture_output=True, text=True, timeout=900
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        return row["events"] / row["seconds"], f"hftbacktest ({row['events']:,} rows)"
    except (subprocess.SubprocessError, OSError, ValueError, KeyError, IndexError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        console.print(f"  [yellow]hftbacktest baseline unavailable:[/yellow] {exc} {str(detail)[-600:]}")
        return None, "hftbacktest (failed to run; see output)"


def run(settings: Settings, console: Console) -> list[dict]:
    from jtrader.backtest import BacktestConfig, ConstantLatency, load_events, run_backtest
    from jtrader.backtest.crosscheck import run_backtrader_ma_cross
    from jtrader.backtest.data import bar_arrays
    from jtrader.backtest.fast import ma_cross_fast
    from jtrader.domain import BookDelta, BookSnapshot
    from jtrader.ingest import default_registry, ingest_files
    from jtrader.storage.lake import Lake
    from jtrader.strategies.ma_cross import MaCrossParams, MaCrossStrategy
    from jtrader.strategies.quoting import QuotingParams, QuotingStrategy

    registry = default_registry()
    usdm, huobi = registry.find("BTCUSDT", "binance_usdm"), registry.find("btcusdt", "huobi")
    with tempfile.TemporaryDirectory() as tmp:
        lake = Lake(Path(tmp))
        data = settings.data_dir
        ingest_files(
            [data / "binance" / "usdm" / "btcusdt_20240808.gz", data / "huobi" / "btcusdt_1min_2020_5.zip"], lake
        )
        book_events = load_events(lake, [usdm], ("book_snapshots", "book_deltas", "trades"))
        bar_events = load_events(lake, [huobi])
        bars = bar_arrays(lake, huobi)

    rows = []
    best = 0.0
    for _ in range(3):
        strategy = QuotingStrategy("mm", [usdm.id], QuotingParams(quote_lots=1, max_position_lots=5))
        config = BacktestConfig(matching="queue", order_latency=ConstantLatency(1_000_000))
        result = run_backtest(strategy, book_events, [usdm], config)
        best = max(best, result.events / result.wall_seconds)
    console.print(f"  L2 queue replay: {len(book_events):,} events, {len(result.fills)} fills")
    level_rows = sum(len(e.bids) + len(e.asks) if isinstance(e, BookDelta | BookSnapshot) else 1 for e in book_events)
    hbt_rate, hbt_name = _hftbacktest(settings, console)
    rows.append(
        {
            "name": "backtest.l2_queue_events_per_s",
            "value": best,
            "unit": "messages/s",
            "baseline": None,
            "baseline_value": None,
        }
    )
    rows.append(
        {
            "name": "backtest.l2_queue_rows_per_s",
            "value": best * level_rows / len(book_events),
            "unit": "level rows/s",
            "baseline": hbt_name,
            "baseline_value": hbt_rate,
        }
    )

    size = huobi.lots_to_float(10_000)
    _, _, bt_seconds = run_backtrader_ma_cross(bars, huobi.ticks_to_float(1), 10, 30, size, 0.002, True)
    bt_rate = len(bars["ts"]) / bt_seconds
    best = 0.0
    for _ in range(3):
        bar_strategy = MaCrossStrategy("ma", huobi.id, MaCrossParams(10, 30, 10_000, True))
        result = run_backtest(bar_strategy, bar_events, [huobi], BacktestConfig(sample_interval_ns=60_000_000_000))
        best = max(best, result.events / result.wall_seconds)
    rows.append(
        {
            "name": "backtest.bar_events_per_s",
            "value": best,
            "unit": "bars/s",
            "baseline": "backtrader",
            "baseline_value": bt_rate,
        }
    )

    opens, closes = np.tile(bars["open"], 100), np.tile(bars["close"], 100)
    ma_cross_fast(opens[:100], closes[:100], 10, 30, 10_000, True)  # compile (or load from cache)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        ma_cross_fast(opens, closes, 10, 30, 10_000, True)
        times.append(time.perf_counter() - started)
    rows.append(
        {
            "name": "backtest.bar_compiled_bars_per_s",
            "value": len(closes) / min(times),
            "unit": "bars/s",
            "baseline": "backtrader",
            "baseline_value": bt_rate,
        }
    )
    for row in rows:
        console.print(
            f"  {row['name']}: {row['value']:,.0f} {row['unit']} (baseline {row['baseline']}: {row['baseline_value']})"
        )
    return rows
