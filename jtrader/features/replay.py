"""Replay lake rows through the feature engines: the one offline driver, used by Spark and pandas alike.

The functions here take the rows of ONE instrument (any order) as pandas
frames, put them in one deterministic receive-time order
(:func:`order_book_events`), rebuild the book with the venue's sequencing
rules and feed the same :class:`BookFeatureEngine` a live strategy uses.
Spark distributes them per instrument with ``applyInPandas``
(:mod:`spark_jobs.features.build`); nothing here knows about Spark.

The book of an instrument carries across days (a capture continues without a
new snapshot), so the unit of work is an instrument over a span of days
starting at a snapshot, not one day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from jtrader.domain import BookDelta, BookSnapshot, Instrument, InstrumentRegistry
from jtrader.domain.enums import Venue
from jtrader.features.bars import BarFeatureConfig, BarFeatureEngine
from jtrader.features.book import BookFeatureConfig, BookFeatureEngine
from jtrader.features.labels import add_labels
from jtrader.gateways.binance.book_sync import BinanceBookSync

__all__ = [
    "EVENT_COLUMNS",
    "bar_features_from_rows",
    "book_features_from_events",
    "book_features_from_lake",
    "book_sync_for",
    "snapshot_start",
    "order_book_events",
    "instrument_for",
    "date_of_ns",
]

KIND_SNAPSHOT, KIND_DELTA, KIND_TRADE = 0, 1, 2
# The union of the three datasets' columns the replay needs; absent ones are filled.
EVENT_COLUMNS = [
    "kind",
    "ts_recv",
    "ts_event",
    "update_id",
    "first_update_id",
    "prev_update_id",
    "side",
    "level",
    "price",
    "size",
    "aggressor",
    "trade_id",
]
_FUTURES = {Venue.BINANCE_USDM, Venue.BINANCE_COINM}


def instrument_for(venue: str, symbol: str, registry: InstrumentRegistry | None = None) -> Instrument:
    """The instrument of a lake partition; raises UnknownInstrument naming the known ones."""
    if registry is None:
        from jtrader.gateways.instruments import default_registry

        registry = default_registry()
    return registry.find(symbol, venue)


def book_sync_for(instrument: Instrument) -> BinanceBookSync:
    """The sequencing book keeper of the instrument's venue (Binance markets only so far)."""
    venue = instrument.id.venue
    if venue not in (Venue.BINANCE, *_FUTURES):
        raise ValueError(f"no book sequencing rules for venue {venue}: book features need a Binance market")
    return BinanceBookSync(instrument, futures=venue in _FUTURES)


def date_of_ns(ts_ns: int) -> dt.date:
    """The UTC date of a ns timestamp."""
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=dt.UTC).date()


def order_book_events(
    snapshots: pd.DataFrame | None, deltas: pd.DataFrame | None, trades: pd.DataFrame | None
) -> pd.DataFrame:
    """Union the rows of one instrument into :data:`EVENT_COLUMNS` in one total, deterministic order.

    Order: ``ts_recv``, ``ts_event``, kind (snapshot, delta, trade), update id,
    trade id, side, level, price. Rows of one depth message stay together.
    """
    frames = []
    for kind, frame in ((KIND_SNAPSHOT, snapshots), (KIND_DELTA, deltas), (KIND_TRADE, trades)):
        if frame is None or frame.empty:
            continue
        part = pd.DataFrame({"kind": np.full(len(frame), kind, dtype=np.int8)})
        for column in EVENT_COLUMNS[1:]:
            if column in frame.columns:
                part[column] = frame[column].to_numpy()
        frames.append(part)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in EVENT_COLUMNS})
    events = pd.concat(frames, ignore_index=True)
    defaults = {"update_id": -1, "first_update_id": -1, "prev_update_id": -1, "level": -1}
    for column in EVENT_COLUMNS:
        if column not in events.columns:
            events[column] = defaults.get(column, "" if column in ("side", "aggressor", "trade_id") else np.nan)
    for column, default in defaults.items():
        events[column] = events[column].fillna(default).astype(np.int64)
    for column in ("side", "aggressor", "trade_id"):
        events[column] = events[column].fillna("").astype(str)
    keys = ["ts_recv", "ts_event", "kind", "update_id", "trade_id", "side", "level", "price"]
    return events.sort_values(keys, kind="stable").reset_index(drop=True)[EVENT_COLUMNS]


def book_features_from_events(
    events: pd.DataFrame, instrument: Instrument, config: BookFeatureConfig, with_labels: bool = True
) -> pd.DataFrame:
    """Replay ordered events (from :func:`order_book_events`) and return one row per sample.

    Columns: ``ts`` (int ns), the engine's features, ``date``; with labels
    (:func:`jtrader.features.labels.add_labels`) if ``with_labels``.
    """
    sync = book_sync_for(instrument)
    engine = BookFeatureEngine(instrument, config)
    tick = instrument.ticks_to_float(1)
    lot = instrument.lots_to_float(1)
    n = len(events)
    kind = events["kind"].to_numpy()
    ts_recv = events["ts_recv"].to_numpy(dtype=np.int64)
    ts_event = events["ts_event"].to_numpy(dtype=np.int64)
    update_id = events["update_id"].to_numpy()
    first_id = events["first_update_id"].to_numpy()
    prev_id = events["prev_update_id"].to_numpy()
    is_bid = (events["side"].to_numpy() == "bid").tolist()
    ticks = np.rint(events["price"].to_numpy(dtype=np.float64) / tick).astype(np.int64).tolist()
    lots = np.rint(events["size"].to_numpy(dtype=np.float64) / lot).astype(np.int64).tolist()
    buy = (events["aggressor"].to_numpy() == "buy").tolist()
    samples: list[dict[str, float]] = []
    iid = instrument.id
    i = 0
    while i < n:
        k = kind[i]
        if k == KIND_TRADE:
            samples += engine.on_trade(int(ts_recv[i]), lots[i], buy[i])
            i += 1
            continue
        # One message: consecutive rows of the same kind, receive time and update id.
        j = i + 1
        while j < n and kind[j] == k and ts_recv[j] == ts_recv[i] and update_id[j] == update_id[i]:
            j += 1
        bids = [(ticks[r], lots[r]) for r in range(i, j) if is_bid[r]]
        asks = [(ticks[r], lots[r]) for r in range(i, j) if not is_bid[r]]
        ts_r, ts_e = int(ts_recv[i]), int(ts_event[i])
        if k == KIND_SNAPSHOT:
            bids.sort(reverse=True)
            asks.sort()
            sync.on_snapshot(BookSnapshot(iid, bids, asks, int(update_id[i]), ts_e, ts_r))
            changed = True
        else:
            delta = BookDelta(iid, bids, asks, int(first_id[i]), int(update_id[i]), int(prev_id[i]), ts_e, ts_r)
            changed = sync.on_delta(delta)
        if changed:
            samples += engine.on_book(ts_r, sync.book) if sync.is_valid else engine.advance(ts_r - 1)
        i = j
    if n:
        samples += engine.advance(int(ts_recv[-1]))
    frame = pd.DataFrame.from_records(samples)
    if frame.empty:
        return frame
    frame["ts"] = frame["ts"].astype(np.int64)
    if with_labels:
        frame = add_labels(frame, config.label_horizons, config.sample_ns, price="mid")
    frame["date"] = [date_of_ns(int(t)) for t in frame["ts"]]
    return frame


def bar_features_from_rows(bars: pd.DataFrame, config: BarFeatureConfig, with_labels: bool = True) -> pd.DataFrame:
    """Feed one instrument's ``bars_1m`` rows (any order) to :class:`BarFeatureEngine`; one row per bar."""
    ordered = bars.sort_values("ts_event", kind="stable")
    engine = BarFeatureEngine(config)
    rows = [
        engine.on_bar(int(t), o, h, lo, c, v)
        for t, o, h, lo, c, v in zip(
            ordered["ts_event"].to_numpy(dtype=np.int64).tolist(),
            ordered["open"].tolist(),
            ordered["high"].tolist(),
            ordered["low"].tolist(),
            ordered["close"].tolist(),
            ordered["volume"].tolist(),
            strict=True,
        )
    ]
    frame = pd.DataFrame.from_records(rows)
    if frame.empty:
        return frame
    frame["ts"] = frame["ts"].astype(np.int64)
    if with_labels:
        frame = add_labels(frame, config.label_horizons, 60_000_000_000, price="close")
    frame["date"] = [date_of_ns(int(t)) for t in frame["ts"]]
    return frame


def book_features_from_lake(
    lake_root: str | object,
    venue: str,
    symbol: str,
    start: dt.date,
    end: dt.date,
    config: BookFeatureConfig,
    with_labels: bool = True,
) -> pd.DataFrame:
    """Book features of one instrument for the dates ``start..end`` (inclusive), in process (no Spark).

    Replays from the latest snapshot on or before ``start`` so the book is
    whole; returns only samples dated ``start..end``.
    """
    from pathlib import Path

    from jtrader.storage.lake import Lake

    lake = Lake(Path(str(lake_root)))
    first = snapshot_start(lake, venue, symbol, start)
    kw = {"venue": venue, "symbol": symbol, "start": first, "end": end}
    events = order_book_events(
        lake.read("book_snapshots", **kw), lake.read("book_deltas", **kw), lake.read("trades", **kw)
    )
    frame = book_features_from_events(events, instrument_for(venue, symbol), config, with_labels)
    if frame.empty:
        return frame
    return frame[(frame["date"] >= start) & (frame["date"] <= end)].reset_index(drop=True)


def snapshot_start(lake: object, venue: str, symbol: str, start: dt.date) -> dt.date:
    """The date of the latest book snapshot of the instrument on or before ``start`` (``start`` if none)."""
    from jtrader.storage.lake import Lake

    assert isinstance(lake, Lake)
    dates = [k.date for k in lake.partitions("book_snapshots") if k.venue == venue and k.symbol == symbol]
    before = [d for d in dates if d <= start]
    return max(before) if before else start
