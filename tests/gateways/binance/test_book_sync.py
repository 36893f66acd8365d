"""Binance local order-book sync: the documented sequencing rules, then the real captures."""

from __future__ import annotations

from pathlib import Path

import pytest

from jtrader.domain import BookDelta, BookSnapshot, InstrumentRegistry, Quote, Venue
from jtrader.domain.errors import InvalidValue
from jtrader.gateways.binance.book_sync import BinanceBookSync, SyncState
from jtrader.gateways.binance.instruments import binance_instruments
from jtrader.gateways.binance.parsing import BinanceCaptureParser, detect_binance_venue, iter_capture

REGISTRY = InstrumentRegistry(binance_instruments())
SPOT = REGISTRY.find("BTCUSDT", "binance")
USDM = REGISTRY.find("BTCUSDT", "binance_usdm")


def snapshot(instrument=USDM, last_update_id: int = 100, bids=((100, 5),), asks=((102, 5),)) -> BookSnapshot:
    return BookSnapshot(instrument.id, list(bids), list(asks), last_update_id, 1, 1)


def delta(first: int, last: int, prev: int = -1, bids=(), asks=(), instrument=USDM) -> BookDelta:
    return BookDelta(instrument.id, list(bids), list(asks), first, last, prev, 1, 1)


def futures_sync() -> BinanceBookSync:
    return BinanceBookSync(USDM, futures=True)


def spot_sync() -> BinanceBookSync:
    return BinanceBookSync(SPOT, futures=False)


# -- hand-built sequences ----------------------------------------------------------------


def test_diffs_before_the_snapshot_are_buffered_then_replayed_in_order() -> None:
    sync = futures_sync()
    assert not sync.on_delta(delta(90, 95, 89, bids=[(99, 1)]))  # stale once the snapshot (100) arrives
    assert not sync.on_delta(delta(96, 104, 95, bids=[(101, 3)]))  # straddles 100
    assert not sync.on_delta(delta(105, 110, 104, asks=[(102, 0), (103, 2)]))
    assert sync.buffered == 3 and not sync.is_valid
    sync.on_snapshot(snapshot())
    assert sync.is_valid
    assert (sync.stale_dropped, sync.applied, sync.gaps) == (1, 2, 0)
    assert sync.book.best_bid() == (101, 3)
    assert sync.book.best_ask() == (103, 2)
    assert sync.book.bid_size(99) == 0  # the stale diff was not applied
    assert sync.last_update_id == 110


def test_futures_drops_diffs_with_u_below_last_update_id_but_applies_u_equal_to_it() -> None:
    sync = futures_sync()
    sync.on_snapshot(snapshot(last_update_id=100))
    assert not sync.on_delta(delta(95, 99, 94))
    assert sync.stale_dropped == 1
    assert sync.on_delta(delta(99, 100, 98, bids=[(101, 1)]))  # U <= 100 <= u: straddles
    assert sync.is_valid and sync.state is SyncState.SYNCED


def test_spot_drops_diffs_with_u_at_last_update_id_and_needs_the_next_id_straddled() -> None:
    sync = spot_sync()
    sync.on_snapshot(snapshot(SPOT, last_update_id=100))
    assert not sync.on_delta(delta(95, 100, instrument=SPOT))  # u <= lastUpdateId: stale on spot
    assert sync.stale_dropped == 1
    assert sync.on_delta(delta(101, 105, bids=[(101, 1)], instrument=SPOT))  # U <= 101 <= u
    assert sync.is_valid


def test_futures_first_diff_after_the_snapshot_id_is_a_gap() -> None:
    sync = futures_sync()
    sync.on_snapshot(snapshot(last_update_id=100))
    assert not sync.on_delta(delta(101, 105, 100))  # U > lastUpdateId: updates 100..101 lost
    assert sync.gaps == 1 and not sync.is_valid


def test_spot_first_diff_starting_past_the_next_id_is_a_gap() -> None:
    sync = spot_sync()
    sync.on_snapshot(snapshot(SPOT, last_update_id=100))
    assert not sync.on_delta(delta(102, 105, instrument=SPOT))
    assert sync.gaps == 1 and not sync.is_valid


def test_futures_pu_not_equal_to_previous_u_is_a_gap_and_book_stays_invalid_until_next_snapshot() -> None:
    sync = futures_sync()
    sync.on_snapshot(snapshot(last_update_id=100))
    assert sync.on_delta(delta(99, 103, 98))
    assert not sync.on_delta(delta(107, 110, 105, bids=[(101, 9)]))  # pu 105 != 103
    assert sync.gaps == 1 and not sync.is_valid
    assert not sync.on_delta(delta(111, 115, 110))  # continuous again, but the book is already wrong
    assert not sync.is_valid and sync.buffered == 2
    sync.on_snapshot(snapshot(last_update_id=112, bids=[(100, 1)]))
    assert sync.is_valid
    assert sync.last_update_id == 115
    assert sync.book.best_bid() == (100, 1)  # the diff before the new snapshot was dropped as stale
    assert sync.gaps == 1


def test_spot_first_id_not_following_previous_last_id_is_a_gap() -> None:
    sync = spot_sync()
    sync.on_snapshot(snapshot(SPOT, last_update_id=100))
    assert sync.on_delta(delta(100, 104, instrument=SPOT))
    assert sync.on_delta(delta(105, 106, instrument=SPOT))
    assert not sync.on_delta(delta(108, 109, instrument=SPOT))
    assert sync.gaps == 1 and not sync.is_valid


def test_spot_rule_ignores_pu_and_futures_rule_ignores_first_id() -> None:
    spot = spot_sync()
    spot.on_snapshot(snapshot(SPOT, last_update_id=100))
    assert spot.on_delta(delta(101, 102, prev=-1, instrument=SPOT))
    assert spot.on_delta(delta(103, 104, prev=7, instrument=SPOT))
    futures = futures_sync()
    futures.on_snapshot(snapshot(last_update_id=100))
    assert futures.on_delta(delta(90, 102, 89))
    assert futures.on_delta(delta(110, 120, 102))  # U jumps, but pu == previous u: continuous
    assert spot.gaps == futures.gaps == 0


def test_duplicate_diff_after_sync_is_dropped_as_stale_not_a_gap() -> None:
    sync = futures_sync()
    sync.on_snapshot(snapshot(last_update_id=100))
    assert sync.on_delta(delta(99, 103, 98, bids=[(101, 1)]))
    assert not sync.on_delta(delta(99, 103, 98, bids=[(101, 1)]))
    assert (sync.stale_dropped, sync.gaps, sync.applied) == (1, 0, 1)
    assert sync.is_valid


def test_crossed_book_is_counted_and_never_valid_until_it_uncrosses() -> None:
    sync = futures_sync()
    sync.on_snapshot(snapshot(last_update_id=100, bids=[(100, 5)], asks=[(102, 5)]))
    assert sync.on_delta(delta(99, 101, 98, bids=[(103, 1)]))
    assert sync.crossed == 1 and not sync.is_valid and sync.book.is_crossed()
    assert sync.on_delta(delta(102, 102, 101, bids=[(103, 0)]))
    assert sync.crossed == 1 and sync.is_valid


def test_a_full_buffer_drops_its_oldest_diff_and_counts_it() -> None:
    sync = BinanceBookSync(USDM, futures=True, max_buffer=2)
    for i in range(3):
        sync.on_delta(delta(i, i, i - 1))
    assert sync.buffered == 2 and sync.buffer_dropped == 1


def test_events_of_another_instrument_are_refused() -> None:
    sync = futures_sync()
    with pytest.raises(InvalidValue, match="fed to the book"):
        sync.on_snapshot(snapshot(SPOT))
    with pytest.raises(InvalidValue, match="fed to the book"):
        sync.on_delta(delta(1, 2, 0, instrument=SPOT))


# -- the real captures -------------------------------------------------------------------

STREAMS = {
    "spot/btcusdt": ["spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"],
    "spot/ethusdt": ["spot/ethusdt_20240808.gz", "spot/ethusdt_20240809.gz"],
    "usdm/btcusdt": ["usdm/btcusdt_20240808.gz"],
    "usdm/ethusdt": ["usdm/ethusdt_20240808.gz"],
    "cm/btcusd_perp": ["cm/btcusd_perp_20240808.gz", "cm/btcusd_perp_20240809.gz"],
    "cm/ethusd_perp": ["cm/ethusd_perp_20240808.gz", "cm/ethusd_perp_20240809.gz"],
}


@pytest.mark.slow
@pytest.mark.parametrize("stream", list(STREAMS))
def test_real_capture_replays_without_gaps_or_crossing_and_matches_book_ticker(
    sample_data_dir: Path, stream: str
) -> None:
    files = [sample_data_dir / "binance" / name for name in STREAMS[stream]]
    venue = detect_binance_venue(files[0])
    sync: BinanceBookSync | None = None
    tickers: dict[int, tuple[int, int, int, int]] = {}
    books: dict[int, tuple[int, int, int, int]] = {}
    deltas = 0
    for path in files:  # the *_20240809 file continues without a snapshot: one sync object for both
        parser = BinanceCaptureParser(REGISTRY, venue)
        for line_no, line in iter_capture(path):
            for event in parser.parse_line(line, line_no):
                if isinstance(event, Quote):
                    tickers[event.update_id] = (event.bid_ticks, event.bid_lots, event.ask_ticks, event.ask_lots)
                elif isinstance(event, BookDelta | BookSnapshot):
                    if sync is None:
                        sync = BinanceBookSync(REGISTRY.get(event.instrument_id), futures=venue is not Venue.BINANCE)
                    deltas += isinstance(event, BookDelta)
                    if sync.on_event(event) and isinstance(event, BookDelta):
                        bid, ask = sync.book.best_bid(), sync.book.best_ask()
                        assert bid is not None and ask is not None
                        books[event.last_update_id] = (*bid, *ask)
    assert sync is not None
    assert (sync.gaps, sync.crossed, sync.buffered) == (0, 0, 0)
    assert sync.is_valid
    assert sync.applied + sync.stale_dropped == deltas
    # Where a bookTicker and an applied diff end at the same update id, the local
    # book's top (price and size) must be exactly the venue's best bid and offer.
    common = sorted(set(tickers) & set(books))
    assert len(common) > 400
    assert [(u, tickers[u]) for u in common] == [(u, books[u]) for u in common]
