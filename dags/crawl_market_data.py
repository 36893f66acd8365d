"""Crawl market data into the lake, one data interval (UTC day) at a time.

Thin: ``plan`` lists the (venue, symbol) units of the interval, ``crawl``
runs one unit through :func:`jtrader.crawl.crawl_unit` (fetch, check, atomic
partition write, data-quality row), ``summarize`` fails the run if a unit
failed. Re-running an interval replaces its partitions and rows. Params:
``source`` (capture | binance_archive | huobi_klines), ``venues``,
``symbols``, ``location`` (mirror root or archive base URL; empty: the
settings' data path), ``datasets`` (archive: trades, aggTrades, klines; empty:
trades and klines; aggTrades fill the lake's ``agg_trades``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="crawl_market_data",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 8, 8, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["jtrader", "market-data"],
    params={"source": "capture", "venues": [], "symbols": [], "location": "", "datasets": []},
)
def crawl_market_data() -> None:
    @task
    def plan(data_interval_start=None, params=None) -> list[dict]:
        from jtrader.config import load_settings
        from jtrader.crawl import plan_units

        p = params or {}
        units = plan_units(
            load_settings(),
            data_interval_start.date(),
            p.get("source", "capture"),
            p.get("venues") or None,
            p.get("symbols") or None,
            p.get("location", ""),
            p.get("datasets") or (),
        )
        return [u.to_dict() for u in units]

    @task(retries=2)
    def crawl(unit: dict) -> dict:
        from jtrader.config import load_settings
        from jtrader.crawl import CrawlUnit, crawl_unit
        from jtrader.storage.sql import SqlStore

        settings = load_settings()
        with SqlStore.from_settings(settings) as store:
            return crawl_unit(CrawlUnit.from_dict(unit), settings, store=store).summary()

    @task
    def summarize(results: list[dict]) -> dict:
        failed = [r["unit"] for r in results if r["status"] == "failed"]
        if failed:
            raise RuntimeError(f"crawl failed for {failed}")
        return {"units": len(results), "rows": sum(r["rows"] for r in results)}

    summarize(crawl.expand(unit=plan()))  # type: ignore[arg-type]


crawl_market_data()
