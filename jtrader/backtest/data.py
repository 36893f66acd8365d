"""Lake datasets to one time-ordered stream of domain events for the replay.

:func:`load_events` reads trades, quotes, book snapshots and deltas, and
1-minute bars of several instruments (and venues) from the lake, converts
prices and sizes to ticks and lots exactly (the lake's doubles round back to
the venue's decimals), and merges them by time. Book deltas are put in order
behind the first snapshot as the venue prescribes: deltas before the first
snapshot are dropped, as are deltas it already contains (``update_id <=
lastUpdateId``); buffered deltas it does not contain follow it at once.

At equal times the order is fixed: snapshot, delta, trade, quote, bar, then
instrument order, then the lake's row order; so the stream is deterministic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from jtrader.domain import Bar, BookDelta, BookSnapshot, Instrument, MarketEvent, Quote, Side, Trade
from jtrader.storage.lake import Lake

__all__ = ["load_events", "DATASET_NAMES", "bar_arrays"]

DATASET_NAMES = ("book_snapshots", "book_deltas", "trades", "quotes", "bars_1m")
_PRIORITY = {name: i for i, name in enumerate(DATASET_NAMES)}
_MINUTE_NS = 60_000_000_000


def _ticks(instrument: Instrument, values: np.ndarray) -> np.ndarray:
    raw, precision = instrument.price_increment.raw, instrument.price_increment.precision
    return np.rint(values * (10.0**precision) / raw).astype(np.int64)


def _lots(instrument: Instrument, values: np.ndarray) -> np.ndarray:
    raw, precision = instrument.size_increment.raw, instrument.size_increment.precision
    return np.rint(values * (10.0**precision) / raw).astype(np.int64)


def _col(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()


def bar_arrays(
    lake: Lake, instrument: Instrument, start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, np.ndarray]:
    """The instrument's 1-minute bars as arrays: ``ts`` (close time, ns), ``open/high/low/close`` (ticks)."""
    table = lake.read_table(
        "bars_1m", venue=instrument.id.venue.value, symbol=instrument.id.symbol, start=start, end=end
    )
    return {
        "ts": _col(table, "ts_event").astype(np.int64),
        "open": _ticks(instrument, _col(table, "open")),
        "high": _ticks(instrument, _col(table, "high")),
        "low": _ticks(instrument, _col(table, "low")),
        "close": _ticks(instrument, _col(table, "close")),
    }


def _bars(instrument: Instrument, table: pa.Table, key: str) -> list[tuple[int, MarketEvent]]:
    iid = instrument.id
    o, h, lo, c = (_ticks(instrument, _col(table, n)).tolist() for n in ("open", "high", "low", "close"))
    vol, qv = _col(table, "volume").tolist(), _col(table, "quote_volume").tolist()
    count, te, tr = (
        _col(table, "trade_count").tolist(),
        _col(table, "ts_event").tolist(),
        _col(table, "ts_recv").tolist(),
    )
    t = te if key == "ts_event" else tr
    return [
        (t[i], Bar(iid, o[i], h[i], lo[i], c[i], vol[i], qv[i], count[i], _MINUTE_NS, te[i], tr[i]))
        for i in range(len(o))
    ]


def _trades(instrument: Instrument, table: pa.Table, key: str) -> list[tuple[int, MarketEvent]]:
    iid = instrument.id
    p = _ticks(instrument, _col(table, "price")).tolist()
    q = _lots(instrument, _col(table, "size")).tolist()
    side = [Side.BUY if a == "buy" else Side.SELL for a in table.column("aggressor").to_pylist()]
    ids = table.column("trade_id").to_pylist()
    te, tr = _col(table, "ts_event").tolist(), _col(table, "ts_recv").tolist()
    t = te if key == "ts_event" else tr
    return [(t[i], Trade(iid, p[i], q[i], side[i], ids[i], te[i], tr[i])) for i in range(len(p)) if q[i] > 0]


def _quotes(instrument: Instrument, table: pa.Table, key: str) -> list[tuple[int, MarketEvent]]:
    iid = instrument.id
    bp, ap = (
        _ticks(instrument, _col(table, "bid_price")).tolist(),
        _ticks(instrument, _col(table, "ask_price")).tolist(),
    )
    bq, aq = _lots(instrument, _col(table, "bid_size")).tolist(), _lots(instrument, _col(table, "ask_size")).tolist()
    uid = _col(table, "update_id").tolist()
    te, tr = _col(table, "ts_event").tolist(), _col(table, "ts_recv").tolist()
    t = te if key == "ts_event" else tr
    return [
        (t[i], Quote(iid, bp[i], bq[i], ap[i], aq[i], te[i], tr[i], uid[i]))
        for i in range(len(bp))
        if 0 < bp[i] < ap[i]
    ]


def _groups(update_ids: np.ndarray) -> list[tuple[int, int]]:
    if len(update_ids) == 0:
        return []
    cuts = np.flatnonzero(np.diff(update_ids) != 0) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(update_ids)]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _book(instrument: Instrument, snaps: pa.Table, deltas: pa.Table, key: str) -> list[tuple[int, MarketEvent]]:
    iid = instrument.id
    out: list[tuple[int, MarketEvent]] = []
    snapshot: BookSnapshot | None = None
    snap_t = 0
    if snaps.num_rows:
        uid = _col(snaps, "update_id")
        first_end = _groups(uid)[0][1]
        s = snaps.slice(0, first_end)
        p = _ticks(instrument, _col(s, "price")).tolist()
        q = _lots(instrument, _col(s, "size")).tolist()
        sides = s.column("side").to_pylist()
        bids = sorted(((p[i], q[i]) for i in range(len(p)) if sides[i] == "bid" and q[i] > 0), reverse=True)
        asks = sorted((p[i], q[i]) for i in range(len(p)) if sides[i] == "ask" and q[i] > 0)
        te, tr = int(_col(s, "ts_event")[0]), int(_col(s, "ts_recv")[0])
        snapshot = BookSnapshot(iid, bids, asks, int(uid[0]), te, tr)
        snap_t = te if key == "ts_event" else tr
        out.append((snap_t, snapshot))
    if snapshot is None or not deltas.num_rows:
        return out
    uid = _col(deltas, "update_id")
    order = np.argsort(uid, kind="stable")  # venue sequence order
    deltas = deltas.take(pa.array(order))
    uid = uid[order]
    p = _ticks(instrument, _col(deltas, "price")).tolist()
    q = _lots(instrument, _col(deltas, "size")).tolist()
    sides = deltas.column("side").to_pylist()
    first, prev = _col(deltas, "first_update_id").tolist(), _col(deltas, "prev_update_id").tolist()
    te, tr = _col(deltas, "ts_event").tolist(), _col(deltas, "ts_recv").tolist()
    tk = te if key == "ts_event" else tr
    last_t = snap_t
    for a, b in _groups(uid):
        u = int(uid[a])
        if u <= snapshot.last_update_id:
            continue
        bids = [(p[i], q[i]) for i in range(a, b) if sides[i] == "bid"]
        asks = [(p[i], q[i]) for i in range(a, b) if sides[i] == "ask"]
        last_t = max(last_t, tk[a])  # buffered deltas follow the snapshot at once; times never go back
        out.append((last_t, BookDelta(iid, bids, asks, min(first[a], u), u, prev[a], te[a], tr[a])))
    return out


def load_events(
    lake: Lake,
    instruments: Sequence[Instrument],
    datasets: Sequence[str] = ("bars_1m",),
    start: dt.date | None = None,
    end: dt.date | None = None,
    time_key: str = "ts_event",
) -> list[MarketEvent]:
    """Every event of ``datasets`` for ``instruments`` between the dates (inclusive), in replay order.

    ``time_key`` is ``ts_event`` (venue time; the default) or ``ts_recv`` (the
    recorder's clock). Binance spot quotes carry no venue time: their
    ``ts_event`` is the receive time.
    """
    if time_key not in ("ts_event", "ts_recv"):
        raise ValueError(f"time_key: expected 'ts_event' or 'ts_recv', got {time_key!r}")
    unknown = [d for d in datasets if d not in _PRIORITY]
    if unknown:
        raise ValueError(f"datasets: unknown {unknown}; expected some of {', '.join(DATASET_NAMES)}")
    keyed: list[tuple[int, int, int, int, MarketEvent]] = []
    for n, instrument in enumerate(instruments):
        venue, symbol = instrument.id.venue.value, instrument.id.symbol

        def read(name: str, venue: str = venue, symbol: str = symbol) -> pa.Table:
            return lake.read_table(name, venue=venue, symbol=symbol, start=start, end=end)

        streams: list[tuple[str, list[tuple[int, MarketEvent]]]] = []
        if "book_deltas" in datasets or "book_snapshots" in datasets:
            empty = lake.schema("book_deltas").empty_table()
            deltas = read("book_deltas") if "book_deltas" in datasets else empty
            book = _book(instrument, read("book_snapshots"), deltas, time_key)
            streams.append(("book_snapshots", [e for e in book if type(e[1]) is BookSnapshot]))
            streams.append(("book_deltas", [e for e in book if type(e[1]) is BookDelta]))
        if "trades" in datasets:
            streams.append(("trades", _trades(instrument, read("trades"), time_key)))
        if "quotes" in datasets:
            streams.append(("quotes", _quotes(instrument, read("quotes"), time_key)))
        if "bars_1m" in datasets:
            streams.append(("bars_1m", _bars(instrument, read("bars_1m"), time_key)))
        for name, events in streams:
            prio = _PRIORITY[name]
            keyed.extend((t, prio, n, i, e) for i, (t, e) in enumerate(events))
    keyed.sort(key=lambda row: row[:4])
    return [row[4] for row in keyed]
