"""Wiring shared by the desk processes: instruments, strategies and venue clients from a run config.

Everything a process builds from the config is built here, once, so the OMS
node, the strategy host and the venue agree on instrument definitions.

The OMS's venue gateway depends on ``run.mode``: on paper it is the simulated
venue's client; live it is order entry over ccxt on ``live.venue``
(:mod:`jtrader.gateways.ccxt_execution`), with the API key from the
environment or ``live.secrets_file`` (:mod:`jtrader.gateways.credentials`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from jtrader.bus.auth import ClientCurve
from jtrader.config import Settings
from jtrader.domain import InstrumentId, InstrumentRegistry, Venue
from jtrader.gateways.instruments import default_registry
from jtrader.live.config import RunConfig, RunConfigError
from jtrader.strategies.base import Strategy
from jtrader.strategies.quoting import QuotingParams, QuotingStrategy

if TYPE_CHECKING:
    from jtrader.gateways.credentials import ApiCredentials
    from jtrader.gateways.sim import VenueRecord

__all__ = [
    "build_registry",
    "build_strategies",
    "execution_client",
    "live_credentials",
    "live_venue",
    "read_venue_record",
    "sim_execution_client",
    "venue_route",
]

LIVE_VENUES = (Venue.BINANCE, Venue.BINANCE_USDM, Venue.BINANCE_COINM, Venue.HUOBI)


def build_registry(config: RunConfig) -> InstrumentRegistry:
    """Every known real instrument plus the simulated venue's mirror of ``venue.mirror``."""
    from jtrader.gateways.sim import mirror_instrument

    registry = default_registry()
    try:
        mirror = registry.get(InstrumentId.parse(config.venue.mirror))
    except ValueError as exc:
        raise RunConfigError(f"venue.mirror: {exc}") from None
    registry.add(mirror_instrument(mirror))
    return registry


def build_strategies(config: RunConfig) -> list[Strategy]:
    """Instantiate the configured strategies; a bad parameter names the strategy and the key."""
    strategies: list[Strategy] = []
    for section in config.strategies:
        instruments = []
        for text in section.instruments:
            try:
                instruments.append(InstrumentId.parse(text))
            except ValueError as exc:
                raise RunConfigError(f"strategies[{section.id}].instruments: {exc}") from None
        if section.kind == "quoting":
            try:
                params = QuotingParams(**section.params)
            except TypeError as exc:
                raise RunConfigError(f"strategies[{section.id}].params: {exc}") from None
            strategies.append(QuotingStrategy(section.id, instruments, params))
    return strategies


def sim_execution_client(ctx: zmq.Context[Any], endpoint: str, curve: ClientCurve | None) -> Any:
    """The OMS-side gateway to the simulated venue at ``endpoint``."""
    from jtrader.gateways.sim import SimExecutionClient

    return SimExecutionClient(ctx, endpoint, curve=curve, allow_insecure=curve is None)


def live_venue(config: RunConfig) -> Venue:
    """The venue a live run trades; raises RunConfigError saying what to write in ``[live]``."""
    expected = ", ".join(v.value for v in LIVE_VENUES)
    text = config.live.venue
    if not text:
        raise RunConfigError(f"run.mode = 'live' needs a [live] section naming the venue: venue = one of {expected}")
    try:
        venue = Venue(text)
    except ValueError:
        raise RunConfigError(f"live.venue: unknown venue {text!r}: expected one of {expected}") from None
    if venue is Venue.BITMEX:
        from jtrader.gateways.bitmex.execution import BITMEX_CLOSED

        raise RunConfigError(f"live.venue: {BITMEX_CLOSED}")
    if venue not in LIVE_VENUES:
        raise RunConfigError(
            f"live.venue: {text!r} has no live order entry (the simulated venue runs with "
            f"--mode paper): expected one of {expected}"
        )
    return venue


def venue_route(config: RunConfig) -> tuple[Venue, str]:
    """The venue the OMS routes orders to and the name of its gateway: ``sim`` on paper, the live venue live."""
    if config.run.mode != "live":
        return Venue.SIM, "sim"
    venue = live_venue(config)
    return venue, venue.value


def live_credentials(config: RunConfig, settings: Settings, env: dict[str, str] | None = None) -> ApiCredentials:
    """The live venue's API key pair; raises MissingCredentials naming the variables to set."""
    from jtrader.gateways.credentials import load_credentials

    secrets_file = settings.resolve(Path(config.live.secrets_file)) if config.live.secrets_file else None
    return load_credentials(live_venue(config), env=env, secrets_file=secrets_file)


def execution_client(
    config: RunConfig,
    settings: Settings,
    instruments: InstrumentRegistry,
    ctx: zmq.Context[Any],
    endpoint: str,
    curve: ClientCurve | None,
) -> Any:
    """The OMS's venue gateway: the simulated venue's client on paper, ccxt order entry on the live venue."""
    if config.run.mode != "live":
        return sim_execution_client(ctx, endpoint, curve)
    from jtrader.gateways.ccxt_execution import live_execution_client

    live = config.live
    return live_execution_client(
        live_venue(config),
        instruments,
        live_credentials(config, settings),
        context=ctx,
        base_url=live.base_url or None,
        poll_interval=live.poll_interval_s,
        timeout=live.timeout_s,
        recv_window_ms=live.recv_window_ms,
        account_id=config.oms.account_id,
    )


def read_venue_record(run_dir: Path) -> VenueRecord:
    """The simulated venue's own record of a run, written at its graceful stop: the crash test's ground truth."""
    from jtrader.gateways.sim import RECORD_FILE, read_record

    return read_record(run_dir / RECORD_FILE)
