"""Read Huobi kline archives (``btcusdt_1min_2017.zip``) into :class:`Bar` events.

An archive is a zip holding one CSV with the header
``id,open,high,low,close,vol,count,amount``: ``id`` is the bar's open time in
Unix seconds, ``vol`` the turnover in the QUOTE currency, ``amount`` the volume
in the BASE currency, ``count`` the number of trades. Prices go from their
strings to exact ticks (no float on the way); volumes are aggregate statistics
and become floats, as :class:`Bar` defines them.

A bar is stamped when it becomes known: ``ts_event = ts_recv = (id + interval) s``
in ns, with the interval taken from the file name (``1min`` -> 60 s).

Exceptions::

    DomainError(ValueError)
     +-- MalformedMessage   (jtrader.marketdata.errors)
           yielded, not raised, for a bad row (with its CSV line number):
           wrong field count, a non-numeric/NaN/negative value, an off-tick
           price, inconsistent OHLC. Raised for an archive that cannot be read
           at all: no CSV inside, a header without the kline columns, a file
           name without a symbol and interval.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from jtrader.domain.data import Bar
from jtrader.domain.enums import Venue
from jtrader.domain.errors import DomainError, InvalidValue
from jtrader.domain.instruments import Instrument, InstrumentRegistry
from jtrader.gateways.huobi.instruments import huobi_instruments
from jtrader.marketdata.errors import MalformedMessage
from jtrader.marketdata.units import price_parser

__all__ = ["MalformedMessage", "iter_kline_zip", "symbol_from_filename", "interval_from_filename"]

COLUMNS = ("id", "open", "high", "low", "close", "vol", "count", "amount")
_NAME = re.compile(r"(?P<symbol>[a-z0-9]+)_(?P<n>\d+)(?P<unit>min|hour|day|week)(?:_.*)?\.(?:zip|csv)", re.IGNORECASE)
_UNIT_S = {"min": 60, "hour": 3600, "day": 86_400, "week": 604_800}
_NS = 1_000_000_000


def _match(path: Path) -> re.Match[str]:
    match = _NAME.fullmatch(Path(path).name)
    if match is None:
        raise MalformedMessage(
            f"file name {Path(path).name!r} does not say the symbol and interval; "
            "expected '<symbol>_<n><min|hour|day|week>_<period>.zip', e.g. 'btcusdt_1min_2017.zip'",
            source=Path(path).name,
        )
    return match


def symbol_from_filename(path: Path) -> str:
    """Return the Huobi symbol (lower case) of a kline archive, e.g. ``btcusdt`` from ``btcusdt_1min_2017.zip``."""
    return _match(path)["symbol"].lower()


def interval_from_filename(path: Path) -> int:
    """Return the bar interval in ns from a kline archive's name (``1min`` -> 60e9)."""
    match = _match(path)
    return int(match["n"]) * _UNIT_S[match["unit"].lower()] * _NS


def _whole(text: str, what: str) -> int:
    """An integer written as a decimal with only zero decimals ("5.000000")."""
    whole, _, frac = text.partition(".")
    if whole.isascii() and whole.isdigit() and (not frac or (frac.isascii() and frac.strip("0") == "")):
        return int(whole)
    raise InvalidValue(f"{what}: expected a whole non-negative number, got {text!r}")


def _volume(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidValue(f"{what}: expected a decimal number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise InvalidValue(f"{what}: expected a finite non-negative number, got {text!r}")
    return value


def iter_kline_zip(
    path: Path, instrument: Instrument | None = None, registry: InstrumentRegistry | None = None
) -> Iterator[tuple[int, Bar | MalformedMessage]]:
    """Yield ``(line_no, Bar)`` for each good row and ``(line_no, MalformedMessage)`` for each bad one.

    ``line_no`` is the CSV line (the header is line 1). Rows are never dropped
    silently: every data row yields exactly one item, in file order.
    ``instrument`` defaults to the one named by the file (looked up in
    ``registry``, by default :func:`huobi_instruments`); if given, it must
    match the file's symbol. Raises MalformedMessage if the archive cannot be
    read at all.
    """
    path = Path(path)
    source = path.name
    symbol = symbol_from_filename(path)
    interval_ns = interval_from_filename(path)
    if instrument is None:
        instrument = (registry or InstrumentRegistry(huobi_instruments())).find(symbol, Venue.HUOBI.value)
    elif instrument.id.symbol.lower() != symbol:
        raise InvalidValue(f"{source} holds {symbol!r} klines, but instrument {instrument.id} was given")
    instrument_id = instrument.id
    to_ticks = price_parser(instrument).parse
    with zipfile.ZipFile(path) as archive:
        members = [name for name in archive.namelist() if name.lower().endswith(".csv")]
        if len(members) != 1:
            raise MalformedMessage(f"expected one CSV file in the archive, found {members or 'none'}", source=source)
        with archive.open(members[0]) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                raise MalformedMessage("the CSV is empty; expected a header 'id,open,high,...'", 1, source)
            names = [name.strip().lower() for name in header]
            missing = [column for column in COLUMNS if column not in names]
            if missing:
                raise MalformedMessage(
                    f"CSV header {','.join(header)!r} lacks columns {missing}; expected {','.join(COLUMNS)}",
                    1,
                    source,
                )
            i_id, i_open, i_high, i_low, i_close, i_vol, i_count, i_amount = (names.index(c) for c in COLUMNS)
            width = len(names)
            for row in reader:
                line_no = reader.line_num
                if len(row) != width:
                    yield (
                        line_no,
                        MalformedMessage(
                            f"expected {width} fields ({','.join(names)}), got {len(row)}: {','.join(row)[:120]!r}",
                            line_no,
                            source,
                        ),
                    )
                    continue
                column = "id"
                try:
                    ts = _whole(row[i_id], "bar open time") * _NS + interval_ns
                    column = "open"
                    open_ticks = to_ticks(row[i_open])
                    column = "high"
                    high_ticks = to_ticks(row[i_high])
                    column = "low"
                    low_ticks = to_ticks(row[i_low])
                    column = "close"
                    close_ticks = to_ticks(row[i_close])
                    column = "amount"
                    volume = _volume(row[i_amount], "base volume")
                    column = "vol"
                    quote_volume = _volume(row[i_vol], "quote turnover")
                    column = "count"
                    count = _whole(row[i_count], "trade count")
                    column = "row"
                    bar = Bar(
                        instrument_id,
                        open_ticks,
                        high_ticks,
                        low_ticks,
                        close_ticks,
                        volume,
                        quote_volume,
                        count,
                        interval_ns,
                        ts,
                        ts,
                    )
                except DomainError as exc:
                    yield line_no, MalformedMessage(f"bad kline {column}: {exc}", line_no, source)
                    continue
                yield line_no, bar
