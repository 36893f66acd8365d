"""The desk process configuration: one TOML file for ``jtrader run``.

Frozen msgspec structs that refuse unknown keys; :func:`load_run_config`
names the bad key and what was expected. Endpoints are derived from
``transport`` and ``run_dir``: ``ipc`` sockets live in the run directory,
``tcp`` binds loopback ports; both use CURVE keys from ``keys_dir``
(generated on first start). ``inproc`` puts every component in one process
(:mod:`jtrader.live.lockstep`: a deterministic paper run, for parity tests).

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

A live desk (``jtrader run --mode live``) says so in the file too, and names
its venue; API keys come from the environment or the secrets file, never
from this file::

    [run]
    mode = "live"

    [live]
    venue = "binance_usdm"              # binance, binance_usdm, binance_coinm or huobi
    secrets_file = "/etc/jtrader/venue-secrets.toml"   # optional; else BINANCE_API_KEY/_SECRET

Exceptions::

    RunConfigError(ValueError)   the file is missing, not TOML, or has a bad/unknown key
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec

from jtrader.config import read_config_file
from jtrader.oms.config import OmsConfig
from jtrader.risk import RiskLimits

__all__ = [
    "RunConfig",
    "RunSection",
    "VenueSection",
    "OmsSection",
    "StrategySection",
    "LiveSection",
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
    transport: Literal["ipc", "tcp", "inproc"] = "ipc"  # inproc: every process in one (lockstep runs, tests)
    base_port: int = 47100  # tcp only: venue commands, venue md, OMS commands, OMS state = base..base+3
    duration_s: float = 0.0  # 0: run until stopped
    restart_crashed: bool = True  # the supervisor restarts a child that dies unexpectedly


class VenueSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The simulated venue: which capture it replays as its public book, and how fast."""

    capture: str = "binance/usdm/btcusdt_20240808.gz"  # relative to the settings' data_path
    mirror: str = "BTCUSDT.binance_usdm"  # the real instrument whose parameters BTCUSDT.sim copies
    speed: float = 1.0  # 1.0 = recorded pace; 0 = as fast as possible
    loop: bool = True  # start the capture again at its end (24/7 paper trading)
    max_lines: int = 0  # replay only the first lines of the capture (0: all of it)


class LiveSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The real venue of a live run: order entry over ccxt (``jtrader.gateways.ccxt_execution``)."""

    venue: str = ""  # binance, binance_usdm, binance_coinm or huobi
    secrets_file: str = ""  # TOML/JSON with [binance] / [htx] api_key, api_secret; else the env variables
    base_url: str = ""  # REST base URL override (a venue testnet, a local emulator); empty: the venue's own
    ws_url: str = ""  # market-data WebSocket URL override (a testnet, a local replay); empty: the venue's own
    poll_interval_s: float = 1.0  # how often fills and order states are polled while orders are open
    timeout_s: float = 10.0  # per REST request
    recv_window_ms: int = 5000  # how stale a signed request may arrive (Binance recvWindow)


class OmsSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    account_id: str = "paper"
    journal_fsync: Literal["batch", "interval", "none"] = "batch"
    cancel_on_disconnect: bool = True
    on_shutdown: Literal["cancel", "keep"] = "cancel"  # open orders at SIGTERM
    snapshot_interval_s: float = 5.0  # orders, fills, positions into the SQL store
    metrics_port: int = 9464  # Prometheus /metrics and /health on 127.0.0.1; 0 disables
    heartbeat_timeout_s: float = 5.0
    # journal checkpoints: after this many records or bytes (0: never by that measure), keeping this many
    # old segments; see jtrader.oms.OmsConfig
    checkpoint_every_records: int = 1_000_000
    checkpoint_every_bytes: int = 256 << 20
    journal_keep_segments: int = 2
    # venue code -> asset -> amount held before the first fill; else the first reconciliation's balances
    starting_balances: dict[str, dict[str, Decimal]] = {}
    balance_tolerance: Decimal = Decimal(0)  # balance differences up to this are not reported

    def __post_init__(self) -> None:
        self.policies()  # a bad venue or amount is refused when the file is read, not at start

    def policies(self) -> OmsConfig:
        """The OMS engine's policies from this section."""
        return OmsConfig(
            cancel_on_disconnect=self.cancel_on_disconnect,
            checkpoint_every_records=self.checkpoint_every_records,
            checkpoint_every_bytes=self.checkpoint_every_bytes,
            journal_keep_segments=self.journal_keep_segments,
            starting_balances=self.starting_balances,
            balance_tolerance=self.balance_tolerance,
        )


class StrategySection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    kind: Literal["quoting"] = "quoting"
    instruments: list[str] = []
    params: dict[str, Any] = {}


class RunConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    run: RunSection = RunSection()
    venue: VenueSection = VenueSection()
    oms: OmsSection = OmsSection()
    live: LiveSection = LiveSection()
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
        if run.transport == "inproc":
            return cls(*(f"inproc://jtrader-{run.name}-{name}" for name in ("venue", "venue-md", "oms", "oms-state")))
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
