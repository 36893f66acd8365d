"""``jtrader ctl``: operator commands to a running OMS over the authenticated order channel."""

from __future__ import annotations

import os
import time
from pathlib import Path

import zmq

from jtrader.bus.auth import ClientCurve
from jtrader.bus.messages import ControlReply, ControlRequest, Report
from jtrader.bus.transport import CommandClient
from jtrader.config import Settings
from jtrader.live.config import RunConfig
from jtrader.live.keys import ensure_keys

__all__ = ["CONTROL_COMMANDS", "ControlTimeout", "send_control"]

CONTROL_COMMANDS = ("status", "orders", "positions", "kill", "reset", "flatten")


class ControlTimeout(TimeoutError):
    """The OMS did not answer in time: it is not running, or not at this endpoint."""


def send_control(
    config: RunConfig,
    settings: Settings,
    command: str,
    operator: str = "",
    args: dict[str, str] | None = None,
    timeout_s: float = 5.0,
) -> ControlReply:
    """Send one operator command and wait for its reply; raises ControlTimeout if none comes."""
    endpoint = config.endpoints(settings.root).oms_commands
    keys = ensure_keys(settings.resolve(Path(config.run.keys_dir)))
    ctx = zmq.Context()
    client = CommandClient(
        ctx,
        endpoint,
        Report,
        name="ctl",
        identity=f"ctl-{os.getpid()}".encode(),
        curve=ClientCurve(keys.client_secret, keys.server_public),
    )
    try:
        request = ControlRequest(
            command=command, operator=operator or os.environ.get("USER", "operator"), args=args or {}, ts=time.time_ns()
        )
        deadline = time.monotonic() + timeout_s
        while not client.send(request, timeout_ms=100):
            if time.monotonic() >= deadline:
                raise ControlTimeout(f"the OMS at {endpoint} is not reachable: is `jtrader run` up?")
        while time.monotonic() < deadline:
            reply = client.recv(timeout_ms=100)
            if isinstance(reply, ControlReply):
                return reply
        raise ControlTimeout(f"the OMS at {endpoint} did not answer {command!r} within {timeout_s:.0f}s")
    finally:
        client.close()
        ctx.term()
