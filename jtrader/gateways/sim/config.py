"""Typed, frozen settings of the simulated venue, and its mirrored instruments.

A simulated market *mirrors* a real instrument: ``BTCUSDT.sim`` copies the
tick, lot, minimums and maker/taker fees of ``BTCUSDT.binance_usdm``
(:func:`mirror_instrument`), and its public book is replayed from a recording
of that real market (:class:`ReplaySource`).

Example file (TOML; relative paths resolve against the working directory)::

    command_endpoint = "ipc:///tmp/jtrader-sim/venue.sock"
    publish_endpoint = "ipc:///tmp/jtrader-sim/venue-md.sock"
    curve_secret_key = "var/keys/server.key_secret"
    allowed_clients_dir = "var/keys/allowed_clients"
    speed = 1.0
    record_path = "var/run/paper/venue-record.json"

    [[markets]]
    mirror = "BTCUSDT.binance_usdm"
    [markets.replay]
    capture_files = ["../shared/data/binance/usdm/btcusdt_20240808.gz"]

Exceptions::

    SimConfigError(ValueError)   a missing or unparsable file, an unknown key, a bad value,
                                 an unknown mirrored instrument, CURVE half-configured
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import msgspec

from jtrader.config import read_config_file
from jtrader.domain import Instrument, InstrumentId, InstrumentRegistry, Venue

__all__ = [
    "ReplaySource",
    "SimMarketConfig",
    "SimVenueConfig",
    "SimConfigError",
    "mirror_instrument",
    "load_config",
    "parse_config",
]


class SimConfigError(ValueError):
    """The simulated venue cannot start with this configuration; the message names the key and what to do."""


def mirror_instrument(real: Instrument, symbol: str | None = None) -> Instrument:
    """Return ``real`` cloned onto the simulated venue: same ticks, lots, minimums and fees, venue ``sim``.

    Example::

        >>> from jtrader.gateways.binance.instruments import binance_instruments
        >>> usdm = InstrumentRegistry(binance_instruments()).get(InstrumentId.parse("BTCUSDT.binance_usdm"))
        >>> sim = mirror_instrument(usdm)
        >>> str(sim.id), sim.taker_fee == usdm.taker_fee
        ('BTCUSDT.sim', True)
    """
    return dataclasses.replace(real, id=InstrumentId(symbol or real.id.symbol, Venue.SIM))


class ReplaySource(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where a simulated market's public book comes from: Binance capture files or the lake.

    - ``capture_files``: raw captures of the mirrored market, in stream order
      (a ``*_20240809`` file continuing a ``*_20240808`` one goes after it).
    - ``lake_root``: instead, the lake's ``book_snapshots``, ``book_deltas`` and
      ``trades`` of the mirrored instrument between ``start`` and ``end``
      (ISO dates, inclusive; empty means unbounded).
    - ``max_lines``: replay only the first lines of the captures (0: all).
    - ``trades``: replayed trades fill our resting orders (the trade rule of
      :mod:`jtrader.gateways.sim.replay`); off, only crossing levels do.
    """

    capture_files: tuple[str, ...] = ()
    lake_root: str = ""
    start: str = ""
    end: str = ""
    max_lines: int = 0
    trades: bool = True

    def __post_init__(self) -> None:
        if bool(self.capture_files) == bool(self.lake_root):
            raise SimConfigError("replay: give either capture_files or lake_root (exactly one)")
        if self.max_lines < 0:
            raise SimConfigError(f"replay.max_lines: expected 0 (all) or a positive count, got {self.max_lines}")


class SimMarketConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One simulated instrument: the real instrument it mirrors, its symbol (default: the same), its replay."""

    mirror: str
    symbol: str = ""
    replay: ReplaySource | None = None

    def mirrored_id(self) -> InstrumentId:
        try:
            return InstrumentId.parse(self.mirror)
        except ValueError as exc:
            raise SimConfigError(f"markets.mirror: {exc}") from None


class SimVenueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The simulated venue process.

    - ``command_endpoint``: where OMS gateways connect (ROUTER, bound; loopback tcp or ipc).
      Cross-process channels need ``curve_secret_key`` and ``allowed_clients_dir``
      unless ``allow_insecure`` (tests only).
    - ``publish_endpoint``: public market data (PUB, bound), topics ``md.sim.<symbol>.<kind>``.
    - ``speed``: replay pace, recorded time x ``speed``; 0 replays as fast as possible.
    - ``loop``: start the recordings again at their end (24/7 paper trading).
    - ``book_depth``: levels per side in published book deltas and snapshots.
    - ``snapshot_interval_s``: publish a full ``BookSnapshot`` this often (0: never).
    - ``heartbeat_timeout_s``: an OMS silent this long is logged as disconnected (its
      events are kept for it either way).
    - ``max_pending_events``: undeliverable events kept per account for its return
      (oldest dropped beyond; 0 keeps none); :class:`~jtrader.bus.messages.VenueQuery`
      recovers fills and open orders either way.
    - ``check_minimums``: refuse orders below the instrument's minimum quantity or notional.
    - ``initial_balances``: each account's starting balances, currency -> decimal string.
    - ``record_path``: write the venue's record (JSON) there on exit, "" for no file.
    """

    markets: tuple[SimMarketConfig, ...] = ()
    command_endpoint: str = "tcp://127.0.0.1:47100"
    publish_endpoint: str = "tcp://127.0.0.1:47101"
    curve_secret_key: str = ""
    allowed_clients_dir: str = ""
    allow_insecure: bool = False
    speed: float = 1.0
    loop: bool = False
    book_depth: int = 20
    snapshot_interval_s: float = 5.0
    heartbeat_timeout_s: float = 5.0
    max_pending_events: int = 100_000
    check_minimums: bool = True
    initial_balances: dict[str, str] = {}
    record_path: str = ""

    def __post_init__(self) -> None:
        if self.speed < 0 or self.speed != self.speed:
            raise SimConfigError(f"speed: expected 0 (as fast as possible) or a positive factor, got {self.speed}")
        if self.book_depth < 1:
            raise SimConfigError(f"book_depth: expected at least 1 level, got {self.book_depth}")
        if self.snapshot_interval_s < 0 or self.heartbeat_timeout_s <= 0:
            raise SimConfigError("snapshot_interval_s must be >= 0 and heartbeat_timeout_s > 0 (seconds)")
        if self.max_pending_events < 0:
            raise SimConfigError(f"max_pending_events: expected >= 0, got {self.max_pending_events}")
        if bool(self.curve_secret_key) != bool(self.allowed_clients_dir):
            raise SimConfigError(
                "curve_secret_key and allowed_clients_dir go together: give both (CURVE) or neither "
                "(then allow_insecure must be true for a cross-process endpoint)"
            )
        symbols = [m.symbol or m.mirrored_id().symbol for m in self.markets]
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise SimConfigError(
                f"markets: two markets would both be {', '.join(duplicates)}.sim; give one a different 'symbol'"
            )

    def instruments(self, registry: InstrumentRegistry) -> list[tuple[Instrument, Instrument]]:
        """``(real, simulated)`` pairs of the configured markets; raises SimConfigError for an unknown mirror."""
        pairs = []
        for market in self.markets:
            try:
                real = registry.get(market.mirrored_id())
            except KeyError as exc:
                raise SimConfigError(f"markets.mirror: {exc}") from None
            pairs.append((real, mirror_instrument(real, market.symbol or None)))
        return pairs


def parse_config(data: dict[str, Any], source: str = "<config>") -> SimVenueConfig:
    """Validate a decoded config mapping; raises SimConfigError naming the bad key."""
    try:
        return msgspec.convert(data, SimVenueConfig, strict=False)
    except SimConfigError as exc:
        raise SimConfigError(f"sim venue config {source}: {exc}") from None
    except msgspec.ValidationError as exc:
        raise SimConfigError(
            f"sim venue config {source}: {exc}; see jtrader/gateways/sim/config.py for the keys"
        ) from None


def load_config(path: str | Path) -> SimVenueConfig:
    """Read a TOML (or ``.json``) config file; raises SimConfigError saying what is wrong with it."""
    return parse_config(read_config_file(path, "sim venue config", SimConfigError), str(path))
