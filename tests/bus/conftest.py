"""Fixtures of the bus tests: a context terminated at teardown, a fresh metrics registry, a closer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from prometheus_client import CollectorRegistry

from tests.bus.builders import term_or_fail


@pytest.fixture
def ctx() -> Iterator[zmq.Context[Any]]:
    """A fresh context; teardown closes what ``closing`` holds, then terms (failing instead of hanging)."""
    context: zmq.Context[Any] = zmq.Context()
    yield context
    term_or_fail(context)


@pytest.fixture
def closing(ctx: zmq.Context[Any]) -> Iterator[list[Any]]:
    """Append bus objects or raw sockets here; they are closed before the context terms."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        item.close(linger=0) if isinstance(item, zmq.Socket) else item.close()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()
