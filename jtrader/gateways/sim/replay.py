"""Replay recorded markets as the simulated venue's public book, so paper trading needs no network.

A :class:`ReplayFeed` reads one recorded market (Binance capture files via
:func:`capture_events`, or the lake via :func:`lake_events`), keeps its book
with the venue's own sequencing rules (:class:`~jtrader.gateways.binance.BinanceBookSync`
for Binance, snapshot-then-deltas otherwise) and turns every change into
*steps* for the mirrored simulated instrument. :class:`MarketReplay` merges
the feeds in receive-time order (``ts_recv``; ties keep feed order) and
applies each step to a :class:`~jtrader.gateways.sim.venue.SimVenue`;
:class:`ReplayClock` decides when a step is due (recorded time / ``speed``,
or at once) and what the venue's time is.

**How replayed liquidity fills our orders** (the rule the tests pin down):

1. *Levels.* Each recorded book change sets the anonymous size of the levels
   it touches (``MatchingEngine.set_level``). Anonymous size queues with our
   orders by arrival: an increase joins the back of the level, a decrease
   leaves from the back first, so our place in the queue only improves when
   the size ahead of us trades (rule 2) or is all gone. A recorded level that
   *crosses* our resting order (a bid at or above our ask, an ask at or below
   our bid) means the market went through our price: our order fills whole,
   at its own price, as maker.
2. *Trades.* A recorded trade of ``q`` lots at price ``p`` with aggressor side
   ``A`` is an anonymous IOC order of ``q`` at ``p`` on side ``A``
   (:meth:`SimVenue.replay_trade`): it takes the book in price-time priority,
   so the anonymous size queued ahead of our order at its price goes first
   and our order at (or better than) ``p`` fills with whatever is left of
   ``q``, as maker at its own price. Anonymous size it consumed at ``p`` goes
   back behind the queue (the recording still shows it until its next update
   of that level, which removes size from the back first); anonymous size it
   consumed at better prices stays consumed until the recording next sets
   those levels: a print at ``p`` proves nothing better was left, so a sweep's
   later prints reach our orders behind that stale size.

Known biases: where a recording sends the depth update that shows a trade
*before* the trade itself, the size ahead of us shrinks twice and we fill a
little early; our own trades take replayed liquidity only until the recording
next sets the level (no lasting market impact). Trades only take liquidity
while the replayed book is in sync (after its snapshot, with no gap since);
otherwise they are published and counted (``trades_not_matched``) but match
nothing. Only depth (snapshots, diffs) and trades drive the book; best
bid/offer messages (``bookTicker``) are skipped. A recorded level too far from
the rest of the book for the engine's price ladder (``MatchingEngine``'s
``max_levels`` ticks; e.g. a stray ask at ten times the price) is dropped and
counted in ``SimVenue.counters["replay_rejected.bad_price"]``.

Determinism: the same recording and the same commands, interleaved at the
same recorded times (:meth:`MarketReplay.run_until`, then
:meth:`SimVenue.handle`), give identical events, fills and trade ids. A
command at time ``t`` sees every recorded change with ``ts_recv <= t``.

Exceptions::

    MalformedMessage (DomainError)   never raised: bad capture lines are counted
                                     (``feed.counters["malformed"]``) and skipped
    OSError                          a capture file that cannot be opened
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jtrader.domain import (
    BookDelta,
    BookSnapshot,
    DomainError,
    Instrument,
    InstrumentId,
    InstrumentRegistry,
    Level,
    MarketEvent,
    Side,
    Trade,
    Venue,
)
from jtrader.gateways.binance.book_sync import BinanceBookSync
from jtrader.gateways.binance.parsing import BinanceCaptureParser, detect_binance_venue, iter_capture
from jtrader.gateways.sim.venue import SimVenue, VenueOutput
from jtrader.marketdata.book import OrderBook

__all__ = [
    "BookMirror",
    "BookStep",
    "MarketReplay",
    "ReplayClock",
    "ReplayFeed",
    "ReplayStep",
    "TimeStep",
    "TradeStep",
    "apply_step",
    "capture_events",
    "lake_events",
]

log = logging.getLogger("jtrader.gateways.sim.replay")

_BINANCE = (Venue.BINANCE, Venue.BINANCE_USDM, Venue.BINANCE_COINM)
_LOOP_GAP_NS = 1_000_000  # recorded time between the end of a recording and its next loop


# -- sources ------------------------------------------------------------------------------------


def capture_events(
    paths: Sequence[str | Path],
    registry: InstrumentRegistry,
    *,
    venue: Venue | None = None,
    max_lines: int = 0,
    skip_quotes: bool = True,
    counters: Counter[str] | None = None,
) -> Iterator[MarketEvent]:
    """Yield the events of Binance capture files, in file then line order.

    ``venue`` defaults to what :func:`detect_binance_venue` finds for the
    first file; ``max_lines`` stops after that many lines in all (0: no
    limit). With ``skip_quotes``, ``bookTicker`` lines are skipped before
    parsing (the replay does not use them; they are most of a capture).
    Malformed lines are counted in ``counters["malformed"]``, logged
    sparingly, and skipped. Mark-price events are dropped.
    """
    counters = counters if counters is not None else Counter()
    seen = 0
    for raw_path in paths:
        path = Path(raw_path)
        parser = BinanceCaptureParser(registry, venue or detect_binance_venue(path), source=path.name)
        for line_no, line in iter_capture(path):
            seen += 1
            if max_lines and seen > max_lines:
                return
            if not line or (skip_quotes and b"@bookTicker" in line[:96]):
                continue
            try:
                events = parser.parse_line(line, line_no)
            except DomainError as exc:
                counters["malformed"] += 1
                if counters["malformed"] in (1, 10, 100, 1000) or counters["malformed"] % 10_000 == 0:
                    log.warning("replay: skipped a bad capture line (%s); %d so far", exc, counters["malformed"])
                continue
            for event in events:
                if isinstance(event, BookDelta | BookSnapshot | Trade):
                    yield event


def lake_events(
    lake: Any, instrument: Instrument, start: dt.date | None = None, end: dt.date | None = None
) -> Iterator[MarketEvent]:
    """Yield ``instrument``'s book snapshots, book deltas and trades from the lake, merged by ``ts_recv``.

    ``lake`` is a :class:`jtrader.storage.lake.Lake`; ``start``/``end`` are
    inclusive dates. Rows of one message (same ``ts_recv`` and update id) become
    one event; prices and sizes return to exact ticks and lots by rounding
    (the lake's doubles are the decimals' nearest neighbours). At equal
    ``ts_recv``, snapshots come before deltas before trades.
    """
    iid = instrument.id
    venue, symbol = iid.venue.value, iid.symbol
    tick = instrument.price_increment.as_double()
    lot = instrument.size_increment.as_double()

    def columns(dataset: str, names: list[str]) -> dict[str, np.ndarray]:
        table = lake.read_table(dataset, venue=venue, symbol=symbol, start=start, end=end, columns=names)
        out = {name: table.column(name).to_numpy(zero_copy_only=False) for name in names}
        if "price" in out:
            out["price"] = np.rint(out["price"] / tick).astype(np.int64)
            out["size"] = np.rint(out["size"] / lot).astype(np.int64)
        return out

    def book_events(dataset: str) -> Iterator[tuple[int, int, MarketEvent]]:
        names = ["ts_event", "ts_recv", "update_id", "side", "price", "size"]
        names += ["level"] if dataset == "book_snapshots" else ["first_update_id", "prev_update_id"]
        c = columns(dataset, names)
        n = len(c["ts_recv"])
        rank = 0 if dataset == "book_snapshots" else 1
        i = 0
        while i < n:
            j = i
            key = (c["ts_recv"][i], c["update_id"][i])
            while j < n and (c["ts_recv"][j], c["update_id"][j]) == key:
                j += 1
            bids: list[Level] = []
            asks: list[Level] = []
            rows = range(i, j)
            if dataset == "book_snapshots":
                rows = sorted(rows, key=lambda r: int(c["level"][r]))  # type: ignore[assignment]
            for r in rows:
                (bids if c["side"][r] == "bid" else asks).append((int(c["price"][r]), int(c["size"][r])))
            ts_event, ts_recv, uid = int(c["ts_event"][i]), int(c["ts_recv"][i]), int(c["update_id"][i])
            event: MarketEvent
            if dataset == "book_snapshots":
                event = BookSnapshot(iid, bids, asks, uid, ts_event, ts_recv)
            else:
                first, prev = int(c["first_update_id"][i]), int(c["prev_update_id"][i])
                event = BookDelta(iid, bids, asks, first, uid, prev, ts_event, ts_recv)
            yield ts_recv, rank, event
            i = j

    def trade_events() -> Iterator[tuple[int, int, MarketEvent]]:
        c = columns("trades", ["ts_event", "ts_recv", "price", "size", "aggressor", "trade_id"])
        for r in range(len(c["ts_recv"])):
            ts_recv = int(c["ts_recv"][r])
            aggressor = Side(str(c["aggressor"][r]))
            trade = Trade(
                iid, int(c["price"][r]), int(c["size"][r]), aggressor, str(c["trade_id"][r]), int(c["ts_event"][r]),
                ts_recv,
            )  # fmt: skip
            yield ts_recv, 2, trade

    merged = heapq.merge(book_events("book_snapshots"), book_events("book_deltas"), trade_events(), key=lambda x: x[:2])
    for _, _, event in merged:
        yield event


# -- one recorded book -> level changes ------------------------------------------------------


class _PlainSync:
    """Snapshot-then-deltas for venues without sequencing rules here: every event applies."""

    def __init__(self) -> None:
        self.book = OrderBook()
        self.is_valid = False

    def on_event(self, event: BookSnapshot | BookDelta) -> bool:
        if isinstance(event, BookSnapshot):
            self.book.apply_snapshot(event.bids, event.asks, event.last_update_id)
        else:
            self.book.apply_levels(event.bids, event.asks)
        self.is_valid = not self.book.is_crossed()
        return True


class BookMirror:
    """Keep one recorded book in sync and say which anonymous levels to set on the simulated book.

    :meth:`on_event` returns ``(bids, asks)`` to pass to
    :meth:`SimVenue.set_levels` (``lots`` 0 removes a level), or None when the
    event did not change the book (buffered before a snapshot, stale, a gap).
    Guarantee: after each returned change is applied, the simulated book's
    anonymous levels equal the recorded book (which is what the replay tests check).
    """

    def __init__(self, recorded: Instrument) -> None:
        self.recorded = recorded
        self.applied_bids: dict[int, int] = {}
        self.applied_asks: dict[int, int] = {}
        self.sync: BinanceBookSync | _PlainSync = self._new_sync()

    def _new_sync(self) -> BinanceBookSync | _PlainSync:
        venue = self.recorded.id.venue
        if venue in _BINANCE:
            return BinanceBookSync(self.recorded, futures=venue is not Venue.BINANCE)
        return _PlainSync()

    def restart(self) -> None:
        """Forget the recorded sequence (a new pass over a recording); the applied levels are kept."""
        self.sync = self._new_sync()

    @property
    def is_valid(self) -> bool:
        return self.sync.is_valid

    @property
    def book(self) -> OrderBook:
        """The recorded book as its venue's rules keep it."""
        return self.sync.book

    def on_event(self, event: BookSnapshot | BookDelta) -> tuple[list[Level], list[Level]] | None:
        if not self.sync.on_event(event):
            return None
        if isinstance(event, BookDelta):  # applied alone: its levels are the whole change
            _apply(self.applied_bids, event.bids)
            _apply(self.applied_asks, event.asks)
            return list(event.bids), list(event.asks)
        # A snapshot (and any buffered diffs it released): set the difference.
        book = self.sync.book
        bids, asks = book.depth(max(book.bid_levels, book.ask_levels))
        return _diff(self.applied_bids, bids), _diff(self.applied_asks, asks)


def _apply(applied: dict[int, int], levels: list[Level]) -> None:
    for price, size in levels:
        if size:
            applied[price] = size
        else:
            applied.pop(price, None)


def _diff(applied: dict[int, int], levels: list[Level]) -> list[Level]:
    wanted = dict(levels)
    changes = [(price, size) for price, size in levels if applied.get(price) != size]
    changes += [(price, 0) for price in applied if price not in wanted]
    applied.clear()
    applied.update(wanted)
    return changes


# -- steps and feeds --------------------------------------------------------------------------


class BookStep(NamedTuple):
    """Set these anonymous levels of ``instrument_id`` (a simulated instrument)."""

    ts: int
    instrument_id: InstrumentId
    bids: list[Level]
    asks: list[Level]


class TradeStep(NamedTuple):
    """A recorded trade on ``instrument_id``; ``match`` False publishes it without taking liquidity."""

    ts: int
    instrument_id: InstrumentId
    price_ticks: int
    size_lots: int
    aggressor: Side
    trade_id: str
    match: bool


class TimeStep(NamedTuple):
    """A recorded event that changes nothing on ``instrument_id`` (a buffered or empty diff): the time moves on."""

    ts: int
    instrument_id: InstrumentId


ReplayStep = BookStep | TradeStep | TimeStep


class ReplayFeed:
    """One recorded market mirrored onto one simulated instrument, as a stream of steps.

    ``source`` returns a fresh iterable of the recorded events each time it is
    called (once per pass, so a replay can loop). The simulated instrument
    must have the recorded one's ticks and lots (:func:`~jtrader.gateways.sim.config.mirror_instrument`).
    ``trades`` False publishes recorded trades without letting them fill us.
    Counters: ``book_changes``, ``trades``, ``trades_not_matched``,
    ``ignored`` (events of other instruments), ``malformed`` (from :func:`capture_events`).
    """

    def __init__(
        self,
        source: Callable[[], Iterable[MarketEvent]],
        recorded: Instrument,
        simulated: Instrument,
        *,
        trades: bool = True,
    ) -> None:
        if (recorded.price_increment, recorded.size_increment) != (
            simulated.price_increment,
            simulated.size_increment,
        ):
            raise ValueError(
                f"{simulated.id} must have {recorded.id}'s tick and lot to replay it; build it with mirror_instrument"
            )
        self.source = source
        self.recorded = recorded
        self.simulated = simulated
        self.trades = trades
        self.mirror = BookMirror(recorded)
        self.counters: Counter[str] = Counter()

    @classmethod
    def from_captures(
        cls,
        paths: Sequence[str | Path],
        registry: InstrumentRegistry,
        recorded: Instrument,
        simulated: Instrument,
        *,
        max_lines: int = 0,
        trades: bool = True,
    ) -> ReplayFeed:
        """A feed over Binance capture files of ``recorded`` (first ``max_lines`` lines only if non-zero)."""
        feed: ReplayFeed

        def source() -> Iterable[MarketEvent]:
            return capture_events(paths, registry, venue=recorded.id.venue, max_lines=max_lines, counters=feed.counters)

        feed = cls(source, recorded, simulated, trades=trades)
        return feed

    @classmethod
    def from_lake(
        cls,
        lake: Any,
        recorded: Instrument,
        simulated: Instrument,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        trades: bool = True,
    ) -> ReplayFeed:
        """A feed over the lake's book snapshots, book deltas and trades of ``recorded``."""
        return cls(lambda: lake_events(lake, recorded, start, end), recorded, simulated, trades=trades)

    def steps(self) -> Iterator[ReplayStep]:
        """One pass over the recording: the steps in recorded order, ``ts`` being the receive time."""
        step_for = self.step_for
        for event in self.source():
            step = step_for(event)
            if step is not None:
                yield step

    def step_for(self, event: MarketEvent) -> ReplayStep | None:
        """The step one recorded event makes, in recording order (None: an event of another instrument).

        Every event of the recorded instrument makes a step, a :class:`TimeStep`
        if it changes nothing, so the venue's time is always the receive time of
        the last recorded event, as the backtester's is. The backtester's
        full-book mode feeds its events through this too, so paper and backtest
        build the same book from the same events.
        """
        counters = self.counters
        if event.instrument_id != self.recorded.id:
            counters["ignored"] += 1
            return None
        if isinstance(event, Trade):
            counters["trades"] += 1
            match = self.trades and self.mirror.is_valid
            if not match:
                counters["trades_not_matched"] += 1
            return TradeStep(
                event.ts_recv, self.simulated.id, event.price_ticks, event.size_lots, event.aggressor,
                event.trade_id, match,
            )  # fmt: skip
        if isinstance(event, BookDelta | BookSnapshot):
            change = self.mirror.on_event(event)
            if change is not None and (change[0] or change[1]):
                counters["book_changes"] += 1
                return BookStep(event.ts_recv, self.simulated.id, change[0], change[1])
        return TimeStep(event.ts_recv, self.simulated.id)

    def restart(self) -> None:
        """Prepare another pass: the recorded book re-syncs from the recording's snapshot."""
        self.mirror.restart()


def apply_step(venue: SimVenue, step: ReplayStep) -> VenueOutput:
    """Apply one replay step to ``venue`` at the venue's current time; return what it produced."""
    if type(step) is BookStep:
        return venue.set_levels(step.instrument_id, step.bids, step.asks)
    if type(step) is TimeStep:
        return VenueOutput()
    assert isinstance(step, TradeStep)
    return venue.replay_trade(
        step.instrument_id, step.price_ticks, step.size_lots, step.aggressor, step.trade_id, match=step.match
    )


# -- time --------------------------------------------------------------------------------------


class ReplayClock:
    """The venue's time during a replay.

    Paced (``speed`` > 0): the first step is due at once and a step recorded
    ``d`` ns after it is due ``d / speed`` ns later on the wall clock; the
    venue's time is the wall clock. As fast as possible (``speed`` 0): every
    step is due at once and the venue's time is the receive time of the last
    step applied (recorded time), which makes a replay reproducible.

    Example::

        >>> clock = ReplayClock(speed=0)
        >>> clock.advance(1_723_161_255_030_314_667)
        >>> clock.now()
        1723161255030314667
    """

    def __init__(self, speed: float = 1.0, *, wall: Callable[[], int] = time.time_ns) -> None:
        if speed < 0 or speed != speed:
            raise ValueError(f"speed: expected 0 (as fast as possible) or a positive factor, got {speed}")
        self.speed = speed
        self._wall = wall
        self._now = 0
        self._anchor: tuple[int, int] | None = None  # (recorded ns, wall ns) of the first step

    @property
    def paced(self) -> bool:
        return self.speed > 0

    def now(self) -> int:
        """The venue's time, ns."""
        return self._wall() if self.speed > 0 else self._now

    def due_ns(self, recorded_ns: int) -> int:
        """The wall time at which a step recorded at ``recorded_ns`` is due (paced), else ``recorded_ns``."""
        if self.speed <= 0:
            return recorded_ns
        if self._anchor is None:
            self._anchor = (recorded_ns, self._wall())
        rec0, wall0 = self._anchor
        return wall0 + int((recorded_ns - rec0) / self.speed)

    def delay_ns(self, recorded_ns: int) -> int:
        """How long until a step recorded at ``recorded_ns`` is due (0: now)."""
        if self.speed <= 0:
            return 0
        return max(0, self.due_ns(recorded_ns) - self._wall())

    def advance(self, recorded_ns: int) -> None:
        """Note that the replay reached ``recorded_ns`` (the venue's time, when not paced)."""
        if self.speed > 0:
            self.due_ns(recorded_ns)  # anchors on the first step
        elif recorded_ns > self._now:
            self._now = recorded_ns


# -- driving the venue ------------------------------------------------------------------------


class MarketReplay:
    """Apply the steps of several feeds to a venue in receive-time order.

    With ``loop``, once every feed is exhausted they all start again, their
    recorded times shifted to continue after the last step (so time never
    goes backwards). Counters: ``steps`` applied, ``loops`` completed.

    Example::

        replay = MarketReplay(venue, [feed], clock)
        out = replay.run_until(t)          # every step recorded at or before t
        out.extend(venue.handle(cmd, "acct"))
    """

    def __init__(self, venue: SimVenue, feeds: Sequence[ReplayFeed], clock: ReplayClock, *, loop: bool = False) -> None:
        self.venue = venue
        self.feeds = list(feeds)
        self.clock = clock
        self.loop = loop
        self.counters: Counter[str] = Counter()
        self._offset = 0
        self._first_ts: int | None = None
        self._last_ts: int | None = None
        self._iter = self._merge()
        self._next: ReplayStep | None = None
        self._advance()
        if self._next is not None:
            clock.advance(self._next.ts)  # the venue's time starts at the recording's start

    def _merge(self) -> Iterator[ReplayStep]:
        return heapq.merge(*(feed.steps() for feed in self.feeds), key=lambda step: step.ts)

    def _advance(self) -> None:
        step = next(self._iter, None)
        if step is None and self.loop and self._first_ts is not None and self._last_ts is not None:
            self.counters["loops"] += 1
            self._offset += self._last_ts - self._first_ts + _LOOP_GAP_NS
            self._first_ts = None
            for feed in self.feeds:
                feed.restart()
            self._iter = self._merge()
            step = next(self._iter, None)
        if step is not None:
            if self._first_ts is None:
                self._first_ts = step.ts
            self._last_ts = step.ts
            if self._offset:
                step = step._replace(ts=step.ts + self._offset)
        self._next = step

    @property
    def exhausted(self) -> bool:
        return self._next is None

    def next_ts(self) -> int | None:
        """The (shifted) receive time of the next step, or None when the recording is over."""
        return None if self._next is None else self._next.ts

    def delay_ns(self) -> int | None:
        """How long until the next step is due (0: now), or None when the recording is over."""
        return None if self._next is None else self.clock.delay_ns(self._next.ts)

    def step(self) -> VenueOutput:
        """Apply the next step to the venue (whether due or not); an empty output when the recording is over."""
        step = self._next
        if step is None:
            return VenueOutput()
        self._advance()
        self.clock.advance(step.ts)
        self.counters["steps"] += 1
        return apply_step(self.venue, step)

    def run_until(self, ts: int) -> VenueOutput:
        """Apply every step recorded at or before ``ts``; return what they produced, in order."""
        out = VenueOutput()
        while self._next is not None and self._next.ts <= ts:
            out.extend(self.step())
        return out

    def run_due(self, max_steps: int = 1000) -> VenueOutput:
        """Apply the steps that are due now (all of them when not paced), at most ``max_steps``."""
        out = VenueOutput()
        for _ in range(max_steps):
            if self._next is None or self.clock.delay_ns(self._next.ts) > 0:
                break
            out.extend(self.step())
        return out
