"""``make bench``: run every benchmark, write ``var/bench/results.json`` and print a table.

Each result row is ``{name, value, unit, baseline, baseline_value}``; a benchmark
measures its baseline in the same run on the same machine, so the ratio is
meaningful even where the absolute figures are not.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time

from rich.console import Console
from rich.table import Table

from jtrader.config import load_settings

BENCHMARKS = [
    "bench.ingest",
    "bench.bus",
    "bench.oms",
    "bench.matching",
    "bench.backtest",
    "bench.features",
    "bench.desk",
    "bench.gateways",
    "bench.tick_to_order",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="module names to run, e.g. bench.ingest")
    args = parser.parse_args()
    settings = load_settings()
    console = Console(width=None if sys.stdout.isatty() else 160)
    results: list[dict] = []
    for name in args.only or BENCHMARKS:
        console.print(f"[bold]running {name}[/bold]")
        started = time.perf_counter()
        rows = importlib.import_module(name).run(settings, console)
        console.print(f"  {name} took {time.perf_counter() - started:.1f}s")
        results.extend(rows)
    out_dir = settings.var_path / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": {"python": platform.python_version(), "cpu_count": __import__("os").cpu_count()},
        "results": results,
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results_with_machine.json").write_text(json.dumps(document, indent=2) + "\n")
    table = Table(title=f"bench results -> {out_dir / 'results.json'}")
    for column in ("name", "value", "unit", "baseline", "baseline value", "ratio"):
        table.add_column(column, justify="left" if column in ("name", "baseline", "unit") else "right")
    for row in results:
        ratio = row["value"] / row["baseline_value"] if row.get("baseline_value") else float("nan")
        table.add_row(
            row["name"],
            f"{row['value']:,.1f}",
            row["unit"],
            row.get("baseline") or "-",
            f"{row['baseline_value']:,.1f}" if row.get("baseline_value") else "-",
            f"{ratio:.2f}x",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
