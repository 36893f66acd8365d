"""Backtest-paper parity: one strategy, one capture, zero latency, the same orders and fills both ways.

Paper: the desk's own venue, OMS (risk, journal) and strategy host over real
ZeroMQ ``inproc://`` sockets, replaying the capture in lockstep
(:mod:`jtrader.live.lockstep`). Backtest: the event-driven engine, full-book
matching, zero latency, the same capture's events timed by their receive
time. A difference is a bug in one of them, not a tolerance to widen.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from jtrader.backtest import BacktestConfig, BacktestEngine
from jtrader.bus.messages import ExecutionReport, OrderRejected
from jtrader.config import Settings
from jtrader.domain import (
    Fill,
    InstrumentId,
    InstrumentRegistry,
    LiquiditySide,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.sim import VenueRecord, capture_events
from jtrader.live.config import parse_run_config
from jtrader.live.lockstep import LockstepDesk
from jtrader.marketdata.book import OrderBook
from jtrader.strategies.base import Strategy, StrategyContext
from jtrader.strategies.quoting import QuotingParams, QuotingStrategy

pytestmark = pytest.mark.timeout(300)

CAPTURE = Path("binance") / "usdm" / "btcusdt_20240808.gz"
LINES = 20_000  # 4,623 events (1 snapshot, 1,598 depth diffs, 3,024 trades): 83 s of the market
TIMER_NS = 250_000_000
USDM_BTC = InstrumentId.parse("BTCUSDT.binance_usdm")
SIM_BTC = InstrumentId.parse("BTCUSDT.sim")


def quoting(skew_ticks_per_lot: float) -> QuotingParams:
    """Rests quotes at the touch and, skewed by its inventory, sometimes crosses the spread (post_only off).

    2 lots = 0.002 BTC, above the instrument's 100 USDT minimum notional.
    """
    return QuotingParams(
        quote_lots=2,
        max_position_lots=10,
        skew_ticks_per_lot=skew_ticks_per_lot,
        min_requote_ns=20_000_000,
        post_only=False,
    )


class _Recording:
    """The context a recorded strategy is given: records what it sends, then sends it."""

    def __init__(self, ctx: Any, orders: list[tuple]) -> None:
        self._ctx = ctx
        self._orders = orders
        self.strategy_id = ctx.strategy_id

    def submit(
        self,
        instrument_id: InstrumentId,
        side: Side,
        quantity_lots: int,
        price_ticks: int | None = None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        trigger_ticks: int | None = None,
        reduce_only: bool = False,
    ) -> str:
        cid: str = self._ctx.submit(
            instrument_id, side, quantity_lots, price_ticks, order_type, time_in_force, trigger_ticks, reduce_only
        )
        self._orders.append((cid, side, price_ticks, quantity_lots, order_type, time_in_force, self._ctx.now()))
        return cid

    def __getattr__(self, name: str) -> Any:  # everything else goes to the real context unchanged
        return getattr(self._ctx, name)


class Recorded(Strategy):
    """Runs ``inner`` and records every order it sends and every event it sees (instrument ids left out).

    From its first market event on, a timer pulls all quotes every ``TIMER_NS`` (the inner strategy
    quotes again on the next book): timers, and mass cancels racing fills, are part of the parity.
    """

    def __init__(self, inner: Strategy) -> None:
        super().__init__(inner.strategy_id, inner.instruments)
        self.inner = inner
        self.orders: list[tuple] = []
        self.seen: list[tuple] = []
        self.ctx: Any = None

    def _wrap(self, ctx: StrategyContext) -> Any:
        if self.ctx is None:
            self.ctx = _Recording(ctx, self.orders)
            ctx.set_timer(TIMER_NS)
        return self.ctx

    def on_start(self, ctx: StrategyContext) -> None:
        self.inner.on_start(ctx)

    def on_book(self, ctx: StrategyContext, instrument_id: InstrumentId, book: OrderBook) -> None:
        self.seen.append(("book", ctx.now(), book.depth(5)))
        self.inner.on_book(self._wrap(ctx), instrument_id, book)

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> None:
        self.seen.append(("quote", ctx.now(), quote.bid_ticks, quote.bid_lots, quote.ask_ticks, quote.ask_lots))
        self.inner.on_quote(self._wrap(ctx), quote)

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> None:
        self.seen.append(("trade", ctx.now(), trade.price_ticks, trade.size_lots, trade.aggressor))
        self.inner.on_trade(self._wrap(ctx), trade)

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.seen.append(("fill", ctx.now(), *_fill(fill)))
        self.inner.on_fill(self._wrap(ctx), fill)

    def on_order_update(self, ctx: StrategyContext, report: ExecutionReport) -> None:
        if report.status is not OrderStatus.NEW:  # the OMS's "accepted" has no backtest counterpart
            self.seen.append(("update", ctx.now(), report.client_order_id, report.status, report.filled_lots))
        self.inner.on_order_update(self._wrap(ctx), report)

    def on_reject(self, ctx: StrategyContext, reject: OrderRejected) -> None:
        self.seen.append(("reject", ctx.now(), reject.client_order_id, reject.request, reject.reason))
        self.inner.on_reject(self._wrap(ctx), reject)

    def on_timer(self, ctx: StrategyContext, now_ns: int) -> None:
        self.seen.append(("timer", ctx.now(), now_ns))
        self._wrap(ctx).cancel_all()
        self.inner.on_timer(self._wrap(ctx), now_ns)

    def on_stop(self, ctx: StrategyContext) -> None:
        self.inner.on_stop(self._wrap(ctx))


def _fill(fill: Fill) -> tuple:
    return (fill.client_order_id, fill.side, fill.price_ticks, fill.size_lots, fill.liquidity, fill.fee)


def _venue_orders(record: VenueRecord) -> list[tuple]:
    return [
        (o.client_order_id, o.side, o.order_type, o.time_in_force, o.quantity_lots, o.price_ticks, o.filled_lots,
         o.status, o.ts_accepted, o.ts_last)
        for o in record.orders
    ]  # fmt: skip


def _venue_fills(record: VenueRecord, session: str) -> list[tuple]:
    # trade ids are "<SYMBOL>-<session><n>": the paper venue's session prefix is its start time
    return [(*_fill(f), f.trade_id.replace(session, "", 1), f.ts_event) for f in record.fills]


def run_backtest_side(
    sample_data_dir: Path, registry: InstrumentRegistry, params: QuotingParams
) -> tuple[Recorded, VenueRecord]:
    usdm = registry.get(USDM_BTC)
    events = list(capture_events([sample_data_dir / CAPTURE], registry, venue=usdm.id.venue, max_lines=LINES))
    strategy = Recorded(QuotingStrategy("mm", [usdm.id], params))
    engine = BacktestEngine(strategy, [usdm], BacktestConfig(matching="book", time_key="ts_recv"))
    engine.run(events)
    return strategy, engine.matchers[usdm.id].venue.record()  # type: ignore[attr-defined]


def run_paper_side(settings: Settings, tmp_path: Path, params: QuotingParams) -> tuple[Recorded, VenueRecord, Any]:
    config = parse_run_config(
        {
            "run": {
                "name": "parity",
                "transport": "inproc",
                "run_dir": str(tmp_path / "run"),
                "keys_dir": str(tmp_path / "keys"),
            },
            "venue": {"capture": str(CAPTURE), "mirror": str(USDM_BTC), "max_lines": LINES},
            "oms": {"metrics_port": 0, "snapshot_interval_s": 0},
            # The backtester has no pre-trade risk: limits that bind on paper (the OMS refuses an
            # order crossing our own quote while its cancel is in flight) are a known difference,
            # not a parity bug. The test checks below that the OMS refused nothing.
            "risk": {"self_trade_prevention": False},
        }
    )
    strategy = Recorded(QuotingStrategy("mm", [SIM_BTC], params))
    desk = LockstepDesk(config, settings, strategies=[strategy])
    desk.start()
    desk.run()
    record = desk.close()
    return strategy, record, desk


@pytest.mark.parametrize(
    "skew",
    # 0.5 includes a self-trade (a new buy crosses our own resting sell): the venue reports two fills
    # under one trade id, one per order, and both must reach the OMS and the strategy.
    [0.25, 0.5],
    ids=["skew_0.25", "skew_0.5_self_trade"],
)
def test_backtest_full_book_and_lockstep_paper_give_identical_orders_and_fills(
    settings: Settings, sample_data_dir: Path, tmp_path: Path, skew: float
) -> None:
    registry = InstrumentRegistry(binance_instruments())
    params = quoting(skew)
    started = time.perf_counter()
    backtest, bt_record = run_backtest_side(sample_data_dir, registry, params)
    bt_seconds = time.perf_counter() - started
    paper, paper_record, desk = run_paper_side(settings, tmp_path, params)
    paper_seconds = time.perf_counter() - started - bt_seconds

    # the paper desk agrees with itself: the OMS applied every fill the venue made, once
    oms_fills = sorted((f.client_order_id, f.trade_id) for f in desk.oms.oms.fills())
    assert oms_fills == sorted((f.client_order_id, f.trade_id) for f in paper_record.fills)

    # what the strategy did and was told
    assert len(backtest.orders) > 300, "the strategy must trade for parity to mean anything"
    assert paper.orders == backtest.orders
    fills = [_fill(f) for f in backtest.ctx.state.fills]
    maker = sum(f[4] is LiquiditySide.MAKER for f in fills)
    assert maker > 50 and len(fills) - maker > 50, "the strategy must both rest quotes and cross the spread"
    assert [_fill(f) for f in paper.ctx.state.fills] == fills
    assert paper.seen == backtest.seen  # every callback, in order, at the same time, with the same book
    refused = {k: n for k, n in desk.oms.oms.counters.items() if k.startswith("rejected.")}
    assert not refused, f"the OMS's risk checks refused orders the backtest has no risk layer for: {refused}"

    # what the venue holds: every order (final state), every fill, with the same times and trade ids
    session = desk.venue.venue.session
    assert _venue_orders(paper_record) == _venue_orders(bt_record)
    assert _venue_fills(paper_record, session) == _venue_fills(bt_record, "")
    assert paper_record.net_positions() == {str(SIM_BTC): sum(bt_record.net_positions().values())}
    assert not [o for o in paper_record.orders if o.status.is_open], "on_stop cancels every quote"
    print(
        f"parity: {desk.steps} steps, {len(backtest.orders)} orders, {len(fills)} fills, "
        f"{len(backtest.seen)} callbacks; backtest {bt_seconds:.1f} s, paper lockstep {paper_seconds:.1f} s"
    )
