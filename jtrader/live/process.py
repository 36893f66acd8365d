"""Entry point of one desk process: ``python -m jtrader.live.process {venue,oms,strategies} --config FILE``.

``venue`` is the simulated venue on paper and the live venue's market-data
feed (:class:`~jtrader.live.market_data.LiveMarketDataNode`) live.

Each process writes ``<run_dir>/<component>.pid`` and JSON-lines logs to
``<run_dir>/<component>.log`` (and stderr), and stops gracefully on SIGTERM
or SIGINT. Logs carry no secrets: keys and URIs are never formatted into them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from jtrader.config import Settings, SettingsError, load_settings
from jtrader.live.config import RunConfig, RunConfigError, load_run_config

__all__ = ["main", "setup_logging", "COMPONENTS"]

COMPONENTS = ("venue", "oms", "strategies")


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(run_dir: Path, component: str, level: str) -> None:
    handlers: list[logging.Handler] = [logging.FileHandler(run_dir / f"{component}.log"), logging.StreamHandler()]
    for handler in handlers:
        handler.setFormatter(_JsonLines())
    logging.basicConfig(level=level, handlers=handlers, force=True)


def _build(component: str, config: RunConfig, settings: Settings) -> Any:
    if component == "oms":
        from jtrader.live.oms_node import OmsNode

        return OmsNode(config, settings)
    if component == "strategies":
        from jtrader.live.strategy_host import StrategyHost

        return StrategyHost(config, settings)
    if config.run.mode == "live":  # the real venue's market data; orders go from the OMS over ccxt
        from jtrader.live.market_data import LiveMarketDataNode

        return LiveMarketDataNode(config, settings)
    from jtrader.gateways.sim import SimVenueNode

    return SimVenueNode.from_run_config(config, settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jtrader.live.process")
    parser.add_argument("component", choices=COMPONENTS)
    parser.add_argument("--config", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        config = load_run_config(args.config)
    except (SettingsError, RunConfigError) as exc:
        print(f"{args.component}: {exc}", file=sys.stderr)
        return 2
    run_dir = settings.resolve(Path(config.run.run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(run_dir, args.component, settings.log_level)
    node = _build(args.component, config, settings)
    signal.signal(signal.SIGTERM, lambda *_: node.stop())
    signal.signal(signal.SIGINT, lambda *_: node.stop())
    node.start()
    pid_file = run_dir / f"{args.component}.pid"
    pid_file.write_text(str(os.getpid()))  # written once started: readiness for the supervisor
    logging.getLogger("jtrader").info("%s started (pid %d)", args.component, os.getpid())
    try:
        node.run()
    finally:
        pid_file.unlink(missing_ok=True)
    logging.getLogger("jtrader").info("%s stopped", args.component)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
