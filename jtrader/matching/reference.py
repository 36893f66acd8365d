"""The matching rules in plain Python: a small, obviously correct book to test the kernel against.

:class:`ReferenceBook` takes the same command rows as the compiled kernel and
returns the same event rows (tuples in :data:`~jtrader.matching.EVENT_DTYPE`
field order). It favours plainness over speed: a level is a Python list in
arrival order, the best price is ``min``/``max`` over a dict, pending stops
are a list sorted when they trigger. It has no price ladder, so it never
rejects a price for being too far from the book (``max_levels``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from jtrader.matching import _core as k

__all__ = ["ReferenceBook"]

Event = tuple[int, ...]


class _Entry:
    """One of our orders, or a run of anonymous level size (order id 0)."""

    __slots__ = (
        "anonymous",
        "filled",
        "leaves",
        "order_id",
        "order_type",
        "owner",
        "pending",
        "price",
        "seq",
        "side",
        "tif",
        "trigger",
    )

    def __init__(
        self,
        order_id: int,
        owner: int,
        side: int,
        order_type: int,
        tif: int,
        price: int,
        trigger: int,
        leaves: int,
        seq: int,
        anonymous: bool = False,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.price = price
        self.trigger = trigger
        self.leaves = leaves
        self.filled = 0
        self.seq = seq
        self.anonymous = anonymous
        self.pending = False


def _other(side: int) -> int:
    return k.SELL if side == k.BUY else k.BUY


class ReferenceBook:
    """A price-time-priority book with the engine's rules, in plain Python.

    Example::

        >>> book = ReferenceBook()
        >>> book.apply((k.CMD_SUBMIT, 0, 1, 7, k.SELL, k.LIMIT, k.GTC, 100, 0, 5))[0][0] == k.EV_ACCEPTED
        True
        >>> book.levels(k.SELL)
        [(100, 5, 0)]
    """

    def __init__(self) -> None:
        self.book: dict[int, dict[int, list[_Entry]]] = {k.BUY: {}, k.SELL: {}}  # side -> price -> FIFO
        self.live: dict[int, _Entry] = {}  # resting orders and pending stops by id
        self.stops: list[_Entry] = []
        self.last = 0
        self.trades = 0
        self.seq = 0
        self.commands = 0
        self._events: list[Event] = []
        self._command = 0
        self._ts = 0
        self._hi = 0  # range of trade prices not yet checked against the stops
        self._lo: int | None = None

    # -- commands ----------------------------------------------------------------------------

    def process_batch(self, commands: np.ndarray | Iterable[Sequence[int]]) -> list[Event]:
        """Apply every command in order; return all their events."""
        rows = commands.tolist() if isinstance(commands, np.ndarray) else commands
        events: list[Event] = []
        for row in rows:
            events.extend(self.apply(row))
        return events

    def apply(self, command: Sequence[int]) -> list[Event]:
        """Apply one command row ``(kind, ts, order_id, owner, side, type, tif, price, trigger, lots)``."""
        kind, ts, oid, owner, side, otype, tif, price, trigger, lots = (int(v) for v in command)
        self._events = []
        self._command = self.commands
        self.commands += 1
        self._ts = ts
        if kind == k.CMD_SUBMIT:
            self._submit(command, oid, owner, side, otype, tif, price, trigger, lots)
        elif kind == k.CMD_CANCEL:
            self._cancel(command, oid, owner)
        elif kind == k.CMD_AMEND:
            self._amend(command, oid, owner, price, trigger, lots)
        elif kind == k.CMD_SET_LEVEL:
            self._set_level(command, side, price, lots)
        else:
            self._reject(command, k.R_BAD_COMMAND)
        self._run_stops()
        return self._events

    def _emit(
        self,
        kind: int,
        oid: int,
        owner: int,
        side: int,
        price: int,
        lots: int,
        leaves: int,
        reason: int = 0,
        liq: int = 0,
        trade: int = 0,
        cp_id: int = 0,
        cp_owner: int = 0,
        trigger: int = 0,
        kept: int = 0,
    ) -> None:
        self._events.append(
            (
                kind,
                self._command,
                self._ts,
                oid,
                owner,
                side,
                price,
                lots,
                leaves,
                reason,
                liq,
                trade,
                cp_id,
                cp_owner,
                trigger,
                kept,
            )
        )

    def _order_event(self, kind: int, e: _Entry, lots: int, leaves: int, reason: int = 0, kept: int = 0) -> None:
        self._emit(kind, e.order_id, e.owner, e.side, e.price, lots, leaves, reason, trigger=e.trigger, kept=kept)

    def _reject(self, command: Sequence[int], reason: int) -> None:
        c = [int(v) for v in command]
        self._emit(
            k.EV_REJECTED,
            c[k.C_ID],
            c[k.C_OWNER],
            c[k.C_SIDE],
            c[k.C_PRICE],
            c[k.C_LOTS],
            0,
            reason,
            trigger=c[k.C_TRIGGER],
        )

    def _submit(
        self,
        command: Sequence[int],
        oid: int,
        owner: int,
        side: int,
        otype: int,
        tif: int,
        price: int,
        trigger: int,
        lots: int,
    ) -> None:
        limit_priced = otype in (k.LIMIT, k.STOP_LIMIT)
        stop = otype in (k.STOP_MARKET, k.STOP_LIMIT)
        reason = k.R_NONE
        if oid <= 0:
            reason = k.R_BAD_ORDER_ID
        elif side not in (k.BUY, k.SELL):
            reason = k.R_BAD_SIDE
        elif otype not in (k.LIMIT, k.MARKET, k.STOP_MARKET, k.STOP_LIMIT):
            reason = k.R_BAD_ORDER_TYPE
        elif tif not in (k.GTC, k.IOC, k.FOK, k.POST_ONLY) or (tif == k.POST_ONLY and otype != k.LIMIT):
            reason = k.R_BAD_TIME_IN_FORCE
        elif not 0 < lots <= k.MAX_LOTS:
            reason = k.R_BAD_QUANTITY
        elif limit_priced and not 0 < price <= k.MAX_PRICE:
            reason = k.R_BAD_PRICE
        elif stop and not 0 < trigger <= k.MAX_PRICE:
            reason = k.R_BAD_TRIGGER
        elif oid in self.live:
            reason = k.R_DUPLICATE_ORDER_ID
        elif not stop:
            reason = self._precheck(side, otype, tif, price, lots)
        if reason:
            self._reject(command, reason)
            return
        self.seq += 1
        e = _Entry(oid, owner, side, otype, tif, price if limit_priced else 0, trigger if stop else 0, lots, self.seq)
        self.live[oid] = e
        self._order_event(k.EV_ACCEPTED, e, lots, lots)
        if not stop:
            self._execute(e)
        elif self._reached(e):
            self._trigger(e)
        else:
            e.pending = True
            self.stops.append(e)

    def _cancel(self, command: Sequence[int], oid: int, owner: int) -> None:
        e = self.live.get(oid)
        if e is None or e.owner != owner:
            self._reject(command, k.R_UNKNOWN_ORDER)
            return
        if e.pending:
            self.stops.remove(e)
        else:
            self._remove(e)
        self._order_event(k.EV_CANCELLED, e, e.leaves, 0, k.R_REQUESTED)
        del self.live[oid]

    def _amend(self, command: Sequence[int], oid: int, owner: int, price: int, trigger: int, qty: int) -> None:
        e = self.live.get(oid)
        if e is None or e.owner != owner:
            self._reject(command, k.R_UNKNOWN_ORDER)
            return
        limit_priced = e.order_type in (k.LIMIT, k.STOP_LIMIT)
        new_price = price if price != 0 and limit_priced else e.price
        new_trigger = trigger if trigger != 0 and e.pending else e.trigger
        new_leaves = qty - e.filled
        reason = k.R_NONE
        if not 0 < qty <= k.MAX_LOTS or new_leaves <= 0:
            reason = k.R_BAD_QUANTITY
        elif not 0 <= new_price <= k.MAX_PRICE or (new_price == 0 and limit_priced):
            reason = k.R_BAD_PRICE
        elif not 0 <= new_trigger <= k.MAX_PRICE:
            reason = k.R_BAD_TRIGGER
        elif not e.pending and e.tif == k.POST_ONLY and self._crosses(e.side, new_price):
            reason = k.R_POST_ONLY_WOULD_TAKE
        if reason:
            self._reject(command, reason)
            return
        if new_price == e.price and new_trigger == e.trigger and new_leaves <= e.leaves:
            e.leaves = new_leaves
            self._order_event(k.EV_AMENDED, e, qty, new_leaves, kept=1)
            return
        if e.pending:
            self.stops.remove(e)
        else:
            self._remove(e)
        e.price, e.trigger, e.leaves = new_price, new_trigger, new_leaves
        self.seq += 1
        e.seq = self.seq
        self._order_event(k.EV_AMENDED, e, qty, new_leaves, kept=0)
        if not e.pending:
            self._execute(e)
        elif self._reached(e):
            e.pending = False
            self._trigger(e)
        else:
            self.stops.append(e)

    def _set_level(self, command: Sequence[int], side: int, price: int, lots: int) -> None:
        reason = k.R_NONE
        if side not in (k.BUY, k.SELL):
            reason = k.R_BAD_SIDE
        elif not 0 < price <= k.MAX_PRICE:
            reason = k.R_BAD_PRICE
        elif not 0 <= lots <= k.MAX_LOTS:
            reason = k.R_BAD_QUANTITY
        if reason:
            self._reject(command, reason)
            return
        if lots > 0:
            opposite = self.book[_other(side)]
            while self._crosses(side, price):
                level_price = self._best(_other(side))
                for m in opposite.pop(level_price):
                    if m.anonymous:
                        continue
                    q, m.leaves, m.filled = m.leaves, 0, m.filled + m.leaves
                    trade = self._trade(level_price)
                    self._emit(
                        k.EV_FILL,
                        0,
                        k.ANONYMOUS_OWNER,
                        side,
                        level_price,
                        q,
                        0,
                        liq=k.TAKER,
                        trade=trade,
                        cp_id=m.order_id,
                        cp_owner=m.owner,
                    )
                    self._emit(
                        k.EV_FILL,
                        m.order_id,
                        m.owner,
                        m.side,
                        level_price,
                        q,
                        0,
                        liq=k.MAKER,
                        trade=trade,
                        cp_id=0,
                        cp_owner=k.ANONYMOUS_OWNER,
                    )
                    del self.live[m.order_id]
        queue = self.book[side].setdefault(price, [])
        current = sum(e.leaves for e in queue if e.anonymous)
        if lots > current:
            if queue and queue[-1].anonymous:
                queue[-1].leaves += lots - current
            else:
                self.seq += 1
                queue.append(
                    _Entry(0, k.ANONYMOUS_OWNER, side, k.LIMIT, k.GTC, price, 0, lots - current, self.seq, True)
                )
        elif lots < current:
            remove = current - lots
            for e in reversed(queue):  # the back of the queue first
                if e.anonymous and remove:
                    taken = min(remove, e.leaves)
                    e.leaves -= taken
                    remove -= taken
            queue[:] = [e for e in queue if e.leaves > 0]
        self._tidy(side, price)

    # -- matching ----------------------------------------------------------------------------

    def _best(self, side: int) -> int:
        prices = self.book[side]
        return max(prices) if side == k.BUY else min(prices)

    def _crosses(self, side: int, price: int) -> bool:
        opposite = self.book[_other(side)]
        if not opposite:
            return False
        best = self._best(_other(side))
        return best <= price if side == k.BUY else best >= price

    def _available(self, side: int, limit: int | None) -> int:
        total = 0
        for price, queue in self.book[_other(side)].items():
            if limit is None or (price <= limit if side == k.BUY else price >= limit):
                total += sum(e.leaves for e in queue)
        return total

    def _precheck(self, side: int, otype: int, tif: int, price: int, lots: int) -> int:
        market = otype in (k.MARKET, k.STOP_MARKET)
        if market and not self.book[_other(side)]:
            return k.R_NO_LIQUIDITY
        if tif == k.POST_ONLY and self._crosses(side, price):
            return k.R_POST_ONLY_WOULD_TAKE
        if tif == k.FOK and self._available(side, None if market else price) < lots:
            return k.R_FOK_NOT_FILLABLE
        return k.R_NONE

    def _trade(self, price: int) -> int:
        self.trades += 1
        self.last = price
        self._hi = max(self._hi, price)
        self._lo = price if self._lo is None else min(self._lo, price)
        return self.trades

    def _take(self, e: _Entry, limit: int | None) -> None:
        opposite = self.book[_other(e.side)]
        while e.leaves > 0 and opposite:
            price = self._best(_other(e.side))
            if limit is not None and (price > limit if e.side == k.BUY else price < limit):
                break
            queue = opposite[price]
            maker = queue[0]
            q = min(e.leaves, maker.leaves)
            e.leaves -= q
            e.filled += q
            maker.leaves -= q
            maker.filled += q
            trade = self._trade(price)
            self._emit(
                k.EV_FILL,
                e.order_id,
                e.owner,
                e.side,
                price,
                q,
                e.leaves,
                liq=k.TAKER,
                trade=trade,
                cp_id=maker.order_id,
                cp_owner=maker.owner,
            )
            self._emit(
                k.EV_FILL,
                maker.order_id,
                maker.owner,
                maker.side,
                price,
                q,
                maker.leaves,
                liq=k.MAKER,
                trade=trade,
                cp_id=e.order_id,
                cp_owner=e.owner,
            )
            if maker.leaves == 0:
                queue.pop(0)
                if not maker.anonymous:
                    del self.live[maker.order_id]
                if not queue:
                    del opposite[price]

    def _execute(self, e: _Entry) -> None:
        market = e.order_type in (k.MARKET, k.STOP_MARKET)
        self._take(e, None if market else e.price)
        if e.leaves == 0:
            del self.live[e.order_id]
        elif market or e.tif in (k.IOC, k.FOK):
            self._order_event(k.EV_CANCELLED, e, e.leaves, 0, k.R_IOC_REMAINDER)
            del self.live[e.order_id]
        else:
            self.book[e.side].setdefault(e.price, []).append(e)

    def _remove(self, e: _Entry) -> None:
        queue = self.book[e.side][e.price]
        queue.remove(e)
        self._tidy(e.side, e.price)

    def _tidy(self, side: int, price: int) -> None:
        """Merge neighbouring anonymous runs into one and drop the level if it is empty."""
        queue = self.book[side][price]
        merged: list[_Entry] = []
        for e in queue:
            if merged and e.anonymous and merged[-1].anonymous:
                merged[-1].leaves += e.leaves
            else:
                merged.append(e)
        queue[:] = merged
        if not queue:
            del self.book[side][price]

    # -- stops -------------------------------------------------------------------------------

    def _reached(self, e: _Entry) -> bool:
        if not self.last:
            return False
        return e.trigger <= self.last if e.side == k.BUY else e.trigger >= self.last

    def _trigger(self, e: _Entry) -> None:
        e.pending = False
        self._order_event(k.EV_TRIGGERED, e, e.leaves, e.leaves)
        reason = self._precheck(e.side, e.order_type, e.tif, e.price, e.leaves)
        if reason:
            self._order_event(k.EV_CANCELLED, e, e.leaves, 0, reason)
            del self.live[e.order_id]
        else:
            self._execute(e)

    def _run_stops(self) -> None:
        while self._hi:
            hi, lo = self._hi, self._lo
            self._hi, self._lo = 0, None
            buys = sorted(
                (s for s in self.stops if s.side == k.BUY and s.trigger <= hi), key=lambda s: (s.trigger, s.seq)
            )
            sells = sorted(
                (s for s in self.stops if s.side == k.SELL and lo is not None and s.trigger >= lo),
                key=lambda s: (-s.trigger, s.seq),
            )
            for s in buys + sells:
                self.stops.remove(s)
                s.pending = False
            for s in buys + sells:
                self._trigger(s)

    # -- queries -----------------------------------------------------------------------------

    def levels(self, side: int) -> list[tuple[int, int, int]]:
        """Non-empty levels of ``side``, best first: ``(price, total lots, anonymous lots)``."""
        prices = sorted(self.book[side], reverse=side == k.BUY)
        return [
            (p, sum(e.leaves for e in self.book[side][p]), sum(e.leaves for e in self.book[side][p] if e.anonymous))
            for p in prices
        ]

    def lots_ahead(self, order_id: int) -> int:
        """Lots ahead of a resting order at its level, or -1 if it is not resting."""
        e = self.live.get(order_id)
        if e is None or e.pending:
            return -1
        queue = self.book[e.side][e.price]
        return sum(x.leaves for x in queue[: queue.index(e)])

    def open_orders(self) -> list[tuple[int, ...]]:
        """Live orders by id: ``(id, owner, side, type, tif, price, trigger, leaves, filled, pending, lots_ahead)``."""
        return [
            (
                e.order_id,
                e.owner,
                e.side,
                e.order_type,
                e.tif,
                e.price,
                e.trigger,
                e.leaves,
                e.filled,
                int(e.pending),
                self.lots_ahead(e.order_id),
            )
            for e in sorted(self.live.values(), key=lambda e: e.order_id)
        ]
