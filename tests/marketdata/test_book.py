"""The generic L2 order book: levels in ticks and lots, best levels, depth, crossing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jtrader.marketdata.book import OrderBook


def book_with(bids=((100, 5), (99, 7), (97, 1)), asks=((101, 3), (103, 2))) -> OrderBook:
    book = OrderBook()
    book.apply_snapshot(list(bids), list(asks), last_update_id=7)
    return book


def test_snapshot_sets_best_levels_and_update_id() -> None:
    book = book_with()
    assert book.best_bid() == (100, 5)
    assert book.best_ask() == (101, 3)
    assert book.last_update_id == 7
    assert (book.bid_levels, book.ask_levels, len(book)) == (3, 2, 5)


def test_snapshot_replaces_the_previous_book_entirely() -> None:
    book = book_with()
    book.apply_snapshot([(50, 1)], [(60, 1)], last_update_id=8)
    assert book.best_bid() == (50, 1) and book.best_ask() == (60, 1)
    assert book.bid_size(100) == 0 and len(book) == 2


def test_zero_size_deletes_the_level_and_the_next_best_takes_over() -> None:
    book = book_with()
    book.apply_levels([(100, 0)], [(101, 0)])
    assert book.best_bid() == (99, 7)
    assert book.best_ask() == (103, 2)


def test_deleting_an_absent_level_changes_nothing() -> None:
    book = book_with()
    book.apply_levels([(42, 0)], [(420, 0)])
    assert book.depth(10) == ([(100, 5), (99, 7), (97, 1)], [(101, 3), (103, 2)])


def test_new_better_level_becomes_best_and_size_updates_in_place() -> None:
    book = book_with()
    book.apply_levels([(100, 9)], [(102, 4)])
    assert book.best_bid() == (100, 9)
    book.apply_levels([], [(100, 0), (100, 8)])  # later entries win within one update
    assert book.best_ask() == (100, 8)


def test_level_deleted_and_re_added_is_best_again() -> None:
    book = book_with()
    book.apply_levels([(100, 0)], [])
    book.apply_levels([(100, 2)], [])
    assert book.best_bid() == (100, 2)


def test_empty_sides_report_none() -> None:
    book = OrderBook()
    assert book.best_bid() is None and book.best_ask() is None
    assert book.mid() is None and book.spread() is None
    assert not book.is_crossed()
    book.apply_levels([(10, 1)], [])
    assert book.mid() is None and not book.is_crossed()


def test_mid_and_spread_are_in_ticks() -> None:
    book = book_with()
    assert book.spread() == 1
    assert book.mid() == 100.5


def test_crossed_and_locked_books_are_reported() -> None:
    book = book_with()
    book.apply_levels([(101, 1)], [])
    assert book.is_crossed()  # locked: bid == ask
    book.apply_levels([(101, 0), (102, 1)], [])
    assert book.is_crossed()
    book.apply_levels([(102, 0)], [])
    assert not book.is_crossed()


def test_depth_lists_bids_descending_and_asks_ascending() -> None:
    book = book_with()
    assert book.depth(2) == ([(100, 5), (99, 7)], [(101, 3), (103, 2)])
    assert book.depth(0) == ([], [])


def test_many_add_delete_cycles_keep_the_heap_bounded() -> None:
    book = book_with()
    for _ in range(10_000):
        book.apply_levels([(98, 1)], [(102, 1)])
        book.apply_levels([(98, 0)], [(102, 0)])
    assert len(book._bid_heap) <= 2 * book.bid_levels + 64 + 1
    assert len(book._ask_heap) <= 2 * book.ask_levels + 64 + 1
    assert book.best_bid() == (100, 5) and book.best_ask() == (101, 3)


levels = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 3)), max_size=12)


@settings(max_examples=200)
@given(snapshot_bids=levels, snapshot_asks=levels, updates=st.lists(st.tuples(levels, levels), max_size=40))
def test_book_matches_a_plain_dict_model_after_any_updates(snapshot_bids, snapshot_asks, updates) -> None:
    book = OrderBook()
    book.apply_snapshot(snapshot_bids, snapshot_asks)
    model_bids = {p: s for p, s in snapshot_bids if s}
    model_asks = {p: s for p, s in snapshot_asks if s}
    for bids, asks in updates:
        book.apply_levels(bids, asks)
        for model, side in ((model_bids, bids), (model_asks, asks)):
            for price, size in side:
                if size:
                    model[price] = size
                else:
                    model.pop(price, None)
        best_bid = max(model_bids.items(), default=None)
        best_ask = min(model_asks.items(), default=None)
        assert book.best_bid() == best_bid
        assert book.best_ask() == best_ask
    assert book.depth(5) == (sorted(model_bids.items(), reverse=True)[:5], sorted(model_asks.items())[:5])
