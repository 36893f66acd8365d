"""The lockstep desk's wiring: inproc endpoints, and only inproc (the end-to-end run is the parity test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jtrader.config import Settings
from jtrader.live.config import RunConfigError, parse_run_config
from jtrader.live.lockstep import LockstepDesk


def test_inproc_transport_puts_every_endpoint_in_the_process() -> None:
    config = parse_run_config({"run": {"name": "ls", "transport": "inproc"}})
    endpoints = config.endpoints(Path("/nowhere"))
    assert endpoints.venue_commands == "inproc://jtrader-ls-venue"
    assert {e.split("://")[0] for e in (endpoints.venue_market_data, endpoints.oms_commands, endpoints.oms_state)} == {
        "inproc"
    }


def test_lockstep_desk_refuses_a_config_whose_components_would_be_processes(settings: Settings) -> None:
    with pytest.raises(RunConfigError, match="inproc"):
        LockstepDesk(parse_run_config({"run": {"transport": "ipc"}}), settings)
