"""The simulated venue: paper trading on replayed real markets, with no network.

Pieces, from the pure core out:

- :class:`SimVenue` (``venue.py``): accounts, orders, fills, fees and the
  venue's record over one :class:`~jtrader.matching.MatchingEngine` per
  instrument; takes ``VenueCommand`` structs, returns ``VenueEvent`` structs and
  public market data. No sockets, clock injected.
- :class:`ReplayFeed`, :class:`MarketReplay`, :class:`ReplayClock`
  (``replay.py``): a Binance capture or the lake as the venue's public book,
  and the rule by which replayed liquidity fills our orders.
- :class:`SimVenueServer`, :func:`serve`, :class:`SimVenueNode` (``server.py``,
  ``python -m jtrader.gateways.sim --config FILE``): the venue process.
- :class:`SimExecutionClient` (``execution.py``): the OMS's gateway to it.
- :class:`SimMarketDataClient` (``data.py``): its public market data.
- :class:`SimVenueConfig`, :func:`mirror_instrument` (``config.py``): settings,
  and ``BTCUSDT.sim`` as a clone of ``BTCUSDT.binance_usdm``.

Reject codes are listed in :mod:`jtrader.gateways.sim.venue`; exceptions in
each module's docstring::

    SimConfigError(ValueError)            config.py: a bad config file or value
    BusConfigError, CurveError            server.py/execution.py: endpoints and keys
    UnknownInstrument (DomainError)       venue.py: replay wired to an unlisted instrument
"""

from jtrader.gateways.sim.config import (
    ReplaySource,
    SimConfigError,
    SimMarketConfig,
    SimVenueConfig,
    load_config,
    mirror_instrument,
    parse_config,
)
from jtrader.gateways.sim.data import SimMarketDataClient
from jtrader.gateways.sim.execution import DEFAULT_IDENTITY, SimExecutionClient
from jtrader.gateways.sim.replay import (
    BookMirror,
    BookStep,
    MarketReplay,
    ReplayClock,
    ReplayFeed,
    ReplayStep,
    TimeStep,
    TradeStep,
    apply_step,
    capture_events,
    lake_events,
)
from jtrader.gateways.sim.server import RECORD_FILE, SimVenueNode, SimVenueServer, main, serve
from jtrader.gateways.sim.venue import (
    REPLAY_OWNER,
    SimOrderRecord,
    SimVenue,
    VenueOutput,
    VenueRecord,
    read_record,
    write_record,
)

__all__ = [
    "DEFAULT_IDENTITY",
    "RECORD_FILE",
    "REPLAY_OWNER",
    "BookMirror",
    "BookStep",
    "MarketReplay",
    "ReplayClock",
    "ReplayFeed",
    "ReplaySource",
    "ReplayStep",
    "SimConfigError",
    "SimExecutionClient",
    "SimMarketConfig",
    "SimMarketDataClient",
    "SimOrderRecord",
    "SimVenue",
    "SimVenueConfig",
    "SimVenueNode",
    "SimVenueServer",
    "TimeStep",
    "TradeStep",
    "VenueOutput",
    "VenueRecord",
    "apply_step",
    "capture_events",
    "lake_events",
    "load_config",
    "main",
    "mirror_instrument",
    "parse_config",
    "read_record",
    "serve",
    "write_record",
]
