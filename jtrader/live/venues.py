"""Wiring shared by the desk processes: instruments, strategies and venue clients from a run config.

Everything a process builds from the config is built here, once, so the OMS
node, the strategy host and the venue agree on instrument definitions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from jtrader.bus.auth import ClientCurve
from jtrader.domain import InstrumentId, InstrumentRegistry
from jtrader.gateways.instruments import default_registry
from jtrader.live.config import RunConfig, RunConfigError
from jtrader.strategies.base import Strategy
from jtrader.strategies.quoting import QuotingParams, QuotingStrategy

if TYPE_CHECKING:
    from jtrader.gateways.sim import VenueRecord

__all__ = ["build_registry", "build_strategies", "read_venue_record", "sim_execution_client"]


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


def read_venue_record(run_dir: Path) -> VenueRecord:
    """The simulated venue's own record of a run, written at its graceful stop: the crash test's ground truth."""
    from jtrader.gateways.sim import RECORD_FILE, read_record

    return read_record(run_dir / RECORD_FILE)
