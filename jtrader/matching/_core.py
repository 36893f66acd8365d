"""The compiled price-time-priority matching kernel (numba ``@njit`` over preallocated int64 arrays).

Private: use :class:`jtrader.matching.MatchingEngine`. Every function here is
module-level and compiled with ``cache=True``, so a process compiles (or loads
from ``__pycache__``) each one once.

State of one book, all ``int64``:

``st[NS]``
    scalars: ladder base price, best indices, free list, counters, stop lists (``S_*``).
``orders[capacity, NO]``
    the order pool, one row per slot (``O_*``). A slot holds one of our orders
    (resting, pending stop, or in flight during a command) or an anonymous
    chunk of external level liquidity. Free slots form a list through ``O_NEXT``.
    Orders at one level form a doubly linked FIFO through ``O_PREV``/``O_NEXT``;
    pending stops form two sorted lists the same way.
``levels[2, n, NL]``
    the price ladder: ``levels[side, price - base]`` holds head and tail slot of
    the level's FIFO, its total lots and its anonymous lots (``L_*``); side 0 is
    bids, side 1 asks. The ladder grows (and recentres) when a price that must
    rest falls outside it, up to ``st[S_MAXLEV]`` levels.
``htab[capacity, 2]``
    open-addressing hash map (linear probing, backward-shift deletion) from
    live order id (> 0) to slot; key 0 marks an empty bucket.

Commands are rows of ``int64[NC]`` (``C_*``), events rows of ``int64[NE]``
(``E_*``). :func:`process` never raises for bad input: every command yields a
REJECTED event or takes effect completely. It grows the pool, the hash map,
the ladder and the event buffer itself and returns the (possibly new) arrays.

Speed: the helpers run on unowned array views (see ``_unowned``: no atomic
reference counting per call) and the small ones are inlined at the numba IR
level (``inline="always"``); together they took the benchmark mix from about
560 to about 150 ns per command. Inlining the large ones too doubled the
compile time for a few percent, so they stay calls.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic

# -- codes (the source of truth; messages.py builds its IntEnums from these) ---------------

CMD_SUBMIT = 1
CMD_CANCEL = 2
CMD_AMEND = 3
CMD_SET_LEVEL = 4

EV_ACCEPTED = 1
EV_REJECTED = 2
EV_FILL = 3
EV_CANCELLED = 4
EV_TRIGGERED = 5
EV_AMENDED = 6

BUY = 1
SELL = 2

LIMIT = 1
MARKET = 2
STOP_MARKET = 3
STOP_LIMIT = 4

GTC = 1
IOC = 2
FOK = 3
POST_ONLY = 4

MAKER = 1
TAKER = 2

R_NONE = 0
R_BAD_COMMAND = 1
R_BAD_ORDER_ID = 2
R_BAD_SIDE = 3
R_BAD_ORDER_TYPE = 4
R_BAD_TIME_IN_FORCE = 5
R_BAD_QUANTITY = 6
R_BAD_PRICE = 7
R_BAD_TRIGGER = 8
R_DUPLICATE_ORDER_ID = 9
R_UNKNOWN_ORDER = 10
R_POST_ONLY_WOULD_TAKE = 11
R_FOK_NOT_FILLABLE = 12
R_NO_LIQUIDITY = 13
R_REQUESTED = 14
R_IOC_REMAINDER = 15

ANONYMOUS_OWNER = -1
MAX_PRICE = 10**15
MAX_LOTS = 10**12

# -- layouts ---------------------------------------------------------------------------------

C_KIND, C_TS, C_ID, C_OWNER, C_SIDE, C_TYPE, C_TIF, C_PRICE, C_TRIGGER, C_LOTS = range(10)
NC = 10

(E_KIND, E_CMD, E_TS, E_ID, E_OWNER, E_SIDE, E_PRICE, E_LOTS, E_LEAVES, E_REASON, E_LIQ, E_TRADE, E_CP_ID,
 E_CP_OWNER, E_TRIGGER, E_KEPT) = range(16)  # fmt: skip
NE = 16

O_ID, O_OWNER, O_SIDE, O_TYPE, O_TIF, O_PRICE, O_TRIGGER, O_LEAVES, O_FILLED, O_PREV, O_NEXT, O_STATE, O_SEQ = range(13)
NO = 13

L_HEAD, L_TAIL, L_TOTAL, L_ANON = range(4)
NL = 4

ST_FREE = 0
ST_RESTING = 1
ST_PENDING_STOP = 2
ST_ANON = 3
ST_ACTIVE = 4  # accepted, not yet resting or finished (inside one command)

(S_BASE, S_BEST_BID, S_BEST_ASK, S_BID_LO, S_ASK_HI, S_FREE, S_NFREE, S_HCOUNT, S_SEQ, S_TRADE, S_LAST, S_PEND_HI,
 S_PEND_LO, S_BSTOP_HEAD, S_BSTOP_TAIL, S_SSTOP_HEAD, S_SSTOP_TAIL, S_NSTOPS, S_CMD, S_NEV, S_MAXLEV, S_TS,
 S_CMD_SEQ) = range(23)  # fmt: skip
NS = 24

_HASH_MULT = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64 (Fibonacci hashing)
_NO_PRICE_LO = MAX_PRICE + 1


# -- allocation of state (plain numpy; also called from Python) -----------------------------


def new_state(n_levels: int, n_orders: int, max_levels: int, base_price: int) -> tuple:
    """Return fresh ``(st, orders, levels, htab)`` for an empty book."""
    st = np.zeros(NS, np.int64)
    st[S_BASE] = max(1, base_price - n_levels // 2) if base_price > 0 else -1
    st[S_BEST_BID] = -1
    st[S_BEST_ASK] = -1
    st[S_PEND_LO] = _NO_PRICE_LO
    for k in (S_BSTOP_HEAD, S_BSTOP_TAIL, S_SSTOP_HEAD, S_SSTOP_TAIL):
        st[k] = -1
    st[S_MAXLEV] = max_levels
    orders = np.zeros((n_orders, NO), np.int64)
    orders[:, O_NEXT] = np.arange(1, n_orders + 1)
    orders[-1, O_NEXT] = -1
    st[S_FREE] = 0
    st[S_NFREE] = n_orders
    levels = np.zeros((2, n_levels, NL), np.int64)
    levels[:, :, L_HEAD] = -1
    levels[:, :, L_TAIL] = -1
    capacity = 16
    while capacity < 2 * n_orders:
        capacity *= 2
    htab = np.zeros((capacity, 2), np.int64)
    return st, orders, levels, htab


# -- unowned views ---------------------------------------------------------------------------
# Every array passed to a compiled function is reference counted with an atomic increment and
# decrement per call; with a dozen helper calls per command that was most of the run time. The
# kernel therefore works on views without an owner (a NULL meminfo makes the refcount a no-op)
# while :func:`process`'s own arguments keep the memory alive.


@intrinsic
def _as_int64_pointer(typingctx, address):
    sig = types.CPointer(types.int64)(address)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.int64)))

    return sig, codegen


@njit(cache=True)
def _unowned(a):
    """A view of C-contiguous int64 ``a`` that is not reference counted; valid while ``a`` is alive."""
    return carray(_as_int64_pointer(a.ctypes.data), a.shape)  # type: ignore[call-arg]  # numba intrinsic


# -- events ------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _emit(ev, st, kind, oid, owner, side, price, lots, leaves, reason, liq, trade, cp_id, cp_owner, trigger, kept):
    n = st[S_NEV]
    if n == ev.shape[0]:
        grown = np.empty((max(64, 2 * n), NE), np.int64)
        grown[:n] = ev[:n]
        ev = grown
    ev[n, E_KIND] = kind
    ev[n, E_CMD] = st[S_CMD_SEQ]
    ev[n, E_TS] = st[S_TS]
    ev[n, E_ID] = oid
    ev[n, E_OWNER] = owner
    ev[n, E_SIDE] = side
    ev[n, E_PRICE] = price
    ev[n, E_LOTS] = lots
    ev[n, E_LEAVES] = leaves
    ev[n, E_REASON] = reason
    ev[n, E_LIQ] = liq
    ev[n, E_TRADE] = trade
    ev[n, E_CP_ID] = cp_id
    ev[n, E_CP_OWNER] = cp_owner
    ev[n, E_TRIGGER] = trigger
    ev[n, E_KEPT] = kept
    st[S_NEV] = n + 1
    return ev


@njit(cache=True, inline="always")
def _emit_order(ev, st, orders, s, kind, lots, leaves, reason, kept):
    """Emit an order event (accepted, cancelled, triggered, amended) from slot ``s``."""
    return _emit(
        ev, st, kind, orders[s, O_ID], orders[s, O_OWNER], orders[s, O_SIDE], orders[s, O_PRICE], lots, leaves,
        reason, 0, 0, 0, 0, orders[s, O_TRIGGER], kept,
    )  # fmt: skip


@njit(cache=True, inline="always")
def _reject(ev, st, cmds, i, reason):
    return _emit(
        ev, st, EV_REJECTED, cmds[i, C_ID], cmds[i, C_OWNER], cmds[i, C_SIDE], cmds[i, C_PRICE], cmds[i, C_LOTS],
        0, reason, 0, 0, 0, 0, cmds[i, C_TRIGGER], 0,
    )  # fmt: skip


# -- id -> slot hash map -------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _h_home(key, mask):
    h = key * _HASH_MULT
    h ^= h >> 29
    return h & mask


@njit(cache=True, inline="always")
def h_find(htab, key):
    """Slot of live order ``key``, or -1."""
    if key <= 0:
        return -1
    mask = htab.shape[0] - 1
    i = _h_home(key, mask)
    while True:
        k = htab[i, 0]
        if k == key:
            return htab[i, 1]
        if k == 0:
            return -1
        i = (i + 1) & mask


@njit(cache=True, inline="always")
def _h_insert(htab, st, key, slot):
    mask = htab.shape[0] - 1
    i = _h_home(key, mask)
    while htab[i, 0] != 0:
        i = (i + 1) & mask
    htab[i, 0] = key
    htab[i, 1] = slot
    st[S_HCOUNT] += 1


@njit(cache=True, inline="always")
def _h_delete(htab, st, key):
    mask = htab.shape[0] - 1
    i = _h_home(key, mask)
    while htab[i, 0] != key:
        if htab[i, 0] == 0:
            return
        i = (i + 1) & mask
    htab[i, 0] = 0
    st[S_HCOUNT] -= 1
    j = i
    while True:  # backward-shift the probe chain so no tombstones are needed
        j = (j + 1) & mask
        k = htab[j, 0]
        if k == 0:
            return
        home = _h_home(k, mask)
        if i <= j:
            stays = i < home <= j
        else:
            stays = home > i or home <= j
        if not stays:
            htab[i, 0] = k
            htab[i, 1] = htab[j, 1]
            htab[j, 0] = 0
            i = j


@njit(cache=True)
def _h_grow(htab, st):
    grown = np.zeros((htab.shape[0] * 2, 2), np.int64)
    st[S_HCOUNT] = 0
    for i in range(htab.shape[0]):
        if htab[i, 0] != 0:
            _h_insert(grown, st, htab[i, 0], htab[i, 1])
    return grown


# -- order pool ----------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _alloc(orders, st):
    s = st[S_FREE]
    st[S_FREE] = orders[s, O_NEXT]
    st[S_NFREE] -= 1
    return s


@njit(cache=True, inline="always")
def _free(orders, st, s):
    orders[s, O_STATE] = ST_FREE
    orders[s, O_LEAVES] = 0
    orders[s, O_PREV] = -1
    orders[s, O_NEXT] = st[S_FREE]
    st[S_FREE] = s
    st[S_NFREE] += 1


@njit(cache=True)
def _grow_orders(orders, st):
    n = orders.shape[0]
    grown = np.zeros((2 * n, NO), np.int64)
    grown[:n] = orders
    for s in range(n, 2 * n - 1):
        grown[s, O_NEXT] = s + 1
    grown[2 * n - 1, O_NEXT] = st[S_FREE]
    st[S_FREE] = n
    st[S_NFREE] += n
    return grown


# -- ladder --------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _refresh_best(levels, st, si):
    """Move the best index of side ``si`` to the nearest non-empty level (or -1)."""
    if si == 0:
        i = st[S_BEST_BID]
        lo = st[S_BID_LO]
        while i >= lo and levels[0, i, L_HEAD] == -1:
            i -= 1
        st[S_BEST_BID] = i if i >= lo else -1
    else:
        i = st[S_BEST_ASK]
        hi = st[S_ASK_HI]
        while i <= hi and levels[1, i, L_HEAD] == -1:
            i += 1
        st[S_BEST_ASK] = i if i <= hi else -1


@njit(cache=True, inline="always")
def _append(levels, orders, st, s):
    """Link slot ``s`` at the back of its level's FIFO and count its lots."""
    si = orders[s, O_SIDE] - 1
    idx = orders[s, O_PRICE] - st[S_BASE]
    t = levels[si, idx, L_TAIL]
    orders[s, O_PREV] = t
    orders[s, O_NEXT] = -1
    if t == -1:
        levels[si, idx, L_HEAD] = s
    else:
        orders[t, O_NEXT] = s
    levels[si, idx, L_TAIL] = s
    levels[si, idx, L_TOTAL] += orders[s, O_LEAVES]
    if orders[s, O_STATE] == ST_ANON:
        levels[si, idx, L_ANON] += orders[s, O_LEAVES]
    if si == 0:
        if st[S_BEST_BID] == -1:
            st[S_BEST_BID] = idx
            st[S_BID_LO] = idx
        elif idx > st[S_BEST_BID]:
            st[S_BEST_BID] = idx
        elif idx < st[S_BID_LO]:
            st[S_BID_LO] = idx
    else:
        if st[S_BEST_ASK] == -1:
            st[S_BEST_ASK] = idx
            st[S_ASK_HI] = idx
        elif idx < st[S_BEST_ASK]:
            st[S_BEST_ASK] = idx
        elif idx > st[S_ASK_HI]:
            st[S_ASK_HI] = idx


@njit(cache=True, inline="always")
def _unlink(levels, orders, st, s):
    """Remove slot ``s`` from its level (not freed); keeps anonymous runs merged and best current."""
    si = orders[s, O_SIDE] - 1
    idx = orders[s, O_PRICE] - st[S_BASE]
    p = orders[s, O_PREV]
    n = orders[s, O_NEXT]
    if p == -1:
        levels[si, idx, L_HEAD] = n
    else:
        orders[p, O_NEXT] = n
    if n == -1:
        levels[si, idx, L_TAIL] = p
    else:
        orders[n, O_PREV] = p
    levels[si, idx, L_TOTAL] -= orders[s, O_LEAVES]
    if orders[s, O_STATE] == ST_ANON:
        levels[si, idx, L_ANON] -= orders[s, O_LEAVES]
    if p != -1 and n != -1 and orders[p, O_STATE] == ST_ANON and orders[n, O_STATE] == ST_ANON:
        # Two anonymous chunks became neighbours: one run of anonymous size, one chunk.
        orders[p, O_LEAVES] += orders[n, O_LEAVES]
        nn = orders[n, O_NEXT]
        orders[p, O_NEXT] = nn
        if nn == -1:
            levels[si, idx, L_TAIL] = p
        else:
            orders[nn, O_PREV] = p
        _free(orders, st, n)
    emptied_best = (si == 0 and idx == st[S_BEST_BID]) or (si == 1 and idx == st[S_BEST_ASK])
    if emptied_best and levels[si, idx, L_HEAD] == -1:
        _refresh_best(levels, st, si)


@njit(cache=True, inline="always")
def _in_ladder(st, levels, price):
    base = st[S_BASE]
    return base > 0 and base <= price < base + levels.shape[1]


@njit(cache=True)
def _grow_ladder(levels, orders, st, price):
    """Return ``(levels, ok)`` with ``price`` inside the ladder; ``ok`` is False if the span would exceed the max."""
    n = levels.shape[1]
    base = st[S_BASE]
    if base <= 0:
        st[S_BASE] = max(1, price - n // 2)
        return levels, True
    lo = price
    hi = price
    if st[S_BEST_BID] >= 0:
        while levels[0, st[S_BID_LO], L_HEAD] == -1:  # tighten the stale low bound first
            st[S_BID_LO] += 1
        lo = min(lo, base + st[S_BID_LO])
        hi = max(hi, base + st[S_BEST_BID])
    if st[S_BEST_ASK] >= 0:
        while levels[1, st[S_ASK_HI], L_HEAD] == -1:
            st[S_ASK_HI] -= 1
        lo = min(lo, base + st[S_BEST_ASK])
        hi = max(hi, base + st[S_ASK_HI])
    for head in (st[S_BSTOP_HEAD], st[S_SSTOP_HEAD]):  # a pending stop-limit rests at its price when triggered
        s = head
        while s != -1:
            if _may_rest(orders[s, O_TYPE], orders[s, O_TIF]):
                lo = min(lo, orders[s, O_PRICE])
                hi = max(hi, orders[s, O_PRICE])
            s = orders[s, O_NEXT]
    span = hi - lo + 1
    max_levels = st[S_MAXLEV]
    if span > max_levels:
        return levels, False
    n2 = n
    while n2 < 2 * span and n2 < max_levels:
        n2 *= 2
    n2 = min(n2, max_levels)
    base2 = max(1, lo - (n2 - span) // 2)
    grown = np.zeros((2, n2, NL), np.int64)
    grown[:, :, L_HEAD] = -1
    grown[:, :, L_TAIL] = -1
    shift = base - base2
    if st[S_BEST_BID] >= 0:
        a = st[S_BID_LO]
        b = st[S_BEST_BID] + 1
        grown[0, a + shift : b + shift] = levels[0, a:b]
        st[S_BID_LO] = a + shift
        st[S_BEST_BID] += shift
    if st[S_BEST_ASK] >= 0:
        a = st[S_BEST_ASK]
        b = st[S_ASK_HI] + 1
        grown[1, a + shift : b + shift] = levels[1, a:b]
        st[S_BEST_ASK] = a + shift
        st[S_ASK_HI] += shift
    st[S_BASE] = base2
    return grown, True


# -- stops ---------------------------------------------------------------------------------------


@njit(cache=True)
def _stop_insert(orders, st, s):
    """Insert a pending stop in trigger order (buys: lowest trigger first; sells: highest), ties by arrival."""
    buy = orders[s, O_SIDE] == BUY
    hk = S_BSTOP_HEAD if buy else S_SSTOP_HEAD
    tk = S_BSTOP_TAIL if buy else S_SSTOP_TAIL
    trig = orders[s, O_TRIGGER]
    c = st[tk]
    while c != -1 and ((buy and orders[c, O_TRIGGER] > trig) or (not buy and orders[c, O_TRIGGER] < trig)):
        c = orders[c, O_PREV]
    if c == -1:
        n = st[hk]
        st[hk] = s
    else:
        n = orders[c, O_NEXT]
        orders[c, O_NEXT] = s
    orders[s, O_PREV] = c
    orders[s, O_NEXT] = n
    if n == -1:
        st[tk] = s
    else:
        orders[n, O_PREV] = s
    orders[s, O_STATE] = ST_PENDING_STOP
    st[S_NSTOPS] += 1


@njit(cache=True)
def _stop_unlink(orders, st, s):
    buy = orders[s, O_SIDE] == BUY
    hk = S_BSTOP_HEAD if buy else S_SSTOP_HEAD
    tk = S_BSTOP_TAIL if buy else S_SSTOP_TAIL
    p = orders[s, O_PREV]
    n = orders[s, O_NEXT]
    if p == -1:
        st[hk] = n
    else:
        orders[p, O_NEXT] = n
    if n == -1:
        st[tk] = p
    else:
        orders[n, O_PREV] = p
    orders[s, O_STATE] = ST_ACTIVE
    st[S_NSTOPS] -= 1


# -- matching ------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _record_trade(st, price):
    st[S_TRADE] += 1
    st[S_LAST] = price
    if price > st[S_PEND_HI]:
        st[S_PEND_HI] = price
    if price < st[S_PEND_LO]:
        st[S_PEND_LO] = price
    return st[S_TRADE]


@njit(cache=True, inline="always")
def _crosses(st, side, price):
    """True if a limit order at ``price`` would take liquidity now."""
    if side == BUY:
        return st[S_BEST_ASK] >= 0 and st[S_BASE] + st[S_BEST_ASK] <= price
    return st[S_BEST_BID] >= 0 and st[S_BASE] + st[S_BEST_BID] >= price


@njit(cache=True)
def _fillable(levels, st, side, limit, need):
    """True if the opposite side holds ``need`` lots at prices no worse than ``limit`` (0: any price)."""
    base = st[S_BASE]
    total = 0
    if side == BUY:
        i = st[S_BEST_ASK]
        if i < 0:
            return False
        while i <= st[S_ASK_HI]:
            if limit > 0 and base + i > limit:
                return False
            total += levels[1, i, L_TOTAL]
            if total >= need:
                return True
            i += 1
    else:
        i = st[S_BEST_BID]
        if i < 0:
            return False
        while i >= st[S_BID_LO]:
            if limit > 0 and base + i < limit:
                return False
            total += levels[0, i, L_TOTAL]
            if total >= need:
                return True
            i -= 1
    return False


@njit(cache=True)
def _precheck(levels, st, side, order_type, tif, price, lots):
    """Reason an order cannot enter the book now (NONE if it can): empty side, post-only, FOK."""
    market = order_type in (MARKET, STOP_MARKET)
    if market:
        empty = st[S_BEST_ASK] < 0 if side == BUY else st[S_BEST_BID] < 0
        if empty:
            return R_NO_LIQUIDITY
    if tif == POST_ONLY and _crosses(st, side, price):
        return R_POST_ONLY_WOULD_TAKE
    if tif == FOK and not _fillable(levels, st, side, 0 if market else price, lots):
        return R_FOK_NOT_FILLABLE
    return R_NONE


@njit(cache=True)
def _take(st, orders, levels, htab, ev, s, limit):
    """Match taker slot ``s`` against the opposite side, best price first, FIFO within a level."""
    side = orders[s, O_SIDE]
    osi = 1 if side == BUY else 0
    base = st[S_BASE]
    leaves = orders[s, O_LEAVES]
    while leaves > 0:
        bi = st[S_BEST_ASK] if osi == 1 else st[S_BEST_BID]
        if bi < 0:
            break
        price = base + bi
        if limit > 0 and ((side == BUY and price > limit) or (side == SELL and price < limit)):
            break
        m = levels[osi, bi, L_HEAD]
        while m != -1 and leaves > 0:
            maker_leaves = orders[m, O_LEAVES]
            q = min(leaves, maker_leaves)
            leaves -= q
            maker_leaves -= q
            orders[s, O_LEAVES] = leaves
            orders[s, O_FILLED] += q
            orders[m, O_LEAVES] = maker_leaves
            orders[m, O_FILLED] += q
            levels[osi, bi, L_TOTAL] -= q
            anon = orders[m, O_STATE] == ST_ANON
            if anon:
                levels[osi, bi, L_ANON] -= q
            trade = _record_trade(st, price)
            ev = _emit(
                ev, st, EV_FILL, orders[s, O_ID], orders[s, O_OWNER], side, price, q, leaves, 0, TAKER, trade,
                orders[m, O_ID], orders[m, O_OWNER], 0, 0,
            )  # fmt: skip
            ev = _emit(
                ev, st, EV_FILL, orders[m, O_ID], orders[m, O_OWNER], orders[m, O_SIDE], price, q, maker_leaves, 0,
                MAKER, trade, orders[s, O_ID], orders[s, O_OWNER], 0, 0,
            )  # fmt: skip
            if maker_leaves == 0:
                nxt = orders[m, O_NEXT]
                levels[osi, bi, L_HEAD] = nxt
                if nxt == -1:
                    levels[osi, bi, L_TAIL] = -1
                else:
                    orders[nxt, O_PREV] = -1
                if not anon:
                    _h_delete(htab, st, orders[m, O_ID])
                _free(orders, st, m)
                m = nxt
        if levels[osi, bi, L_HEAD] == -1:
            _refresh_best(levels, st, osi)
    return ev


@njit(cache=True, inline="always")
def _finish(st, orders, htab, s):
    _h_delete(htab, st, orders[s, O_ID])
    _free(orders, st, s)


@njit(cache=True)
def _execute(st, orders, levels, htab, ev, s):
    """Take what crosses, then rest (GTC, post-only) or expire (market, IOC, FOK) the remainder."""
    order_type = orders[s, O_TYPE]
    market = order_type in (MARKET, STOP_MARKET)
    ev = _take(st, orders, levels, htab, ev, s, 0 if market else orders[s, O_PRICE])
    leaves = orders[s, O_LEAVES]
    if leaves == 0:
        _finish(st, orders, htab, s)
    elif market or orders[s, O_TIF] == IOC or orders[s, O_TIF] == FOK:
        ev = _emit_order(ev, st, orders, s, EV_CANCELLED, leaves, 0, R_IOC_REMAINDER, 0)
        _finish(st, orders, htab, s)
    else:
        orders[s, O_STATE] = ST_RESTING
        _append(levels, orders, st, s)
    return ev


@njit(cache=True)
def _trigger(st, orders, levels, htab, ev, s):
    """Enter a triggered stop as a market (stop-market) or limit (stop-limit) order with its TIF."""
    orders[s, O_STATE] = ST_ACTIVE
    ev = _emit_order(ev, st, orders, s, EV_TRIGGERED, orders[s, O_LEAVES], orders[s, O_LEAVES], 0, 0)
    reason = _precheck(
        levels, st, orders[s, O_SIDE], orders[s, O_TYPE], orders[s, O_TIF], orders[s, O_PRICE], orders[s, O_LEAVES]
    )
    if reason != R_NONE:
        ev = _emit_order(ev, st, orders, s, EV_CANCELLED, orders[s, O_LEAVES], 0, reason, 0)
        _finish(st, orders, htab, s)
        return ev
    return _execute(st, orders, levels, htab, ev, s)


@njit(cache=True, inline="always")
def _immediately_triggered(st, orders, s):
    last = st[S_LAST]
    if last <= 0:
        return False
    if orders[s, O_SIDE] == BUY:
        return orders[s, O_TRIGGER] <= last
    return orders[s, O_TRIGGER] >= last


@njit(cache=True)
def _run_stops(st, orders, levels, htab, ev):
    """Trigger every pending stop reached by the trades of this command, cascading until none is."""
    while st[S_PEND_HI] > 0:
        hi = st[S_PEND_HI]
        lo = st[S_PEND_LO]
        st[S_PEND_HI] = 0
        st[S_PEND_LO] = _NO_PRICE_LO
        if st[S_NSTOPS] == 0:
            break
        qh = -1
        qt = -1
        for buy in (True, False):
            while True:
                s = st[S_BSTOP_HEAD] if buy else st[S_SSTOP_HEAD]
                if s == -1:
                    break
                if (buy and orders[s, O_TRIGGER] > hi) or (not buy and orders[s, O_TRIGGER] < lo):
                    break
                _stop_unlink(orders, st, s)
                orders[s, O_NEXT] = -1
                if qt == -1:
                    qh = s
                else:
                    orders[qt, O_NEXT] = s
                qt = s
        s = qh
        while s != -1:
            nxt = orders[s, O_NEXT]
            ev = _trigger(st, orders, levels, htab, ev, s)
            s = nxt
    return ev


# -- commands ------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _may_rest(order_type, tif):
    return order_type in (LIMIT, STOP_LIMIT) and tif in (GTC, POST_ONLY)


@njit(cache=True)
def _submit(st, orders, levels, htab, ev, cmds, i, ladder_ok):
    oid = cmds[i, C_ID]
    side = cmds[i, C_SIDE]
    order_type = cmds[i, C_TYPE]
    tif = cmds[i, C_TIF]
    price = cmds[i, C_PRICE]
    trigger = cmds[i, C_TRIGGER]
    lots = cmds[i, C_LOTS]
    limit_priced = order_type in (LIMIT, STOP_LIMIT)
    stop = order_type in (STOP_MARKET, STOP_LIMIT)
    reason = R_NONE
    if oid <= 0:
        reason = R_BAD_ORDER_ID
    elif side != BUY and side != SELL:
        reason = R_BAD_SIDE
    elif order_type < LIMIT or order_type > STOP_LIMIT:
        reason = R_BAD_ORDER_TYPE
    elif tif < GTC or tif > POST_ONLY or (tif == POST_ONLY and order_type != LIMIT):
        reason = R_BAD_TIME_IN_FORCE
    elif lots <= 0 or lots > MAX_LOTS:
        reason = R_BAD_QUANTITY
    elif limit_priced and (price <= 0 or price > MAX_PRICE):
        reason = R_BAD_PRICE
    elif stop and (trigger <= 0 or trigger > MAX_PRICE):
        reason = R_BAD_TRIGGER
    elif h_find(htab, oid) >= 0:
        reason = R_DUPLICATE_ORDER_ID
    elif _may_rest(order_type, tif) and not ladder_ok:
        reason = R_BAD_PRICE
    elif not stop:
        reason = _precheck(levels, st, side, order_type, tif, price, lots)
    if reason != R_NONE:
        return _reject(ev, st, cmds, i, reason)
    s = _alloc(orders, st)
    orders[s, O_ID] = oid
    orders[s, O_OWNER] = cmds[i, C_OWNER]
    orders[s, O_SIDE] = side
    orders[s, O_TYPE] = order_type
    orders[s, O_TIF] = tif
    orders[s, O_PRICE] = price if limit_priced else 0
    orders[s, O_TRIGGER] = trigger if stop else 0
    orders[s, O_LEAVES] = lots
    orders[s, O_FILLED] = 0
    orders[s, O_PREV] = -1
    orders[s, O_NEXT] = -1
    orders[s, O_STATE] = ST_ACTIVE
    st[S_SEQ] += 1
    orders[s, O_SEQ] = st[S_SEQ]
    _h_insert(htab, st, oid, s)
    ev = _emit_order(ev, st, orders, s, EV_ACCEPTED, lots, lots, 0, 0)
    if not stop:
        return _execute(st, orders, levels, htab, ev, s)
    if _immediately_triggered(st, orders, s):
        return _trigger(st, orders, levels, htab, ev, s)
    _stop_insert(orders, st, s)
    return ev


@njit(cache=True, inline="always")
def _cancel(st, orders, levels, htab, ev, cmds, i):
    s = h_find(htab, cmds[i, C_ID])
    if s < 0 or orders[s, O_OWNER] != cmds[i, C_OWNER]:
        return _reject(ev, st, cmds, i, R_UNKNOWN_ORDER)
    if orders[s, O_STATE] == ST_RESTING:
        _unlink(levels, orders, st, s)
    else:
        _stop_unlink(orders, st, s)
    ev = _emit_order(ev, st, orders, s, EV_CANCELLED, orders[s, O_LEAVES], 0, R_REQUESTED, 0)
    orders[s, O_LEAVES] = 0
    _finish(st, orders, htab, s)
    return ev


@njit(cache=True)
def _amend(st, orders, levels, htab, ev, cmds, i, ladder_ok):
    s = h_find(htab, cmds[i, C_ID])
    if s < 0 or orders[s, O_OWNER] != cmds[i, C_OWNER]:
        return _reject(ev, st, cmds, i, R_UNKNOWN_ORDER)
    order_type = orders[s, O_TYPE]
    tif = orders[s, O_TIF]
    pending = orders[s, O_STATE] == ST_PENDING_STOP
    qty = cmds[i, C_LOTS]
    new_leaves = qty - orders[s, O_FILLED]
    price = orders[s, O_PRICE]
    trigger = orders[s, O_TRIGGER]
    if cmds[i, C_PRICE] != 0 and (order_type in (LIMIT, STOP_LIMIT)):
        price = cmds[i, C_PRICE]
    if cmds[i, C_TRIGGER] != 0 and pending:
        trigger = cmds[i, C_TRIGGER]
    reason = R_NONE
    if qty <= 0 or qty > MAX_LOTS or new_leaves <= 0:
        reason = R_BAD_QUANTITY
    elif price < 0 or price > MAX_PRICE or (price == 0 and (order_type in (LIMIT, STOP_LIMIT))):
        reason = R_BAD_PRICE
    elif trigger < 0 or trigger > MAX_PRICE:
        reason = R_BAD_TRIGGER
    elif price != orders[s, O_PRICE] and _may_rest(order_type, tif) and not ladder_ok:
        reason = R_BAD_PRICE
    elif not pending and tif == POST_ONLY and _crosses(st, orders[s, O_SIDE], price):
        reason = R_POST_ONLY_WOULD_TAKE
    if reason != R_NONE:
        return _reject(ev, st, cmds, i, reason)
    kept = price == orders[s, O_PRICE] and trigger == orders[s, O_TRIGGER] and new_leaves <= orders[s, O_LEAVES]
    if kept:
        if not pending:
            si = orders[s, O_SIDE] - 1
            levels[si, price - st[S_BASE], L_TOTAL] -= orders[s, O_LEAVES] - new_leaves
        orders[s, O_LEAVES] = new_leaves
        return _emit_order(ev, st, orders, s, EV_AMENDED, qty, new_leaves, 0, 1)
    if pending:
        _stop_unlink(orders, st, s)
    else:
        _unlink(levels, orders, st, s)
    orders[s, O_STATE] = ST_ACTIVE
    orders[s, O_PRICE] = price
    orders[s, O_TRIGGER] = trigger
    orders[s, O_LEAVES] = new_leaves
    st[S_SEQ] += 1
    orders[s, O_SEQ] = st[S_SEQ]
    ev = _emit_order(ev, st, orders, s, EV_AMENDED, qty, new_leaves, 0, 0)
    if not pending:
        return _execute(st, orders, levels, htab, ev, s)
    if _immediately_triggered(st, orders, s):
        return _trigger(st, orders, levels, htab, ev, s)
    _stop_insert(orders, st, s)
    return ev


@njit(cache=True)
def _set_level(st, orders, levels, htab, ev, cmds, i, ladder_ok):
    side = cmds[i, C_SIDE]
    price = cmds[i, C_PRICE]
    lots = cmds[i, C_LOTS]
    reason = R_NONE
    if side != BUY and side != SELL:
        reason = R_BAD_SIDE
    elif price <= 0 or price > MAX_PRICE:
        reason = R_BAD_PRICE
    elif lots < 0 or lots > MAX_LOTS:
        reason = R_BAD_QUANTITY
    elif lots > 0 and not ladder_ok:
        reason = R_BAD_PRICE
    if reason != R_NONE:
        return _reject(ev, st, cmds, i, reason)
    if lots > 0:
        # The replayed book is authoritative: a level that crosses our resting orders means the
        # market traded through them. Fill them whole (we are makers, the taker is anonymous) and
        # drop the crossed anonymous size without trades.
        osi = 1 if side == BUY else 0
        while _crosses(st, side, price):
            bi = st[S_BEST_ASK] if osi == 1 else st[S_BEST_BID]
            level_price = st[S_BASE] + bi
            m = levels[osi, bi, L_HEAD]
            while m != -1:
                nxt = orders[m, O_NEXT]
                if orders[m, O_STATE] != ST_ANON:
                    q = orders[m, O_LEAVES]
                    orders[m, O_LEAVES] = 0
                    orders[m, O_FILLED] += q
                    trade = _record_trade(st, level_price)
                    ev = _emit(
                        ev, st, EV_FILL, 0, ANONYMOUS_OWNER, side, level_price, q, 0, 0, TAKER, trade,
                        orders[m, O_ID], orders[m, O_OWNER], 0, 0,
                    )  # fmt: skip
                    ev = _emit(
                        ev, st, EV_FILL, orders[m, O_ID], orders[m, O_OWNER], orders[m, O_SIDE], level_price, q, 0, 0,
                        MAKER, trade, 0, ANONYMOUS_OWNER, 0, 0,
                    )  # fmt: skip
                    _h_delete(htab, st, orders[m, O_ID])
                _free(orders, st, m)
                m = nxt
            levels[osi, bi, L_HEAD] = -1
            levels[osi, bi, L_TAIL] = -1
            levels[osi, bi, L_TOTAL] = 0
            levels[osi, bi, L_ANON] = 0
            _refresh_best(levels, st, osi)
    if not _in_ladder(st, levels, price):
        return ev  # lots == 0 outside the ladder: no anonymous size there to remove
    si = side - 1
    idx = price - st[S_BASE]
    current = levels[si, idx, L_ANON]
    if lots > current:
        add = lots - current
        t = levels[si, idx, L_TAIL]
        if t != -1 and orders[t, O_STATE] == ST_ANON:
            orders[t, O_LEAVES] += add
            levels[si, idx, L_TOTAL] += add
            levels[si, idx, L_ANON] += add
        else:
            s = _alloc(orders, st)
            orders[s, O_ID] = 0
            orders[s, O_OWNER] = ANONYMOUS_OWNER
            orders[s, O_SIDE] = side
            orders[s, O_TYPE] = LIMIT
            orders[s, O_TIF] = GTC
            orders[s, O_PRICE] = price
            orders[s, O_TRIGGER] = 0
            orders[s, O_LEAVES] = add
            orders[s, O_FILLED] = 0
            orders[s, O_STATE] = ST_ANON
            st[S_SEQ] += 1
            orders[s, O_SEQ] = st[S_SEQ]
            _append(levels, orders, st, s)
    elif lots < current:
        remove = current - lots
        m = levels[si, idx, L_TAIL]
        while remove > 0 and m != -1:  # anonymous size leaves from the back of the queue first
            prv = orders[m, O_PREV]
            if orders[m, O_STATE] == ST_ANON:
                q = min(remove, orders[m, O_LEAVES])
                remove -= q
                orders[m, O_LEAVES] -= q
                levels[si, idx, L_TOTAL] -= q
                levels[si, idx, L_ANON] -= q
                if orders[m, O_LEAVES] == 0:
                    _unlink(levels, orders, st, m)
                    _free(orders, st, m)
            m = prv
    return ev


@njit(cache=True)
def process(st, orders, levels, htab, cmds, ev):
    """Apply ``cmds`` in order, appending events to ``ev`` from row ``st[S_NEV]``.

    Returns ``(orders, levels, htab, ev)``: the same arrays, or larger copies
    where one had to grow. ``st`` is updated in place; ``st[S_NEV]`` is the
    event count. All arrays must be C-contiguous int64.
    """
    sv = _unowned(st)
    ov = _unowned(orders)
    lv = _unowned(levels)
    hv = _unowned(htab)
    cv = _unowned(cmds)
    evv = _unowned(ev)
    for i in range(cv.shape[0]):
        if sv[S_NFREE] < 2:
            orders = _grow_orders(ov, sv)
            ov = _unowned(orders)
        if 2 * (sv[S_HCOUNT] + 1) > hv.shape[0]:
            htab = _h_grow(hv, sv)
            hv = _unowned(htab)
        kind = cv[i, C_KIND]
        price = cv[i, C_PRICE]
        need = False
        if kind == CMD_SUBMIT:
            need = _may_rest(cv[i, C_TYPE], cv[i, C_TIF])
        elif kind == CMD_AMEND:
            need = True
        elif kind == CMD_SET_LEVEL:
            need = cv[i, C_LOTS] > 0
        ladder_ok = True
        if need and 0 < price <= MAX_PRICE and not _in_ladder(sv, lv, price):
            grown, ladder_ok = _grow_ladder(lv, ov, sv, price)
            if grown.ctypes.data != lv.ctypes.data:
                levels = grown
                lv = _unowned(levels)
        sv[S_TS] = cv[i, C_TS]
        sv[S_CMD_SEQ] = sv[S_CMD]
        sv[S_CMD] += 1
        if kind == CMD_SUBMIT:
            evv = _submit(sv, ov, lv, hv, evv, cv, i, ladder_ok)
        elif kind == CMD_CANCEL:
            evv = _cancel(sv, ov, lv, hv, evv, cv, i)
        elif kind == CMD_AMEND:
            evv = _amend(sv, ov, lv, hv, evv, cv, i, ladder_ok)
        elif kind == CMD_SET_LEVEL:
            evv = _set_level(sv, ov, lv, hv, evv, cv, i, ladder_ok)
        else:
            evv = _reject(evv, sv, cv, i, R_BAD_COMMAND)
        if sv[S_PEND_HI] > 0:
            evv = _run_stops(sv, ov, lv, hv, evv)
    if evv.ctypes.data == ev.ctypes.data:
        evv = ev  # not grown: hand back the caller's own array, not the unowned view
    return orders, levels, htab, evv


# -- queries -------------------------------------------------------------------------------------


@njit(cache=True)
def depth(st, levels, si, n):
    """Up to ``n`` non-empty levels of side ``si`` (0 bids, 1 asks), best first: rows (price, total, anonymous)."""
    out = np.zeros((max(0, min(n, levels.shape[1])), 3), np.int64)
    k = 0
    base = st[S_BASE]
    if si == 0:
        i = st[S_BEST_BID]
        if i >= 0:
            while i >= st[S_BID_LO] and k < n:
                if levels[0, i, L_HEAD] != -1:
                    out[k, 0] = base + i
                    out[k, 1] = levels[0, i, L_TOTAL]
                    out[k, 2] = levels[0, i, L_ANON]
                    k += 1
                i -= 1
    else:
        i = st[S_BEST_ASK]
        if i >= 0:
            while i <= st[S_ASK_HI] and k < n:
                if levels[1, i, L_HEAD] != -1:
                    out[k, 0] = base + i
                    out[k, 1] = levels[1, i, L_TOTAL]
                    out[k, 2] = levels[1, i, L_ANON]
                    k += 1
                i += 1
    return out[:k]


@njit(cache=True)
def lots_ahead(st, orders, levels, htab, oid):
    """Lots queued ahead of resting order ``oid`` at its level, or -1 if it is not resting."""
    s = h_find(htab, oid)
    if s < 0 or orders[s, O_STATE] != ST_RESTING:
        return -1
    si = orders[s, O_SIDE] - 1
    m = levels[si, orders[s, O_PRICE] - st[S_BASE], L_HEAD]
    ahead = 0
    while m != s:
        ahead += orders[m, O_LEAVES]
        m = orders[m, O_NEXT]
    return ahead
