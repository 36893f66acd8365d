"""Order-book features, defined once, computed incrementally from book and trade events.

:class:`BookFeatureEngine` is the single definition of every book feature. It
is fed the events a strategy sees (the book after each applied depth message,
each public trade) in receive-time order and emits one :class:`dict` of
features per sampling instant. Live and backtest strategies call it from
``on_book``/``on_trade``; the Spark job (:mod:`spark_jobs.features`) runs the
very same object over lake rows per instrument, so offline and online values
are equal by construction.

Sampling: instants are the multiples of ``sample_ns`` on the receive clock. A
sample at instant ``g`` reflects every event with ``ts_recv <= g`` and none
after; an instant is emitted when the first event after it arrives (or on
:meth:`BookFeatureEngine.advance`). Instants before the book has both sides
are skipped.

Features (all floats; prices in the instrument's quote units):

- ``mid``, ``microprice`` (size-weighted: ``(bid*ask_qty + ask*bid_qty)/(bid_qty+ask_qty)``),
  ``spread_bps`` (``(ask - bid) / mid * 1e4``), ``micro_offset_bps`` (``(microprice - mid)/mid*1e4``);
- ``depth_imb`` over ``depth_levels`` levels: ``(bid_qty - ask_qty)/(bid_qty + ask_qty)``;
- ``ofi``: Cont–Kukanov–Stoikov order-flow imbalance summed over the depth
  messages since the previous sample, in base units (size units of the venue),
  and ``ofi_norm`` = ``ofi`` divided by the touch depth at the sample;
- ``tfi``: trade-flow imbalance since the previous sample,
  ``(buy_qty - sell_qty)/(buy_qty + sell_qty)`` (0 without trades), and ``trade_count``;
- ``ret_<h>``: log mid return over the last ``h`` samples (NaN until known);
- ``vol_ewma``: EWMA realised volatility of one-sample log mid returns
  (``var = lam*var + (1-lam)*r**2``, ``lam = 0.5 ** (1/vol_halflife)``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from jtrader.domain.instruments import Instrument
from jtrader.marketdata.book import OrderBook

__all__ = ["BookFeatureConfig", "BookFeatureEngine", "book_feature_names"]

NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class BookFeatureConfig:
    """How book features are sampled and parameterised.

    Example::

        >>> BookFeatureConfig(sample_ms=100).sample_ns
        100000000
    """

    sample_ms: int = 1_000
    depth_levels: int = 5
    return_horizons: tuple[int, ...] = (1, 5, 30)
    vol_halflife: float = 30.0  # in samples
    label_horizons: tuple[int, ...] = (1, 5, 30)  # in samples, used by :mod:`jtrader.features.labels`

    def __post_init__(self) -> None:
        if self.sample_ms <= 0:
            raise ValueError(f"sample_ms must be positive, got {self.sample_ms}")
        if self.depth_levels <= 0:
            raise ValueError(f"depth_levels must be positive, got {self.depth_levels}")
        if not self.return_horizons or min(self.return_horizons) <= 0:
            raise ValueError(f"return_horizons must be positive sample counts, got {self.return_horizons}")
        if self.vol_halflife <= 0:
            raise ValueError(f"vol_halflife must be positive, got {self.vol_halflife}")

    @property
    def sample_ns(self) -> int:
        return self.sample_ms * NS_PER_MS


def book_feature_names(config: BookFeatureConfig) -> list[str]:
    """The model-input feature columns, in a fixed order (``mid`` and ``microprice`` are levels, not inputs)."""
    return [
        "spread_bps",
        "micro_offset_bps",
        "depth_imb",
        "ofi_norm",
        "tfi",
        *(f"ret_{h}" for h in config.return_horizons),
        "vol_ewma",
    ]


@dataclass(slots=True)
class _Top:
    bid: int
    bid_qty: int
    ask: int
    ask_qty: int


@dataclass
class BookFeatureEngine:
    """Incremental book features of one instrument (see the module docstring for definitions).

    Example::

        >>> from jtrader.gateways.binance.instruments import binance_instruments
        >>> inst = binance_instruments()[2]                       # BTCUSDT on USD-M, tick 0.1, lot 0.001
        >>> book = OrderBook(); book.apply_snapshot([(100, 2)], [(102, 1)])
        >>> engine = BookFeatureEngine(inst, BookFeatureConfig(sample_ms=1000))
        >>> engine.on_book(500_000_000, book)
        []
        >>> [round(s["microprice"], 4) for s in engine.advance(1_000_000_000)]
        [10.1333]
    """

    instrument: Instrument
    config: BookFeatureConfig = field(default_factory=BookFeatureConfig)

    def __post_init__(self) -> None:
        self._tick = self.instrument.ticks_to_float(1)
        self._lot = self.instrument.lots_to_float(1)
        self._sample_ns = self.config.sample_ns
        self._next_sample: int | None = None  # the first instant not yet emitted
        self._book: OrderBook | None = None
        self._top: _Top | None = None
        self._ofi_lots = 0
        self._buy_lots = 0
        self._sell_lots = 0
        self._trades = 0
        self._mids: deque[float] = deque(maxlen=max(self.config.return_horizons) + 1)
        self._lam = 0.5 ** (1.0 / self.config.vol_halflife)
        self._var: float | None = None
        self.latest: dict[str, float] | None = None

    # -- events ----------------------------------------------------------------

    def on_book(self, ts_recv: int, book: OrderBook) -> list[dict[str, float]]:
        """Take the book as it stands after one applied depth message; return samples completed before it."""
        samples = self.advance(ts_recv - 1)
        self._book = book
        bid = book.best_bid()
        ask = book.best_ask()
        if bid is None or ask is None:
            self._top = None
            return samples
        top = _Top(bid[0], bid[1], ask[0], ask[1])
        prev = self._top
        if prev is not None:
            # Cont, Kukanov & Stoikov (2014), eq. (2): the contribution of one book event.
            e = 0
            if top.bid >= prev.bid:
                e += top.bid_qty
            if top.bid <= prev.bid:
                e -= prev.bid_qty
            if top.ask <= prev.ask:
                e -= top.ask_qty
            if top.ask >= prev.ask:
                e += prev.ask_qty
            self._ofi_lots += e
        self._top = top
        return samples

    def on_trade(self, ts_recv: int, size_lots: int, aggressor_is_buy: bool) -> list[dict[str, float]]:
        """Count one public trade; return samples completed before it."""
        samples = self.advance(ts_recv - 1)
        if aggressor_is_buy:
            self._buy_lots += size_lots
        else:
            self._sell_lots += size_lots
        self._trades += 1
        return samples

    def advance(self, ts: int) -> list[dict[str, float]]:
        """Emit a sample for every instant ``<= ts`` not yet emitted (call from a timer, or at the end)."""
        step = self._sample_ns
        if self._next_sample is None:
            self._next_sample = (ts // step + 1) * step if ts >= 0 else 0
            return []
        out: list[dict[str, float]] = []
        while self._next_sample <= ts:
            sample = self._sample(self._next_sample)
            if sample is not None:
                out.append(sample)
            self._next_sample += step
        return out

    # -- the definition ----------------------------------------------------------

    def _sample(self, instant: int) -> dict[str, float] | None:
        top = self._top
        if top is None or self._book is None:
            self._reset_flows()
            return None
        tick, lot = self._tick, self._lot
        mid_ticks = (top.bid + top.ask) / 2
        mid = mid_ticks * tick
        touch = top.bid_qty + top.ask_qty
        micro_ticks = (top.bid * top.ask_qty + top.ask * top.bid_qty) / touch
        bids, asks = self._book.depth(self.config.depth_levels)
        bid_depth = sum(size for _, size in bids)
        ask_depth = sum(size for _, size in asks)
        flow = self._buy_lots + self._sell_lots
        mids = self._mids
        mids.append(mid_ticks)
        features: dict[str, float] = {
            "ts": instant,
            "mid": mid,
            "microprice": micro_ticks * tick,
            "best_bid": top.bid * tick,
            "best_ask": top.ask * tick,
            "spread_bps": (top.ask - top.bid) / mid_ticks * 1e4,
            "micro_offset_bps": (micro_ticks - mid_ticks) / mid_ticks * 1e4,
            "depth_imb": (bid_depth - ask_depth) / (bid_depth + ask_depth),
            "ofi": self._ofi_lots * lot,
            "ofi_norm": self._ofi_lots / touch,
            "tfi": (self._buy_lots - self._sell_lots) / flow if flow else 0.0,
            "trade_count": float(self._trades),
        }
        for h in self.config.return_horizons:
            features[f"ret_{h}"] = math.log(mids[-1] / mids[-1 - h]) if len(mids) > h else math.nan
        if len(mids) > 1:
            r = math.log(mids[-1] / mids[-2])
            self._var = r * r if self._var is None else self._lam * self._var + (1 - self._lam) * r * r
        features["vol_ewma"] = math.sqrt(self._var) if self._var is not None else math.nan
        self._reset_flows()
        self.latest = features
        return features

    def _reset_flows(self) -> None:
        self._ofi_lots = 0
        self._buy_lots = 0
        self._sell_lots = 0
        self._trades = 0
