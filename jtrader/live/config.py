"""The desk process configuration: one TOML file for ``jtrader run``.

Frozen msgspec structs that refuse unknown keys; :func:`load_run_config`
names the bad key and what was expected. Endpoints are derived from
``transport`` and ``run_dir``: ``ipc`` sockets live in the run directory,
``tcp`` binds loopback ports; both use CURVE keys from ``keys_dir``
(generated on first start).

Example file::

    [run]
    name = "paper"
    transport = "ipc"

    [venue]
    capture = "binance/usdm/btcusdt_20240808.gz"
    mirror = "BTCUSDT.binance_usdm"

    [[strategies]]
    id = "mm"
    kind = "quoting"
    instruments = ["BTCUSDT.sim"]
    params = { quote_lots = 1 }

Exceptions::

    RunConfigError(ValueError)   the file is missing, not TOML, or has a bad/unknown key
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec

from jtrader.config import read_config_file
from jtrader.risk import RiskLimits

__all__ = [
    "RunConfig",
    "RunSection",
    "VenueSection",
    "OmsSection",
    "StrategySection",
    "RunConfigError",
    "load_run_config",
    "parse_run_config",
    "Endpoints",
]


class RunConfigError(ValueError):
    """The run configuration cannot be used; the message names the key and what to do."""


class RunSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str = "paper"
    mode: Literal["paper", "live"] = "paper"
    run_dir: str = "var/run/paper"  # journal, sockets, pid files, logs, venue record
    keys_dir: str = "var/keys"
    transport: Literal["ipc", "tcp"] = "ipc"
    base_port: int = 47100  # tcp only: venue commands, venue md, OMS commands, OMS state = base..base+3
    duration_s: float = 0.0  # 0: run until stopped
    restart_crashed: bool = True  # the supervisor restarts a child that dies unexpectedly


class VenueSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The simulated venue: which capture it replays as its public book, and how fast."""

    capture: str = "binance/usdm/btcusdt_20240808.gz"  # relative to the settings' data_path
    mirror: str = "BTCUSDT.binance_usdm"  # the real instrument whose parameters BTCUSDT.sim copies
    speed: float = 1.0  # 1.0 = recorded pace; 0 = as fast as possible
    loop: bool = True  # start the capture again at its end (24/7 paper trading)


class OmsSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    account_id: str = "paper"
    journal_fsync: Literal["batch", "interval", "none"] = "batch"
    cancel_on_disconnect: bool = True
    on_shutdown: Literal["cancel", "keep"] = "cancel"  # open orders at SIGTERM
    snapshot_interval_s: float = 5.0  # orders, fills, positions into the SQL store
    metrics_port: int = 9464  # Prometheus /metrics and /health on 127.0.0.1; 0 disables
    heartbeat_timeout_s: float = 5.0


class StrategySection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    kind: Literal["quoting"] = "quoting"
    instruments: list[str] = []
    params: dict[str, Any] = {}


class RunConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    run: RunSection = RunSection()
    venue: VenueSection = VenueSection()
    oms: OmsSection = OmsSection()
    risk: RiskLimits = RiskLimits()
    strategies: list[StrategySection] = []

    def endpoints(self, root: Path) -> Endpoints:
        return Endpoints.derive(self, root)


class Endpoints(msgspec.Struct, frozen=True):
    venue_commands: str
    venue_market_data: str
    oms_commands: str
    oms_state: str

    @classmethod
    def derive(cls, config: RunConfig, root: Path) -> Endpoints:
        run = config.run
        if run.transport == "ipc":
            base = (root / run.run_dir).resolve()
            return cls(*(f"ipc://{base}/{name}.sock" for name in ("venue", "venue-md", "oms", "oms-state")))
        return cls(*(f"tcp://127.0.0.1:{run.base_port + i}" for i in range(4)))


def load_run_config(path: Path | str) -> RunConfig:
    """Read and validate a run config (TOML, or JSON for generated configs); raises RunConfigError naming the key."""
    return parse_run_config(read_config_file(path, "run config", RunConfigError), str(path))


def parse_run_config(data: dict[str, Any], source: str = "<config>") -> RunConfig:
    try:
        return msgspec.convert(data, RunConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise RunConfigError(f"run config {source}: {exc}; see jtrader/live/config.py for the keys") from None
    except ValueError as exc:  # a domain or risk validator refused a value
        raise RunConfigError(f"run config {source}: {exc}") from None
