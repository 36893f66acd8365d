"""The Python face of the compiled matching kernel: :class:`MatchingEngine`.

One engine holds the book of one instrument. The same kernel serves the
simulated venue (one command per call: :meth:`MatchingEngine.submit`,
:meth:`~MatchingEngine.cancel`, :meth:`~MatchingEngine.amend`) and the
backtester (:meth:`MatchingEngine.process_batch` over a ``COMMAND_DTYPE``
array, replayed L2 levels via ``SET_LEVEL`` commands or
:meth:`~MatchingEngine.set_level`).
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

import numpy as np

from jtrader.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from jtrader.domain.instruments import Instrument
from jtrader.domain.orders import Order
from jtrader.matching import _core as k
from jtrader.matching.messages import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    ORDER_TYPE_FROM_CODE,
    ORDER_TYPE_TO_CODE,
    SIDE_FROM_CODE,
    SIDE_TO_CODE,
    TIF_FROM_CODE,
    TIF_TO_CODE,
    Accepted,
    Amended,
    Cancelled,
    CommandKind,
    EngineEvent,
    Filled,
    OrderView,
    Reason,
    Rejected,
    Triggered,
)

__all__ = ["MatchingEngine", "warm_up"]

_SIDE_FROM_CODE = {int(code): side for code, side in SIDE_FROM_CODE.items()}
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_ZERO = Decimal(0)


_PACK_COMMAND = struct.Struct(f"{k.NC}q").pack_into
_SIDES = {key: int(v) for key, v in SIDE_TO_CODE.items()}
_ORDER_TYPES = {key: int(v) for key, v in ORDER_TYPE_TO_CODE.items()}
_TIFS = {key: int(v) for key, v in TIF_TO_CODE.items()}


def _field(value: Any, name: str) -> int:
    """An int64 for the kernel; out-of-range ints become -1 (rejected by the kernel), non-ints raise TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    value = int(value)
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    if name in ("owner", "ts"):
        raise ValueError(f"{name}: {value} does not fit in int64")
    return -1


def _code(mapping: dict[Any, int], value: Any) -> int:
    """The kernel code of a domain enum value (an int passes through); unknown values become 0 (rejected)."""
    code = mapping.get(value)
    if code is not None:
        return code
    return value if type(value) is int else 0


class MatchingEngine:
    """A price-time-priority order book for one instrument, matched by a compiled kernel.

    Guarantees: trades print at the maker's price; within a level, earlier
    arrivals fill first; every command returns its events (a bad command gives
    one ``Rejected`` and changes nothing); the same commands always give the
    same events. Prices are ticks and sizes lots of ``instrument``; order ids
    are ints > 0 chosen by the caller, unique among live orders (an id may be
    reused once its order is done).

    Example::

        >>> from jtrader.domain import Instrument, InstrumentId, InstrumentKind, Price, Quantity, Venue, Side
        >>> btc = Instrument(InstrumentId("BTCUSDT", Venue.SIM), InstrumentKind.SPOT, "BTC", "USDT", "USDT",
        ...                  Price("0.1"), Quantity("0.001"), taker_fee=Decimal("0.001"))
        >>> engine = MatchingEngine(btc)
        >>> _ = engine.submit(1, owner=7, side=Side.SELL, quantity_lots=5, price_ticks=600_000)
        >>> [type(e).__name__ for e in engine.submit(2, owner=8, side=Side.BUY, quantity_lots=2, price_ticks=600_010)]
        ['Accepted', 'Filled', 'Filled']
        >>> engine.best_ask()
        (600000, 3)
    """

    def __init__(
        self,
        instrument: Instrument,
        *,
        initial_levels: int = 1024,
        initial_orders: int = 1024,
        max_levels: int = 1 << 21,
        base_price_ticks: int = 0,
    ) -> None:
        """Allocate an empty book.

        ``initial_levels`` ticks of price ladder are allocated around
        ``base_price_ticks`` (or around the first price that rests); the
        ladder grows and recentres by itself but never spans more than
        ``max_levels`` ticks: an order that would have to rest further from
        the rest of the book is rejected with ``BAD_PRICE``.
        """
        if not 1 <= initial_levels <= max_levels:
            raise ValueError(f"initial_levels must be in 1..max_levels ({max_levels}), got {initial_levels}")
        if initial_orders < 2:
            raise ValueError(f"initial_orders must be at least 2, got {initial_orders}")
        self.instrument = instrument
        self._st, self._orders, self._levels, self._htab = k.new_state(
            initial_levels, initial_orders, max_levels, base_price_ticks
        )
        self._one = np.zeros((1, k.NC), np.int64)
        # Exact fee per tick*lot of notional (spot and linear); inverse fees go through Instrument.notional.
        unit = instrument.price_increment.as_decimal() * instrument.size_increment.as_decimal()
        unit *= instrument.contract_size
        self._maker_factor = None if instrument.is_inverse else unit * instrument.maker_fee
        self._taker_factor = None if instrument.is_inverse else unit * instrument.taker_fee
        self._ev = np.empty((64, k.NE), np.int64)

    # -- commands (per call) ----------------------------------------------------------------

    def submit(
        self,
        order_id: int,
        owner: int,
        side: Side,
        quantity_lots: int,
        price_ticks: int = 0,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        trigger_ticks: int = 0,
        ts: int = 0,
    ) -> list[EngineEvent]:
        """Submit an order; return ``Accepted`` then any fills, trigger or expiry, or one ``Rejected``.

        Market and stop-market orders take no price (``price_ticks`` is ignored);
        market orders behave as IOC unless FOK.
        """
        return self._one_command(
            CommandKind.SUBMIT,
            ts,
            order_id,
            owner,
            _code(_SIDES, side),
            _code(_ORDER_TYPES, order_type),
            _code(_TIFS, time_in_force),
            price_ticks,
            trigger_ticks,
            quantity_lots,
        )

    def submit_order(self, order: Order, order_id: int, owner: int, ts: int = 0) -> list[EngineEvent]:
        """Submit a domain :class:`Order` (its open quantity) under the engine's ``order_id`` and ``owner``."""
        return self.submit(
            order_id,
            owner,
            order.side,
            order.quantity_lots - order.filled_lots,
            order.price_ticks or 0,
            order_type=order.order_type,
            time_in_force=order.time_in_force,
            trigger_ticks=order.trigger_ticks or 0,
            ts=ts,
        )

    def cancel(self, order_id: int, owner: int, ts: int = 0) -> list[EngineEvent]:
        """Cancel a live order of ``owner``; ``Cancelled(REQUESTED)`` or ``Rejected(UNKNOWN_ORDER)``."""
        return self._one_command(CommandKind.CANCEL, ts, order_id, owner)

    def amend(
        self,
        order_id: int,
        owner: int,
        quantity_lots: int,
        price_ticks: int = 0,
        trigger_ticks: int = 0,
        ts: int = 0,
    ) -> list[EngineEvent]:
        """Cancel/replace: set the order's total quantity and, if non-zero, its price and (pending stop) trigger.

        A smaller quantity at the same price keeps queue priority; a price
        change or a larger quantity sends the order to the back of the queue
        at its (new) price, where it takes any liquidity it now crosses
        (post-only orders are rejected instead). The quantity must exceed the
        lots already filled.
        """
        return self._one_command(
            CommandKind.AMEND, ts, order_id, owner, 0, 0, 0, price_ticks, trigger_ticks, quantity_lots
        )

    def set_level(self, side: Side, price_ticks: int, lots: int, ts: int = 0) -> list[EngineEvent]:
        """Set the anonymous (external, replayed) size at a level to ``lots``.

        Anonymous size queues with our orders by arrival: an increase joins
        the back of the level; a decrease removes anonymous size from the back
        first (latest arrivals), so our orders never gain priority from it
        unless no anonymous size is left behind them. A level that crosses our
        resting orders on the other side fills them whole (we are the maker,
        the taker is anonymous) and drops crossed anonymous size without
        trades. Returns only those fills (or a ``Rejected``).
        """
        return self._one_command(CommandKind.SET_LEVEL, ts, 0, 0, _code(_SIDES, side), 0, 0, price_ticks, 0, lots)

    def _one_command(
        self,
        kind: int,
        ts: int,
        order_id: int = 0,
        owner: int = 0,
        side: int = 0,
        order_type: int = 0,
        tif: int = 0,
        price: int = 0,
        trigger: int = 0,
        lots: int = 0,
    ) -> list[EngineEvent]:
        values = (kind, ts, order_id, owner, side, order_type, tif, price, trigger, lots)
        try:
            _PACK_COMMAND(self._one, 0, *values)  # type: ignore[arg-type]  # an ndarray is a writable buffer
        except struct.error:  # not an int, or outside int64: name the field, or let the kernel reject it
            names = (
                "kind",
                "ts",
                "order_id",
                "owner",
                "side",
                "order_type",
                "time_in_force",
                "price_ticks",
                "trigger_ticks",
                "lots",
            )
            _PACK_COMMAND(self._one, 0, *(_field(v, name) for v, name in zip(values, names, strict=True)))  # type: ignore[arg-type]
        self._ev, n = self._run(self._one, self._ev)
        return self._decode_rows(self._ev[:n].tolist())

    def _run(self, cmds: np.ndarray, ev: np.ndarray) -> tuple[np.ndarray, int]:
        self._st[k.S_NEV] = 0
        self._orders, self._levels, self._htab, ev = k.process(
            self._st, self._orders, self._levels, self._htab, cmds, ev
        )
        return ev, int(self._st[k.S_NEV])

    # -- commands (batch) -------------------------------------------------------------------

    def process_batch(self, commands: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Apply ``commands`` (a ``COMMAND_DTYPE`` array) in order; return their events as an ``EVENT_DTYPE`` array.

        Exactly what the per-call methods would return for the same commands,
        one after the other, as rows (fees are left to :meth:`decode`). Pass
        ``out`` (an ``EVENT_DTYPE`` array) to reuse one buffer across calls:
        the result is then a view into it, overwritten by the next call that
        uses it (a larger buffer is allocated if it fills up).
        """
        if commands.dtype != COMMAND_DTYPE:
            raise TypeError(f"commands: expected dtype COMMAND_DTYPE, got {commands.dtype}; build with new_commands(n)")
        rows = np.ascontiguousarray(commands).view(np.int64).reshape(-1, k.NC)
        if out is None:
            # Room for three events per command; pages never written are never touched (no cost).
            buffer = np.empty((3 * len(rows) + 64, k.NE), np.int64)
        elif out.dtype != EVENT_DTYPE or out.ndim != 1 or not out.flags.c_contiguous or len(out) == 0:
            raise TypeError("out: expected a non-empty, contiguous 1-d EVENT_DTYPE array")
        else:
            buffer = out.view(np.int64).reshape(-1, k.NE)
        ev, n = self._run(rows, buffer)
        return ev[:n].view(EVENT_DTYPE)[:, 0]

    def decode(self, events: np.ndarray) -> list[EngineEvent]:
        """Turn ``EVENT_DTYPE`` rows into event structs, with exact fees on fills."""
        if events.dtype != EVENT_DTYPE:
            raise TypeError(f"events: expected dtype EVENT_DTYPE, got {events.dtype}")
        return self._decode_rows(np.ascontiguousarray(events).view(np.int64).reshape(-1, k.NE).tolist())

    def _decode_rows(self, rows: list[list[int]]) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        append = out.append
        for (
            kind,
            cmd,
            ts,
            oid,
            owner,
            side_code,
            price,
            lots,
            leaves,
            reason,
            liq,
            trade,
            cp_id,
            cp_owner,
            trig,
            kept,
        ) in rows:
            side = _SIDE_FROM_CODE.get(side_code)
            if kind == k.EV_FILL:
                liquidity = LiquiditySide.MAKER if liq == k.MAKER else LiquiditySide.TAKER
                append(
                    Filled(
                        command=cmd,
                        ts=ts,
                        order_id=oid,
                        owner=owner,
                        side=_SIDE_FROM_CODE[side_code],  # always a real side on these events
                        price_ticks=price,
                        lots=lots,
                        leaves_lots=leaves,
                        liquidity=liquidity,
                        trade_id=trade,
                        counterparty_order_id=cp_id,
                        counterparty_owner=cp_owner,
                        fee=self.fee(price, lots, liquidity),
                        fee_currency=self.instrument.settle,
                    )
                )
            elif kind == k.EV_ACCEPTED:
                append(
                    Accepted(
                        command=cmd,
                        ts=ts,
                        order_id=oid,
                        owner=owner,
                        side=_SIDE_FROM_CODE[side_code],  # always a real side on these events
                        price_ticks=price,
                        quantity_lots=lots,
                        trigger_ticks=trig,
                    )
                )
            elif kind == k.EV_CANCELLED:
                append(
                    Cancelled(
                        command=cmd,
                        ts=ts,
                        order_id=oid,
                        owner=owner,
                        side=_SIDE_FROM_CODE[side_code],  # always a real side on these events
                        price_ticks=price,
                        lots=lots,
                        reason=Reason(reason),
                    )
                )
            elif kind == k.EV_REJECTED:
                append(
                    Rejected(
                        command=cmd,
                        ts=ts,
                        order_id=oid,
                        owner=owner,
                        side=side,
                        price_ticks=price,
                        lots=lots,
                        trigger_ticks=trig,
                        reason=Reason(reason),
                    )
                )
            elif kind == k.EV_TRIGGERED:
                append(
                    Triggered(
                        command=cmd,
                        ts=ts,
                        order_id=oid,
                        owner=owner,
                        side=_SIDE_FROM_CODE[side_code],  # always a real side on these events
                        price_ticks=price,
                        leaves_lots=leaves,
                        trigger_ticks=trig,
                    )
                )
            else:
                append(
                    Amended(
                        command=cmd,
                        ts=ts,
                        order_id=oid,
                        owner=owner,
                        side=_SIDE_FROM_CODE[side_code],  # always a real side on these events
                        price_ticks=price,
                        quantity_lots=lots,
                        leaves_lots=leaves,
                        trigger_ticks=trig,
                        priority_kept=bool(kept),
                    )
                )
        return out

    def fee(self, price_ticks: int, lots: int, liquidity: LiquiditySide) -> Decimal:
        """Exact fee of a fill in the settlement currency: notional times the maker or taker rate (< 0: rebate).

        Equal to ``instrument.notional(price, size) * rate``; for spot and
        linear instruments it is computed as ``ticks * lots * (tick * lot *
        contract_size * rate)``, the same exact product in one multiplication.
        """
        maker = liquidity is LiquiditySide.MAKER
        factor = self._maker_factor if maker else self._taker_factor
        if factor is not None:
            return Decimal(price_ticks * lots) * factor
        rate = self.instrument.maker_fee if maker else self.instrument.taker_fee
        if not rate:
            return _ZERO
        instrument = self.instrument
        return instrument.notional(instrument.ticks_to_price(price_ticks), instrument.lots_to_size(lots)) * rate

    # -- queries ---------------------------------------------------------------------------

    def _best(self, si: int) -> tuple[int, int] | None:
        idx = int(self._st[k.S_BEST_BID if si == 0 else k.S_BEST_ASK])
        if idx < 0:
            return None
        return int(self._st[k.S_BASE]) + idx, int(self._levels[si, idx, k.L_TOTAL])

    def best_bid(self) -> tuple[int, int] | None:
        """``(price_ticks, lots)`` of the best bid, or None if there are no bids."""
        return self._best(0)

    def best_ask(self) -> tuple[int, int] | None:
        """``(price_ticks, lots)`` of the best ask, or None if there are no asks."""
        return self._best(1)

    def depth(self, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """``(bids, asks)``: up to ``n`` non-empty levels per side, best first, as ``(price_ticks, lots)``."""
        return (
            [(p, t) for p, t, _ in k.depth(self._st, self._levels, 0, n).tolist()],
            [(p, t) for p, t, _ in k.depth(self._st, self._levels, 1, n).tolist()],
        )

    def levels(self, side: Side, n: int = 1 << 30) -> list[tuple[int, int, int]]:
        """Up to ``n`` non-empty levels of ``side``, best first, as ``(price_ticks, total_lots, anonymous_lots)``."""
        return [tuple(row) for row in k.depth(self._st, self._levels, 0 if side is Side.BUY else 1, n).tolist()]

    def level(self, side: Side, price_ticks: int) -> tuple[int, int]:
        """``(total_lots, anonymous_lots)`` resting at one price (zeros if none)."""
        base = int(self._st[k.S_BASE])
        idx = price_ticks - base
        if base <= 0 or not 0 <= idx < self._levels.shape[1]:
            return 0, 0
        si = 0 if side is Side.BUY else 1
        return int(self._levels[si, idx, k.L_TOTAL]), int(self._levels[si, idx, k.L_ANON])

    def order(self, order_id: int) -> OrderView | None:
        """The live order ``order_id`` (resting or pending stop), or None."""
        valid = isinstance(order_id, int | np.integer) and 0 < order_id <= _INT64_MAX
        slot = int(k.h_find(self._htab, int(order_id))) if valid else -1
        if slot < 0:
            return None
        o = self._orders[slot].tolist()
        pending = o[k.O_STATE] == k.ST_PENDING_STOP
        return OrderView(
            order_id=o[k.O_ID],
            owner=o[k.O_OWNER],
            side=SIDE_FROM_CODE[o[k.O_SIDE]],
            order_type=ORDER_TYPE_FROM_CODE[o[k.O_TYPE]],
            time_in_force=TIF_FROM_CODE[o[k.O_TIF]],
            price_ticks=o[k.O_PRICE],
            trigger_ticks=o[k.O_TRIGGER],
            leaves_lots=o[k.O_LEAVES],
            filled_lots=o[k.O_FILLED],
            pending_stop=pending,
            lots_ahead=-1
            if pending
            else int(k.lots_ahead(self._st, self._orders, self._levels, self._htab, o[k.O_ID])),
        )

    def queue_position(self, order_id: int) -> int | None:
        """Lots queued ahead of a resting order at its level (ours and anonymous), or None if it is not resting."""
        view = self.order(order_id)
        return None if view is None or view.pending_stop else view.lots_ahead

    def open_orders(self) -> list[OrderView]:
        """Every live order, by order id."""
        ids = sorted(int(i) for i in self._htab[self._htab[:, 0] != 0, 0])
        return [v for v in (self.order(i) for i in ids) if v is not None]

    @property
    def open_order_count(self) -> int:
        return int(self._st[k.S_HCOUNT])

    @property
    def last_trade_ticks(self) -> int | None:
        """Price of the last trade, or None before the first."""
        last = int(self._st[k.S_LAST])
        return last or None

    @property
    def ladder(self) -> tuple[int, int]:
        """``(base_price_ticks, levels)``: the price range the ladder currently covers (base -1 before the first)."""
        return int(self._st[k.S_BASE]), int(self._levels.shape[1])

    # -- checking ----------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Walk every structure and return what is inconsistent (empty if all is well). O(book); for tests."""
        problems: list[str] = []
        st, orders, levels, htab = self._st, self._orders, self._levels, self._htab
        base = int(st[k.S_BASE])
        seen: set[int] = set()
        for si in (0, 1):
            nonempty = np.nonzero(levels[si, :, k.L_HEAD] != -1)[0].tolist()
            best = int(st[k.S_BEST_BID if si == 0 else k.S_BEST_ASK])
            expected_best = (max(nonempty) if si == 0 else min(nonempty)) if nonempty else -1
            if best != expected_best:
                problems.append(f"side {si}: best index {best}, expected {expected_best}")
            if nonempty and si == 0 and min(nonempty) < st[k.S_BID_LO]:
                problems.append("bids below S_BID_LO")
            if nonempty and si == 1 and max(nonempty) > st[k.S_ASK_HI]:
                problems.append("asks above S_ASK_HI")
            for idx in nonempty:
                total = anon = 0
                prev = -1
                prev_anon = False
                s = int(levels[si, idx, k.L_HEAD])
                while s != -1:
                    o = orders[s]
                    seen.add(s)
                    state = int(o[k.O_STATE])
                    if state not in (k.ST_RESTING, k.ST_ANON):
                        problems.append(f"slot {s} in level {idx} has state {state}")
                    if o[k.O_PREV] != prev or o[k.O_SIDE] != si + 1 or o[k.O_PRICE] != base + idx or o[k.O_LEAVES] <= 0:
                        problems.append(f"slot {s} in level {idx} is mislinked or has bad fields {o.tolist()}")
                    if state == k.ST_ANON and prev_anon:
                        problems.append(f"adjacent anonymous chunks at level {idx}")
                    if state == k.ST_RESTING and k.h_find(htab, int(o[k.O_ID])) != s:
                        problems.append(f"resting order {int(o[k.O_ID])} missing from the id map")
                    prev_anon = state == k.ST_ANON
                    total += int(o[k.O_LEAVES])
                    anon += int(o[k.O_LEAVES]) if state == k.ST_ANON else 0
                    prev = s
                    s = int(o[k.O_NEXT])
                if levels[si, idx, k.L_TAIL] != prev:
                    problems.append(f"level {si}/{idx}: tail mismatch")
                if levels[si, idx, k.L_TOTAL] != total or levels[si, idx, k.L_ANON] != anon:
                    problems.append(f"level {si}/{idx}: totals {levels[si, idx, 2:].tolist()} != {[total, anon]}")
            empty_with_size = np.nonzero((levels[si, :, k.L_HEAD] == -1) & (levels[si, :, k.L_TOTAL] != 0))[0]
            if len(empty_with_size):
                problems.append(f"side {si}: empty levels with size at {empty_with_size.tolist()[:5]}")
        if st[k.S_BEST_BID] >= 0 and st[k.S_BEST_ASK] >= 0 and st[k.S_BEST_BID] >= st[k.S_BEST_ASK]:
            problems.append("book is crossed")
        stops = 0
        for head, buy in ((k.S_BSTOP_HEAD, True), (k.S_SSTOP_HEAD, False)):
            s, prev, prev_key = int(st[head]), -1, None
            while s != -1:
                o = orders[s]
                seen.add(s)
                stops += 1
                key = (int(o[k.O_TRIGGER]) * (1 if buy else -1), int(o[k.O_SEQ]))
                if o[k.O_STATE] != k.ST_PENDING_STOP or o[k.O_PREV] != prev or (prev_key and key < prev_key):
                    problems.append(f"stop list broken at slot {s}")
                prev, prev_key, s = s, key, int(o[k.O_NEXT])
        if stops != st[k.S_NSTOPS]:
            problems.append(f"{stops} pending stops linked, {int(st[k.S_NSTOPS])} counted")
        live = htab[htab[:, 0] != 0]
        if len(live) != st[k.S_HCOUNT]:
            problems.append(f"id map holds {len(live)} keys, counted {int(st[k.S_HCOUNT])}")
        for key, slot in live.tolist():
            if orders[slot, k.O_ID] != key or orders[slot, k.O_STATE] not in (k.ST_RESTING, k.ST_PENDING_STOP):
                problems.append(f"id map entry {key} -> slot {slot} is stale")
            if k.h_find(htab, key) != slot:
                problems.append(f"id {key} not found by probing")
        free, s = 0, int(st[k.S_FREE])
        while s != -1 and free <= len(orders):
            if orders[s, k.O_STATE] != k.ST_FREE or s in seen:
                problems.append(f"free slot {s} is in use")
            free += 1
            s = int(orders[s, k.O_NEXT])
        if free != st[k.S_NFREE] or free + len(seen) != len(orders):
            problems.append(f"free list {free}, counted {int(st[k.S_NFREE])}, in use {len(seen)} of {len(orders)}")
        return problems


def warm_up() -> None:
    """Compile (or load from the cache) every kernel entry point, so later calls pay no JIT time."""
    from jtrader.domain import InstrumentId, InstrumentKind, Price, Quantity, Venue

    instrument = Instrument(
        InstrumentId("WARMUP", Venue.SIM), InstrumentKind.SPOT, "A", "B", "B", Price("1"), Quantity("1")
    )
    engine = MatchingEngine(instrument, initial_levels=4, initial_orders=2)
    engine.set_level(Side.SELL, 105, 3)
    engine.submit(1, 1, Side.BUY, 2, 100)
    engine.submit(2, 1, Side.SELL, 1, 0, order_type=OrderType.STOP_MARKET, trigger_ticks=104)
    engine.submit(3, 2, Side.SELL, 1, 100, time_in_force=TimeInForce.IOC)
    engine.amend(1, 1, 1, 101)
    engine.cancel(1, 1)
    engine.order(2)
    engine.depth(5)
    engine.queue_position(2)
