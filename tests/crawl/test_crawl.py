"""Crawl: the sample mirror twice gives byte-identical partitions and one data-quality row each;
the Binance archive layout over a loopback HTTP server; resume skips finished units."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

from jtrader.crawl import CrawlUnit, archive_path, crawl_range, crawl_unit
from jtrader.domain import Venue
from jtrader.storage.lake import Lake
from jtrader.storage.sql import SqlStore


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))
    }


def test_crawling_a_day_twice_gives_identical_partitions_and_no_duplicate_rows(settings) -> None:
    unit = CrawlUnit("binance_coinm", "ETHUSD_PERP", "2024-08-09", "capture")
    digests, rows = [], []
    for _ in range(2):
        with SqlStore.from_settings(settings) as store:
            result = crawl_unit(unit, settings, store=store)
            rows.append(store.data_quality(symbol="ETHUSD_PERP"))
        digests.append(_digest(settings.lake_dir))
        assert result.status == "ok" and result.gaps == 0 and result.rejects == 0
    assert digests[0] == digests[1] and digests[0]
    assert rows[0] == rows[1] and len(rows[0]) == 3  # trades, quotes, book_deltas of that day


def test_huobi_klines_day_has_1440_bars_and_missing_minutes_are_counted(settings) -> None:
    result = crawl_unit(CrawlUnit("huobi", "ethusdt", "2020-05-10", "huobi_klines"), settings)
    (quality,) = result.datasets
    assert quality.rows + quality.gaps >= 1439 and quality.duplicates == 0


def _archive_zip(sample_data_dir: Path) -> bytes:
    from jtrader.gateways.binance.parsing import iter_capture

    rows = []
    for _, line in iter_capture(sample_data_dir / "binance/usdm/btcusdt_20240808.gz"):
        if b'"e":"trade"' in line:
            import json

            d = json.loads(line.partition(b" ")[2])["data"]
            rows.append(f"{d['t']},{d['p']},{d['q']},0,{d['T']},{str(d['m']).lower()}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("BTCUSDT-trades-2024-08-08.csv", "id,price,qty,quote_qty,time,is_buyer_maker\n" + "\n".join(rows))
    return buf.getvalue()


def test_binance_archive_over_loopback_http_and_resume_skips_done_units(
    settings, sample_data_dir: Path, tmp_path
) -> None:
    site = tmp_path / "site"
    rel = archive_path(Venue.BINANCE_USDM, "trades", "BTCUSDT", dt.date(2024, 8, 8))
    (site / rel).parent.mkdir(parents=True)
    (site / rel).write_bytes(_archive_zip(sample_data_dir))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        units = [
            CrawlUnit("binance_usdm", "BTCUSDT", day, "binance_archive", ("trades",), base)
            for day in ("2024-08-08", "2024-08-07")
        ]
        state = tmp_path / "state.json"
        first = crawl_range(units, settings, state_file=state)
        again = crawl_range(units, settings, state_file=state)
    finally:
        server.shutdown()
        thread.join(5)
    assert [r.status for r in first] == ["ok", "missing"]  # the 7th is a 404
    assert first[0].rows == 21_313 and first[0].datasets[0].duplicates == 0
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert Lake(settings.lake_dir).read_table("trades").num_rows == 21_313
