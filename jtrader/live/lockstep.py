"""A paper desk in one process, advanced one recorded event at a time: paper trading with zero latency.

:class:`LockstepDesk` wires the desk's own components, the simulated venue
(:class:`~jtrader.gateways.sim.SimVenueServer`), the OMS
(:class:`~jtrader.live.oms_node.OmsNode`: risk, journal, group commit) and
the strategy host (:class:`~jtrader.live.strategy_host.StrategyHost`), over
``inproc://`` ZeroMQ sockets in one thread (``run.transport = "inproc"``).
Instead of pacing the recording by the wall clock, it releases one replay
step (the venue's time becomes the step's recorded receive time), then
*pumps* the components until a whole round does no work (quiescence), then
releases the next step. A round is one ``run_once`` pass of each: the venue
(commands), the OMS (commands, venue events, market data), the strategy host
(reports, market data, timers). The OMS goes before the host, so it has the
market data (risk's reference prices) before the orders the host makes on it.

So everything a recorded event causes, the strategy's reactions, their fills
and the reactions to those, happens before the next recorded event, in
rounds: the backtester with zero latency (``BacktestConfig`` defaults,
``matching="book"``, ``time_key="ts_recv"``) does the same, which is what
``tests/live/test_backtest_paper_parity.py`` checks. The strategies' clock is
the venue's; a strategy timer fires at its due time (the venue's clock set to
it) before the first step recorded after it, at a step's own time after the
step.

Not for production: the wall clock still drives heartbeats and the OMS's
timer (day roll, loss limit), and the venue publishes no periodic book
snapshots (``snapshot_interval_s`` is set to 0).

Example::

    desk = LockstepDesk(config, settings, strategies=[QuotingStrategy("mm", [sim_btc], params)])
    desk.start()
    desk.run()                 # every step of the capture (run.venue.max_lines limits it)
    record = desk.close()      # the venue's record: orders, fills, positions

Exceptions::

    RunConfigError(ValueError)   the run config's transport is not inproc
    LockstepStalled(RuntimeError)  the components kept working for max_rounds rounds after a step
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import zmq

from jtrader.config import Settings
from jtrader.gateways.sim import SimVenueNode, SimVenueServer, VenueRecord
from jtrader.live.config import RunConfig, RunConfigError
from jtrader.live.oms_node import OmsNode
from jtrader.live.strategy_host import StrategyHost
from jtrader.strategies.base import Strategy

__all__ = ["LockstepDesk", "LockstepStalled"]

log = logging.getLogger("jtrader.lockstep")

MAX_ROUNDS = 10_000


class LockstepStalled(RuntimeError):
    """The components did not come to rest: they kept handling messages for ``max_rounds`` rounds."""


class LockstepDesk:
    """Venue, OMS and strategy host in one thread, driven step by step; :meth:`start`, :meth:`run`, :meth:`close`.

    ``strategies`` default to the run config's. Counters: ``steps`` released,
    ``rounds`` pumped, ``timers`` fired between steps.
    """

    def __init__(
        self,
        config: RunConfig,
        settings: Settings,
        *,
        strategies: list[Strategy] | None = None,
        max_rounds: int = MAX_ROUNDS,
    ) -> None:
        if config.run.transport != "inproc":
            raise RunConfigError(
                f"run.transport: a lockstep desk runs in one process over inproc, got {config.run.transport!r}"
            )
        self.config = config
        self.settings = settings
        self.max_rounds = max_rounds
        self._strategies = strategies
        self.context: zmq.Context[Any] = zmq.Context()
        self.venue: SimVenueServer | None = None
        self.oms: OmsNode | None = None
        self.host: StrategyHost | None = None
        self.steps = 0
        self.rounds = 0
        self.timers = 0
        self._closed = False

    def start(self) -> None:
        """Bind the venue, start the OMS (it asks the venue for its record) and the host; pump to rest."""
        node = SimVenueNode.from_run_config(self.config, self.settings)
        venue_config = msgspec.structs.replace(node.config, speed=0.0, loop=False, snapshot_interval_s=0.0)
        self.venue = SimVenueServer(venue_config, context=self.context)
        self.oms = OmsNode(self.config, self.settings, context=self.context)
        self.oms.start()
        self.host = StrategyHost(
            self.config, self.settings, strategies=self._strategies, context=self.context, clock=self.venue.clock.now
        )
        self.host.start()
        self.pump()

    # -- driving -------------------------------------------------------------------------------

    def pump(self) -> int:
        """Run rounds until one does no work; return how many rounds did work."""
        venue, oms, host = self._parts()
        for rounds in range(self.max_rounds):
            work = venue.serve_commands() + oms.run_once(0) + host.run_once(0)
            if not work:
                self.rounds += rounds
                return rounds
        raise LockstepStalled(
            f"lockstep: still busy after {self.max_rounds} rounds at step {self.steps}; "
            "a strategy that answers every report with a new order never comes to rest"
        )

    def step(self) -> bool:
        """Fire the strategy timers due before the next step, release the step, pump to rest; False when over."""
        venue, _, host = self._parts()
        next_ts = venue.replay.next_ts()
        if next_ts is None:
            return False
        while (due := host.next_timer_ns()) is not None and due < next_ts:
            venue.clock.advance(due)  # the venue's (and the strategies') time is the timer's
            self.timers += 1
            self.pump()
        venue.step_replay()
        self.steps += 1
        self.pump()
        return True

    def run(self, max_steps: int = 0) -> int:
        """Release steps until the recording is over (or ``max_steps``, if not 0); return how many."""
        done = 0
        while (not max_steps or done < max_steps) and self.step():
            done += 1
        return done

    # -- the end -------------------------------------------------------------------------------

    def close(self) -> VenueRecord:
        """Stop the strategies (what they send then is handled), stop the OMS, close; return the venue's record.

        Idempotent (a second call returns the record again).
        """
        venue, oms, host = self._parts()
        if not self._closed:
            self._closed = True
            try:
                host.stop_strategies()
                self.pump()
            finally:
                host.close()
                oms.stop()
                oms.run()  # returns at once: shuts down per policy (journal flushed, sockets closed)
                venue.close()
                self.context.term()
        return venue.record()

    def _parts(self) -> tuple[SimVenueServer, OmsNode, StrategyHost]:
        if self.venue is None or self.oms is None or self.host is None:
            raise RuntimeError("lockstep: call start() first")
        return self.venue, self.oms, self.host
