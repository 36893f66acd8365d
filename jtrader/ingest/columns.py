"""Columnar buffers that turn market-data events into lake tables.

Events keep prices in ticks and sizes in lots; the buffers hold those
integers in compact arrays and convert to the lake's float64 columns once,
vectorised, when a table is built (``ticks * tick / 10**precision`` is
correctly rounded, so every value is the exact decimal's nearest double).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from jtrader.domain import Bar, BookDelta, BookSnapshot, Instrument, Quote, Trade
from jtrader.storage.lake import DATASETS

__all__ = ["DatasetBuffer", "EventColumns", "NS_PER_DAY"]

NS_PER_DAY = 86_400 * 1_000_000_000


class DatasetBuffer:
    """Rows of one dataset for one instrument, kept as typed arrays."""

    def __init__(self, dataset: str, instrument: Instrument, price_cols: tuple[str, ...], size_cols: tuple[str, ...]):
        self.dataset = dataset
        self.instrument = instrument
        self.schema = DATASETS[dataset]
        self._price_cols = set(price_cols)
        self._size_cols = set(size_cols)
        self.columns: dict[str, array | list] = {}
        for field in self.schema:
            if field.name in self._price_cols or field.name in self._size_cols or pa.types.is_integer(field.type):
                self.columns[field.name] = array("q")
            elif pa.types.is_floating(field.type):
                self.columns[field.name] = array("d")
            else:
                self.columns[field.name] = []

    def __len__(self) -> int:
        return len(self.columns["ts_recv"])

    def _column(self, name: str, values: array | list) -> pa.Array:
        field = self.schema.field(name)
        if name in self._price_cols or name in self._size_cols:
            raw, precision = (
                (self.instrument.price_increment.raw, self.instrument.price_increment.precision)
                if name in self._price_cols
                else (self.instrument.size_increment.raw, self.instrument.size_increment.precision)
            )
            assert isinstance(values, array)
            ints = np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)
            return pa.array((ints * raw) / float(10**precision), type=field.type)
        if isinstance(values, array):
            dtype = np.int64 if values.typecode == "q" else np.float64
            arr = np.frombuffer(values, dtype=dtype) if len(values) else np.zeros(0, dtype)
            return pa.array(arr, type=field.type)
        return pa.array(values, type=field.type)

    def tables_by_date(self) -> Iterator[tuple[int, pa.Table]]:
        """Yield ``(days since epoch, table)`` for each UTC day of ``ts_event``, rows in arrival order."""
        if not len(self):
            return
        table = pa.table(
            {name: self._column(name, values) for name, values in self.columns.items()}, schema=self.schema
        )
        ts_event = self.columns["ts_event"]
        assert isinstance(ts_event, array)
        days = np.frombuffer(ts_event, dtype=np.int64) // NS_PER_DAY
        for day in np.unique(days):
            mask = days == day
            yield int(day), table if mask.all() else table.filter(pa.array(mask))


class EventColumns:
    """Accumulates events of one source into per-dataset, per-instrument buffers."""

    def __init__(self) -> None:
        self.buffers: dict[tuple[str, object], DatasetBuffer] = {}

    def _buffer(
        self, dataset: str, instrument: Instrument, prices: tuple[str, ...], sizes: tuple[str, ...]
    ) -> DatasetBuffer:
        key = (dataset, instrument.id)
        buffer = self.buffers.get(key)
        if buffer is None:
            buffer = self.buffers[key] = DatasetBuffer(dataset, instrument, prices, sizes)
        return buffer

    def add_trade(self, instrument: Instrument, event: Trade) -> None:
        c = self._buffer("trades", instrument, ("price",), ("size",)).columns
        c["ts_event"].append(event.ts_event)
        c["ts_recv"].append(event.ts_recv)
        c["price"].append(event.price_ticks)
        c["size"].append(event.size_lots)
        c["aggressor"].append(event.aggressor.value)
        c["trade_id"].append(event.trade_id)

    def add_agg_trade(self, instrument: Instrument, event: Trade, first_trade_id: int, last_trade_id: int) -> None:
        """An aggregate trade: ``event.trade_id`` is the aggregate id (digits), the fills are first..last."""
        c = self._buffer("agg_trades", instrument, ("price",), ("size",)).columns
        c["ts_event"].append(event.ts_event)
        c["ts_recv"].append(event.ts_recv)
        c["price"].append(event.price_ticks)
        c["size"].append(event.size_lots)
        c["aggressor"].append(event.aggressor.value)
        c["agg_trade_id"].append(int(event.trade_id))
        c["first_trade_id"].append(first_trade_id)
        c["last_trade_id"].append(last_trade_id)

    def add_quote(self, instrument: Instrument, event: Quote) -> None:
        c = self._buffer("quotes", instrument, ("bid_price", "ask_price"), ("bid_size", "ask_size")).columns
        c["ts_event"].append(event.ts_event)
        c["ts_recv"].append(event.ts_recv)
        c["bid_price"].append(event.bid_ticks)
        c["bid_size"].append(event.bid_lots)
        c["ask_price"].append(event.ask_ticks)
        c["ask_size"].append(event.ask_lots)
        c["update_id"].append(event.update_id)

    def add_delta(self, instrument: Instrument, event: BookDelta) -> None:
        c = self._buffer("book_deltas", instrument, ("price",), ("size",)).columns
        for side, levels in (("bid", event.bids), ("ask", event.asks)):
            n = len(levels)
            if not n:
                continue
            c["ts_event"].extend([event.ts_event] * n)
            c["ts_recv"].extend([event.ts_recv] * n)
            c["update_id"].extend([event.last_update_id] * n)
            c["first_update_id"].extend([event.first_update_id] * n)
            c["prev_update_id"].extend([event.prev_update_id] * n)
            c["side"].extend([side] * n)
            c["price"].extend([level[0] for level in levels])
            c["size"].extend([level[1] for level in levels])

    def add_snapshot(self, instrument: Instrument, event: BookSnapshot) -> None:
        c = self._buffer("book_snapshots", instrument, ("price",), ("size",)).columns
        for side, levels in (("bid", event.bids), ("ask", event.asks)):
            n = len(levels)
            c["ts_event"].extend([event.ts_event] * n)
            c["ts_recv"].extend([event.ts_recv] * n)
            c["update_id"].extend([event.last_update_id] * n)
            c["side"].extend([side] * n)
            c["level"].extend(range(n))
            c["price"].extend([level[0] for level in levels])
            c["size"].extend([level[1] for level in levels])

    def add_bar(self, instrument: Instrument, event: Bar) -> None:
        c = self._buffer("bars_1m", instrument, ("open", "high", "low", "close"), ()).columns
        c["ts_event"].append(event.ts_event)
        c["ts_recv"].append(event.ts_recv)
        c["open"].append(event.open_ticks)
        c["high"].append(event.high_ticks)
        c["low"].append(event.low_ticks)
        c["close"].append(event.close_ticks)
        c["volume"].append(event.volume)
        c["quote_volume"].append(event.quote_volume)
        c["trade_count"].append(event.trade_count)
