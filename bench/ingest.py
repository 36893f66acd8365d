"""Capture parse-and-write-to-lake throughput, rows/s, beside a naive baseline.

Ours: :func:`jtrader.ingest.ingest_files` on every Binance capture (typed
msgspec decoding, exact tick/lot parsing, book sequencing, columnar Parquet
partitions). Baseline: ``json.loads`` per line into Python dicts, one row per
trade, quote and book level, ``pandas.DataFrame`` per dataset, ``to_parquet``:
the same rows, none of the checks.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console

from jtrader.config import Settings
from jtrader.ingest import ingest_files
from jtrader.storage.lake import Lake


def _naive(files: list[Path], out: Path) -> int:
    rows = 0
    for path in files:
        datasets: dict[str, list[dict]] = {"trades": [], "quotes": [], "book_deltas": [], "book_snapshots": []}
        with gzip.open(path, "rt") as handle:
            for line in handle:
                recv, _, payload = line.partition(" ")
                msg = json.loads(payload)
                data = msg.get("data", msg)
                stream = msg.get("stream", "")
                if "lastUpdateId" in msg:
                    for side in ("bids", "asks"):
                        for level, (price, size) in enumerate(msg[side]):
                            datasets["book_snapshots"].append(
                                {
                                    "ts_recv": int(recv),
                                    "update_id": msg["lastUpdateId"],
                                    "side": side,
                                    "level": level,
                                    "price": float(price),
                                    "size": float(size),
                                }
                            )
                elif data.get("e") == "trade":
                    datasets["trades"].append(
                        {
                            "ts_event": data["T"] * 1_000_000,
                            "ts_recv": int(recv),
                            "price": float(data["p"]),
                            "size": float(data["q"]),
                            "aggressor": "sell" if data["m"] else "buy",
                            "trade_id": str(data["t"]),
                        }
                    )
                elif stream.endswith("@bookTicker"):
                    datasets["quotes"].append(
                        {
                            "ts_recv": int(recv),
                            "bid_price": float(data["b"]),
                            "bid_size": float(data["B"]),
                            "ask_price": float(data["a"]),
                            "ask_size": float(data["A"]),
                            "update_id": data["u"],
                        }
                    )
                elif data.get("e") == "depthUpdate":
                    for side, key in (("bid", "b"), ("ask", "a")):
                        for price, size in data[key]:
                            datasets["book_deltas"].append(
                                {
                                    "ts_event": data["E"] * 1_000_000,
                                    "ts_recv": int(recv),
                                    "update_id": data["u"],
                                    "side": side,
                                    "price": float(price),
                                    "size": float(size),
                                }
                            )
        for name, records in datasets.items():
            if records:
                pd.DataFrame(records).to_parquet(out / f"{path.parent.name}-{path.stem}-{name}.parquet")
                rows += len(records)
    return rows


def run(settings: Settings, console: Console) -> list[dict]:
    files = sorted((settings.data_dir / "binance").rglob("*.gz"))
    if not files:
        raise SystemExit(f"no Binance captures under {settings.data_dir / 'binance'}: set JTRADER_DATA_PATH")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = ingest_files(files, Lake(Path(tmp) / "lake"))
        ours_seconds = time.perf_counter() - started
        ours_rows = report.total_rows
        messages = report.total_messages
        (Path(tmp) / "naive").mkdir()
        started = time.perf_counter()
        naive_rows = _naive(files, Path(tmp) / "naive")
        naive_seconds = time.perf_counter() - started
    console.print(
        f"  ours: {ours_rows:,} rows from {messages:,} messages in {ours_seconds:.1f}s; "
        f"naive: {naive_rows:,} rows in {naive_seconds:.1f}s"
    )
    return [
        {
            "name": "ingest.binance_capture_to_lake",
            "value": ours_rows / ours_seconds,
            "unit": "rows/s",
            "baseline": "json.loads per line into pandas, to_parquet",
            "baseline_value": naive_rows / naive_seconds,
        },
        {
            "name": "ingest.binance_capture_messages",
            "value": messages / ours_seconds,
            "unit": "messages/s",
            "baseline": "json.loads per line into pandas, to_parquet",
            "baseline_value": messages / naive_seconds,
        },
    ]
