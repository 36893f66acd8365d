"""Skeleton of a venue feed (copy, rename, fill in). Not importable as a working feed."""

from __future__ import annotations

from typing import Any

from jtrader.domain import InstrumentId, InstrumentRegistry, Venue
from jtrader.gateways.stream import FeedOutput, FeedStats


class TemplateFeed:
    """MUST implement every method; see jtrader.gateways.stream.Feed for the contract."""

    venue = Venue.SIM
    url = "wss://example.invalid/ws"

    def __init__(self, registry: InstrumentRegistry, symbols: list[str]) -> None:
        self.registry = registry
        self.symbols = symbols
        self.stats = FeedStats()

    def subscribe_frames(self) -> list[str]:
        """MUST: frames that (re)subscribe every channel of every symbol."""
        raise NotImplementedError

    def on_connect(self, ts_recv: int) -> FeedOutput:
        """MUST: mark books stale (BookStatus valid=False) and request snapshots."""
        raise NotImplementedError

    def on_frame(self, frame: str | bytes, ts_recv: int) -> FeedOutput:
        """MUST: parse, apply integrity rules, publish events; count malformed frames, never raise."""
        raise NotImplementedError

    def on_snapshot(self, instrument_id: InstrumentId, raw: Any, ts_recv: int) -> FeedOutput:
        """MAY: apply a REST snapshot (venues whose snapshots come over the socket return FeedOutput())."""
        return FeedOutput()
