"""Replaying a real Binance capture slice as the simulated venue's book: mirroring, fills, determinism, sources."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec
import pytest

from jtrader.bus.messages import VenueFill
from jtrader.domain import BookDelta, BookSnapshot, InstrumentId, LiquiditySide, OrderStatus, Trade
from jtrader.gateways.binance.book_sync import BinanceBookSync
from jtrader.gateways.sim import (
    BookStep,
    MarketReplay,
    ReplayClock,
    ReplayFeed,
    SimConfigError,
    SimVenue,
    TradeStep,
    capture_events,
    mirror_instrument,
    parse_config,
)
from jtrader.ingest.columns import EventColumns
from jtrader.storage.lake import Lake, PartitionKey
from tests.gateways.sim.builders import (
    BUY,
    CAPTURE,
    REGISTRY,
    SELL,
    SIM_BTC,
    SLICE_LINES,
    USDM_BTC,
    Clock,
    submit,
)

pytestmark = pytest.mark.timeout(120)

A = "acct-a"


@pytest.fixture(scope="module")
def capture(sample_data_dir: Path) -> Path:
    return sample_data_dir / CAPTURE


def replay_of(capture: Path, *, trades: bool = True, lines: int = SLICE_LINES) -> tuple[SimVenue, MarketReplay]:
    clock = ReplayClock(speed=0)
    venue = SimVenue([SIM_BTC], clock.now)
    feed = ReplayFeed.from_captures([capture], REGISTRY, USDM_BTC, SIM_BTC, max_lines=lines, trades=trades)
    return venue, MarketReplay(venue, [feed], clock)


def recorded_tops(capture: Path) -> dict[int, tuple]:
    """The capture's own book top after each applied depth event, by receive time (Binance's sync rules)."""
    sync = BinanceBookSync(USDM_BTC, futures=True)
    tops = {}
    for event in capture_events([capture], REGISTRY, max_lines=SLICE_LINES):
        if isinstance(event, BookDelta | BookSnapshot) and sync.on_event(event):
            tops[event.ts_recv] = (sync.book.best_bid(), sync.book.best_ask(), sync.book.depth(10))
    return tops


@pytest.mark.parametrize("trades", [True, False], ids=["with_trades", "levels_only"])
def test_sim_book_top_equals_the_capture_book_top_after_each_applied_diff(capture: Path, trades: bool) -> None:
    expected = recorded_tops(capture)
    venue, replay = replay_of(capture, trades=trades)
    engine = venue.engine(SIM_BTC.id)
    checked = 0
    while not replay.exhausted:
        step = replay._next
        replay.step()
        if isinstance(step, BookStep):
            best_bid, best_ask, depth = expected[step.ts]
            assert (engine.best_bid(), engine.best_ask()) == (best_bid, best_ask), step.ts
            assert engine.depth(10) == depth, step.ts
            checked += 1
    assert checked == len(expected) > 150  # every applied diff of the slice (and its snapshot)
    assert replay.counters["steps"] > 400


@pytest.mark.parametrize(
    ("price", "rule"),
    [(618_030, "level_crosses"), (618_094, "trade_through"), (618_095, "trade_at_price_after_queue")],
)
def test_resting_order_fills_at_its_price_when_the_replayed_market_trades_through_it(
    capture: Path, price: int, rule: str
) -> None:
    venue, replay = replay_of(capture)
    while not isinstance(replay._next, BookStep):  # up to the snapshot: the book exists from here
        replay.step()
    replay.step()
    best_ask = venue.engine(SIM_BTC.id).best_ask()
    assert best_ask is not None and best_ask[0] == 618_003
    acked = venue.handle(submit("s1", SELL, 5, price, instrument=SIM_BTC.id), A).to(A)
    assert [type(e).__name__ for e in acked] == ["VenueAck"]
    fills, steps = [], []
    while not replay.exhausted:
        step = replay._next
        out = replay.step()
        got = [e.fill for e in out.to(A) if isinstance(e, VenueFill)]
        fills += got
        steps += [step] * len(got)
    assert sum(f.size_lots for f in fills) == 5
    assert {(f.price_ticks, f.liquidity) for f in fills} == {(price, LiquiditySide.MAKER)}
    assert all(f.fee == venue.engine(SIM_BTC.id).fee(price, f.size_lots, LiquiditySide.MAKER) for f in fills)
    assert venue.order(A, "s1").status is OrderStatus.FILLED
    if rule == "level_crosses":  # the recorded bids rose to our ask: filled whole at once
        assert len(fills) == 1 and isinstance(steps[0], BookStep) and max(p for p, _ in steps[0].bids) >= price
    elif rule == "trade_through":  # a recorded buy printed above our ask
        assert isinstance(steps[0], TradeStep) and steps[0].price_ticks > price and steps[0].aggressor is BUY
    else:  # recorded buys at exactly our price filled us only with what the anonymous queue ahead left
        assert len(fills) > 1
        assert all(isinstance(s, TradeStep) and s.price_ticks == price for s in steps)
        assert all(f.size_lots < s.size_lots for f, s in zip(fills, steps, strict=True))


def test_same_capture_and_same_commands_at_the_same_times_give_identical_events(capture: Path) -> None:
    def run() -> bytes:
        venue, replay = replay_of(capture)
        start = replay.next_ts()
        assert start is not None
        log = []
        commands = [
            (start + 400_000_000, submit("b1", SELL, 3, 618_030, instrument=SIM_BTC.id)),
            (start + 900_000_000, submit("m1", SELL, 7, instrument=SIM_BTC.id)),
            (start + 2_000_000_000, submit("b2", SELL, 40, 618_060, instrument=SIM_BTC.id)),
        ]
        for ts, command in commands:
            out = replay.run_until(ts)
            log.append((out.private, out.public))
            out = venue.handle(command, A)
            log.append((out.private, out.public))
        out = replay.run_until(2**62)
        log.append((out.private, out.public))
        return msgspec.msgpack.encode([log, venue.record()])

    first, second = run(), run()
    assert first == second
    assert b"venue_fill" in first


def test_replay_clock_paces_recorded_time_by_speed_or_runs_at_once() -> None:
    wall = Clock(10_000)
    paced = ReplayClock(speed=2.0, wall=wall)
    assert paced.delay_ns(1_000_000) == 0  # the first step anchors the pace
    assert paced.delay_ns(1_000_000 + 4_000) == 2_000  # 4 us recorded at x2: due 2 us later
    wall.tick(2_000)
    assert paced.delay_ns(1_000_000 + 4_000) == 0 and paced.now() == 12_000
    fast = ReplayClock(speed=0)
    assert fast.delay_ns(5) == 0
    fast.advance(1_723_161_255_000_000_000)
    fast.advance(5)  # time never goes back
    assert fast.now() == 1_723_161_255_000_000_000


def test_looped_replay_starts_again_with_time_moving_forward(capture: Path) -> None:
    clock = ReplayClock(speed=0)
    venue = SimVenue([SIM_BTC], clock.now)
    feed = ReplayFeed.from_captures([capture], REGISTRY, USDM_BTC, SIM_BTC, max_lines=200)
    replay = MarketReplay(venue, [feed], clock, loop=True)
    seen = []
    while replay.counters["loops"] < 2:
        seen.append(replay.next_ts())
        replay.step()
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert venue.engine(SIM_BTC.id).best_bid() is not None


def test_bad_capture_lines_are_counted_and_skipped(tmp_path: Path, capture: Path) -> None:
    lines = []
    with gzip.open(capture, "rb") as handle:
        for _ in range(120):
            lines.append(handle.readline())
    lines.insert(60, b"not a capture line\n")
    lines.insert(61, b'1723161255319702999 {"stream":"btcusdt@trade","data":{"e":"trade","p":"NaN"}}\n')
    bad = tmp_path / "usdm" / "btcusdt_bad.gz"
    bad.parent.mkdir()
    bad.write_bytes(gzip.compress(b"".join(lines)))
    feed = ReplayFeed.from_captures([bad], REGISTRY, USDM_BTC, SIM_BTC)
    steps = list(feed.steps())
    assert feed.counters["malformed"] == 2
    assert any(isinstance(s, BookStep) for s in steps) and any(isinstance(s, TradeStep) for s in steps)


def test_lake_replay_moves_the_book_exactly_like_the_capture(tmp_path: Path, capture: Path) -> None:
    columns = EventColumns()
    for event in capture_events([capture], REGISTRY, max_lines=SLICE_LINES):
        if isinstance(event, Trade):
            columns.add_trade(USDM_BTC, event)
        elif isinstance(event, BookDelta):
            columns.add_delta(USDM_BTC, event)
        else:
            columns.add_snapshot(USDM_BTC, event)
    lake = Lake(tmp_path / "lake")
    import datetime as dt

    for (dataset, _), buffer in columns.buffers.items():
        for day, table in buffer.tables_by_date():
            key = PartitionKey(dataset, "binance_usdm", "BTCUSDT", dt.date(1970, 1, 1) + dt.timedelta(days=day))
            lake.write_partition(key, table, "slice")

    def tops(feed: ReplayFeed) -> list:
        clock = ReplayClock(speed=0)
        venue = SimVenue([SIM_BTC], clock.now)
        replay = MarketReplay(venue, [feed], clock)
        out = []
        while not replay.exhausted:
            replay.step()
            engine = venue.engine(SIM_BTC.id)
            out.append((engine.best_bid(), engine.best_ask()))
        return out

    from_lake = tops(ReplayFeed.from_lake(lake, USDM_BTC, SIM_BTC))
    from_capture = tops(ReplayFeed.from_captures([capture], REGISTRY, USDM_BTC, SIM_BTC, max_lines=SLICE_LINES))
    assert from_lake == from_capture and len(from_lake) > 400


def test_feed_refuses_a_simulated_instrument_with_other_ticks() -> None:
    other = mirror_instrument(REGISTRY.get(InstrumentId.parse("ETHUSDT.binance_usdm")), "BTCUSDT")
    with pytest.raises(ValueError, match="tick and lot"):
        ReplayFeed(lambda: [], USDM_BTC, other)


def test_config_refuses_unknown_keys_and_names_what_is_wrong() -> None:
    with pytest.raises(SimConfigError, match="speeed"):
        parse_config({"speeed": 2})
    with pytest.raises(SimConfigError, match="exactly one"):
        parse_config({"markets": [{"mirror": "BTCUSDT.binance_usdm", "replay": {}}]})
    with pytest.raises(SimConfigError, match="go together"):
        parse_config({"curve_secret_key": "k"})
    config = parse_config({"markets": [{"mirror": "BTCUSDT.binance_usdm"}]})
    ((real, sim),) = config.instruments(REGISTRY)
    assert str(sim.id) == "BTCUSDT.sim" and (sim.maker_fee, sim.taker_fee) == (real.maker_fee, real.taker_fee)
    with pytest.raises(SimConfigError, match="unknown instrument"):
        parse_config({"markets": [{"mirror": "NOPE.binance_usdm"}]}).instruments(REGISTRY)
