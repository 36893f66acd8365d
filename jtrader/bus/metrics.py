"""Prometheus counters of the bus: messages in and out, rejects by reason, send failures, lost peers.

Counters live in a :class:`prometheus_client.CollectorRegistry` the caller
passes in; without one they go to :data:`BUS_REGISTRY`, a registry of this
module (never the global default registry, so creating many sockets, as tests
do, never collides). Every counter carries a ``component`` label, the name
the caller gave the socket (``"oms.commands"``, ``"md.sub"``...).

Series (all ``_total`` counters)::

    jtrader_bus_messages_in_total{component, type}      messages decoded and delivered
    jtrader_bus_messages_out_total{component, type}     messages handed to ZeroMQ
    jtrader_bus_rejects_total{component, reason}        frames dropped (reason: a RejectReason value)
    jtrader_bus_send_failures_total{component, reason}  sends refused: would_block, unroutable
    jtrader_bus_peers_lost_total{component}             peers declared silent (heartbeat timeout)
    jtrader_bus_handler_errors_total{component}         callbacks that raised (logged, dispatch goes on)

Exceptions: none of its own; prometheus_client raises ValueError for a registry
that already holds these names from another source.
"""

from __future__ import annotations

import threading
import weakref

from prometheus_client import CollectorRegistry, Counter

__all__ = ["BUS_REGISTRY", "BusMetrics", "bus_metrics", "is_log_point"]

BUS_REGISTRY = CollectorRegistry(auto_describe=True)
"""The default registry of bus counters; expose it with ``prometheus_client.generate_latest(BUS_REGISTRY)``."""


class BusMetrics:
    """The bus counters registered in one registry; get it with :func:`bus_metrics`, not directly."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages_in = Counter(
            "jtrader_bus_messages_in",
            "Messages received, decoded and delivered",
            ["component", "type"],
            registry=registry,
        )
        self.messages_out = Counter(
            "jtrader_bus_messages_out", "Messages sent", ["component", "type"], registry=registry
        )
        self.rejects = Counter(
            "jtrader_bus_rejects",
            "Inbound frames dropped as malformed or of a wrong protocol version",
            ["component", "reason"],
            registry=registry,
        )
        self.send_failures = Counter(
            "jtrader_bus_send_failures",
            "Sends that ZeroMQ refused (would block at the high-water mark, or peer unreachable)",
            ["component", "reason"],
            registry=registry,
        )
        self.peers_lost = Counter(
            "jtrader_bus_peers_lost",
            "Peers declared lost after a heartbeat timeout",
            ["component"],
            registry=registry,
        )
        self.handler_errors = Counter(
            "jtrader_bus_handler_errors",
            "Callbacks that raised; the error is logged and dispatch goes on",
            ["component"],
            registry=registry,
        )


_LOCK = threading.Lock()
_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, BusMetrics] = weakref.WeakKeyDictionary()


def bus_metrics(registry: CollectorRegistry | None = None) -> BusMetrics:
    """Return the bus counters of ``registry`` (default :data:`BUS_REGISTRY`), registering them once."""
    registry = BUS_REGISTRY if registry is None else registry
    with _LOCK:
        metrics = _BY_REGISTRY.get(registry)
        if metrics is None:
            metrics = _BY_REGISTRY[registry] = BusMetrics(registry)
        return metrics


def is_log_point(count: int) -> bool:
    """True for the 1st, 10th, 100th... occurrence: log those, so a flood of bad input cannot flood the log."""
    while count % 10 == 0:
        count //= 10
    return count == 1
