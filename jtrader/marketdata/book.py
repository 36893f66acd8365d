"""A generic level-2 order book on instrument ticks and lots.

Each side is a dict ``price ticks -> size lots`` (O(1) updates) with a heap of
prices beside it, so reading the best level is O(1) amortised: prices deleted
from the dict are popped from the heap lazily when they reach its top, and the
heap is rebuilt when stale entries outnumber live ones. Levels with size 0 are
deletions and are never stored.

The book does no sequencing: venue rules (update ids, gaps, snapshots) live
in the venue's gateway (e.g. :class:`jtrader.gateways.binance.book_sync.BinanceBookSync`).
It raises nothing for bad data: it stores what it is told, and
:meth:`OrderBook.is_crossed` reports a book that cannot be right.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from jtrader.domain.data import Level

__all__ = ["OrderBook"]

_SLACK = 64  # stale heap entries tolerated beyond the live levels before a rebuild


class OrderBook:
    """Price levels of one instrument, in ticks and lots.

    Example::

        >>> book = OrderBook()
        >>> book.apply_snapshot([(100, 5), (99, 7)], [(101, 3)], last_update_id=10)
        >>> book.apply_levels([(100, 0)], [(102, 4)])
        >>> book.best_bid(), book.best_ask(), book.mid()
        ((99, 7), (101, 3), 100.0)
    """

    __slots__ = ("_ask_heap", "_asks", "_bid_heap", "_bids", "last_update_id")

    def __init__(self) -> None:
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bid_heap: list[int] = []  # negated prices: heapq is a min-heap
        self._ask_heap: list[int] = []
        self.last_update_id = 0

    # -- updates ---------------------------------------------------------------

    def clear(self) -> None:
        """Remove every level."""
        self._bids.clear()
        self._asks.clear()
        self._bid_heap.clear()
        self._ask_heap.clear()

    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level], last_update_id: int = 0) -> None:
        """Replace the whole book with these levels (size-0 levels are ignored)."""
        self._bids = {price: size for price, size in bids if size}
        self._asks = {price: size for price, size in asks if size}
        self._bid_heap = [-price for price in self._bids]
        self._ask_heap = list(self._asks)
        heapq.heapify(self._bid_heap)
        heapq.heapify(self._ask_heap)
        self.last_update_id = last_update_id

    def apply_levels(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Set each level's size; a size of 0 deletes the level (deleting an absent level is a no-op)."""
        book, heap = self._bids, self._bid_heap
        for price, size in bids:
            if size:
                if price not in book:
                    heapq.heappush(heap, -price)
                book[price] = size
            else:
                book.pop(price, None)
        if len(heap) > 2 * len(book) + _SLACK:
            self._bid_heap = heap = [-price for price in book]
            heapq.heapify(heap)
        book, heap = self._asks, self._ask_heap
        for price, size in asks:
            if size:
                if price not in book:
                    heapq.heappush(heap, price)
                book[price] = size
            else:
                book.pop(price, None)
        if len(heap) > 2 * len(book) + _SLACK:
            self._ask_heap = heap = list(book)
            heapq.heapify(heap)

    # -- reads -----------------------------------------------------------------

    def best_bid(self) -> Level | None:
        """The highest bid as ``(price ticks, size lots)``, or None if there are no bids."""
        heap, book = self._bid_heap, self._bids
        while heap:
            price = -heap[0]
            size = book.get(price)
            if size is not None:
                return price, size
            heapq.heappop(heap)
        return None

    def best_ask(self) -> Level | None:
        """The lowest ask as ``(price ticks, size lots)``, or None if there are no asks."""
        heap, book = self._ask_heap, self._asks
        while heap:
            price = heap[0]
            size = book.get(price)
            if size is not None:
                return price, size
            heapq.heappop(heap)
        return None

    def is_crossed(self) -> bool:
        """True if the best bid is at or above the best ask (crossed or locked): the book is wrong."""
        bid = self.best_bid()
        if bid is None:
            return False
        ask = self.best_ask()
        return ask is not None and bid[0] >= ask[0]

    def mid(self) -> float | None:
        """The mid price in ticks (a half tick when the spread is odd), or None if a side is empty."""
        bid = self.best_bid()
        ask = self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid[0] + ask[0]) / 2

    def spread(self) -> int | None:
        """Best ask minus best bid in ticks, or None if a side is empty."""
        bid = self.best_bid()
        ask = self.best_ask()
        if bid is None or ask is None:
            return None
        return ask[0] - bid[0]

    def depth(self, n: int) -> tuple[list[Level], list[Level]]:
        """The best ``n`` levels of each side: bids highest first, asks lowest first."""
        bids = heapq.nlargest(n, self._bids.items())
        asks = heapq.nsmallest(n, self._asks.items())
        return bids, asks

    def bid_size(self, price: int) -> int:
        """The size at a bid price in lots (0 if there is no such level)."""
        return self._bids.get(price, 0)

    def ask_size(self, price: int) -> int:
        """The size at an ask price in lots (0 if there is no such level)."""
        return self._asks.get(price, 0)

    @property
    def bid_levels(self) -> int:
        return len(self._bids)

    @property
    def ask_levels(self) -> int:
        return len(self._asks)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def __repr__(self) -> str:
        return (
            f"OrderBook(bid={self.best_bid()}, ask={self.best_ask()}, levels={self.bid_levels}/{self.ask_levels}, "
            f"last_update_id={self.last_update_id})"
        )
