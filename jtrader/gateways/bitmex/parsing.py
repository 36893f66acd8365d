"""Decode BitMEX realtime frames (``{"table", "action", "data"}``) into typed rows and domain events.

BitMEX sends prices and sizes as JSON numbers; they are decoded from their
text (never through float) and converted exactly to ticks and lots.

=================  =======================================  ==========================
table              becomes                                  ``ts_event``
=================  =======================================  ==========================
``orderBookL2``    :class:`L2Row` list (the feed keeps the  row ``timestamp`` (or recv)
                   book by id)
``trade``          :class:`Trade` per row                   ``timestamp``
``quote``          :class:`Quote` per row                   ``timestamp``
``instrument``     :class:`FundingUpdate` (mark, funding)   ``timestamp``
``tradeBin1m``     :class:`Bar` (``timestamp`` is the close) ``timestamp``
=================  =======================================  ==========================

Exceptions::

    DomainError(ValueError)
     +-- MalformedMessage   a frame that is not JSON, lacks a field, has an off-tick or NaN
                            number, an unknown symbol or side
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec

from jtrader.domain.data import Bar, Quote, Trade
from jtrader.domain.enums import Side, Venue
from jtrader.domain.errors import DomainError, InvalidValue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import InstrumentRegistry
from jtrader.marketdata.errors import MalformedMessage
from jtrader.marketdata.units import UnitParser, price_parser, size_parser

__all__ = ["BitmexParser", "FundingUpdate", "L2Row", "iso_to_ns"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def iso_to_ns(text: str) -> int:
    """``2024-08-08T23:54:15.123Z`` -> ns since the epoch (exact to the microsecond)."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidValue(f"timestamp: expected ISO 8601 like '2024-08-08T23:54:15.123Z', got {text!r}") from None
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


class FundingUpdate(msgspec.Struct, frozen=True, gc=False, tag="funding_update"):
    """Mark price and funding of a perpetual (BitMEX ``instrument``, Huobi has none on spot).

    Fields the venue did not send in this update are None.
    """

    instrument_id: InstrumentId
    mark_price: Decimal | None
    funding_rate: Decimal | None
    indicative_funding_rate: Decimal | None
    ts_event: int
    ts_recv: int


class L2Row(msgspec.Struct, frozen=True, gc=False):
    """One ``orderBookL2`` row: ``price_ticks``/``size_lots`` are None where the action omits them."""

    instrument_id: InstrumentId
    level_id: int
    side: Side
    price_ticks: int | None
    size_lots: int | None
    ts_event: int | None


class _Frame(msgspec.Struct):
    table: str | None = None
    action: str | None = None
    data: list[dict[str, Any]] = []
    # control frames
    info: str | None = None
    success: bool | None = None
    error: str | None = None
    subscribe: str | None = None


_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}


def _text(row: dict[str, Any], key: str) -> str:
    value = row[key]
    if isinstance(value, bool) or value is None:
        raise InvalidValue(f"{key}: expected a number, got {value!r}")
    return value if isinstance(value, str) else str(value)


class _Units:
    __slots__ = ("instrument_id", "price", "size")

    def __init__(self, instrument_id: InstrumentId, price: UnitParser, size: UnitParser) -> None:
        self.instrument_id = instrument_id
        self.price = price
        self.size = size


class BitmexParser:
    """Decode one BitMEX frame; :meth:`parse` returns ``(table, action, items)`` or raises MalformedMessage.

    Example::

        >>> from jtrader.gateways.bitmex.instruments import bitmex_instruments
        >>> p = BitmexParser(InstrumentRegistry(bitmex_instruments()))
        >>> frame = (b'{"table":"orderBookL2","action":"update","data":'
        ...          b'[{"symbol":"XBTUSD","id":17999995000,"side":"Buy","size":5}]}')
        >>> p.parse(frame, 1)[2][0].size_lots
        5
    """

    def __init__(self, registry: InstrumentRegistry) -> None:
        self.registry = registry
        self._decode = msgspec.json.Decoder(_Frame, float_hook=str).decode
        self._units: dict[str, _Units] = {}

    def _sym(self, symbol: str) -> _Units:
        units = self._units.get(symbol)
        if units is None:
            instrument = self.registry.find(symbol, Venue.BITMEX.value)
            units = self._units[symbol] = _Units(instrument.id, price_parser(instrument), size_parser(instrument))
        return units

    def parse(self, frame: str | bytes, ts_recv: int) -> tuple[str, str, list[Any]]:
        """Return ``(table, action, items)``; control frames give ``("", <info|subscribe|error>, [])``."""
        try:
            msg = self._decode(frame)
            if msg.table is None:
                if msg.error is not None:
                    return "", "error", [msg.error]
                return "", "control", []
            table, action = msg.table, msg.action or ""
            handler = _HANDLERS.get(table.partition("_")[0] if table.startswith("orderBookL2") else table)
            if handler is None:
                raise InvalidValue(f"unknown table {table!r}; this parser reads {', '.join(_HANDLERS)}")
            return table, action, [handler(self, row, action, ts_recv) for row in msg.data]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedMessage(f"not a BitMEX frame: {exc}", source="bitmex") from None
        except KeyError as exc:
            raise MalformedMessage(f"missing field {exc}", source="bitmex") from None
        except DomainError as exc:
            raise MalformedMessage(str(exc), source="bitmex") from None

    def _l2(self, row: dict[str, Any], action: str, ts_recv: int) -> L2Row:
        units = self._sym(row["symbol"])
        side = _SIDES.get(row["side"])
        if side is None:
            raise InvalidValue(f"orderBookL2 side: expected Buy or Sell, got {row['side']!r}")
        price = units.price.parse(_text(row, "price")) if "price" in row else None
        size = units.size.parse(_text(row, "size")) if "size" in row and action != "delete" else None
        if action in ("partial", "insert") and (price is None or size is None):
            raise InvalidValue(f"orderBookL2 {action} row {row.get('id')} lacks price or size")
        ts = iso_to_ns(row["timestamp"]) if "timestamp" in row else None
        return L2Row(units.instrument_id, int(row["id"]), side, price, size, ts)

    def _trade(self, row: dict[str, Any], _action: str, ts_recv: int) -> Trade:
        units = self._sym(row["symbol"])
        side = _SIDES.get(row["side"])
        if side is None:
            raise InvalidValue(f"trade side: expected Buy or Sell, got {row['side']!r}")
        return Trade(
            units.instrument_id,
            units.price.parse(_text(row, "price")),
            units.size.parse(_text(row, "size")),
            side,  # BitMEX ``side`` is the taker's side
            str(row["trdMatchID"]),
            iso_to_ns(row["timestamp"]),
            ts_recv,
        )

    def _quote(self, row: dict[str, Any], _action: str, ts_recv: int) -> Quote:
        units = self._sym(row["symbol"])
        return Quote(
            units.instrument_id,
            units.price.parse(_text(row, "bidPrice")),
            units.size.parse(_text(row, "bidSize")),
            units.price.parse(_text(row, "askPrice")),
            units.size.parse(_text(row, "askSize")),
            iso_to_ns(row["timestamp"]),
            ts_recv,
        )

    def _instrument(self, row: dict[str, Any], _action: str, ts_recv: int) -> FundingUpdate:
        units = self._sym(row["symbol"])

        def dec(key: str) -> Decimal | None:
            return Decimal(_text(row, key)) if row.get(key) is not None else None

        mark = dec("markPrice")
        if mark is not None and not mark > 0:
            raise InvalidValue(f"instrument markPrice must be positive, got {row['markPrice']!r}")
        return FundingUpdate(
            units.instrument_id,
            mark,
            dec("fundingRate"),
            dec("indicativeFundingRate"),
            iso_to_ns(row["timestamp"]),
            ts_recv,
        )

    def _bin(self, row: dict[str, Any], _action: str, ts_recv: int) -> Bar:
        units = self._sym(row["symbol"])
        close_ns = iso_to_ns(row["timestamp"])  # BitMEX stamps a bin with its close time
        return Bar(
            units.instrument_id,
            units.price.parse(_text(row, "open")),
            units.price.parse(_text(row, "high")),
            units.price.parse(_text(row, "low")),
            units.price.parse(_text(row, "close")),
            float(row.get("homeNotional") or 0.0),  # XBT: the base
            float(row.get("foreignNotional") or 0.0),  # USD: the quote
            int(row.get("trades") or 0),
            60_000_000_000,
            close_ns,
            ts_recv,
        )


_HANDLERS = {
    "orderBookL2": BitmexParser._l2,
    "trade": BitmexParser._trade,
    "quote": BitmexParser._quote,
    "instrument": BitmexParser._instrument,
    "tradeBin1m": BitmexParser._bin,
}
