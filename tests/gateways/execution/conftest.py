"""Fixtures of the live order-entry tests (defined in builders.py)."""

from tests.gateways.execution.builders import htx, session_factory, spot, usdm

__all__ = ["htx", "session_factory", "spot", "usdm"]
