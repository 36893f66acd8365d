"""Optional MongoDB store (pymongo): market data in time-series collections, and documents.

Used only when ``settings.mongo_uri`` is set: :meth:`MongoStore.from_settings`
returns ``None`` otherwise. The URI may hold a password, so it is never logged,
shown in a ``repr`` or put in an error message. Needs MongoDB >= 5.1
(time-series collections that accept deletes).

Market data. Each dataset (``trades``, ``bars_1m``) is a time-series collection
of the same name, created on first use with ``timeField="ts"`` and
``metaField="meta"``. A row (a dict, or a row of a ``pandas.DataFrame``) needs
``venue``, ``symbol`` and a time, ``ts`` (a datetime, taken as UTC if naive, or
ns since the epoch) or else ``ts_event`` (ns). It is stored as::

    {"ts": <BSON date, ms>, "ts_ns": <exact ns>, "meta": {"venue", "symbol", "date"}, ...other fields}

where ``meta.date`` is the row's UTC date (``YYYY-MM-DD``): the lake's partition.

Idempotency. Time-series collections accept no unique index on ordinary fields,
so a deterministic ``_id`` cannot stop a duplicate. Instead
:meth:`MongoStore.insert_market_rows` replaces whole partitions: for every
(venue, symbol, UTC date) its rows touch, it first deletes that partition's
documents (a delete on meta fields only, which every MongoDB >= 5.1 supports on
time-series collections and which drops whole buckets), then inserts the rows.
Ingesting the same partition twice therefore stores it once, and a corrected
re-ingest with fewer rows leaves none of the old ones. The price: a call must
carry a partition's *complete* rows (as the lake writes them); a call with
half a day replaces the whole day. Delete and insert are not one transaction
(MongoDB does not allow time-series writes in transactions): if the process
dies between them, re-running the ingest restores the partition.

Documents. :meth:`MongoStore.upsert_document` replaces the document with
``_id == key`` in an ordinary collection (runs, reports).

Exceptions::

    MongoStoreError(Exception)      a MongoDB operation failed; the message names it
     +-- MongoUnavailable            the server cannot be reached (URI host, network, auth)
     +-- InvalidMarketRows(ValueError)
                                     rows without venue/symbol/time, a time that is not ns,
                                     or an unknown dataset
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jtrader.config import Settings

if TYPE_CHECKING:
    import pandas as pd
    from pymongo import MongoClient
    from pymongo.database import Database

__all__ = [
    "MongoStore",
    "MarketCollection",
    "MARKET_COLLECTIONS",
    "MongoStoreError",
    "MongoUnavailable",
    "InvalidMarketRows",
    "market_documents",
    "partition_filter",
    "market_filter",
    "timeseries_options",
]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Plausible ns timestamps: 2000-01-01 .. 2100-01-01. Outside, the number is s, ms or us.
_NS_MIN, _NS_MAX = 946_684_800 * 10**9, 4_102_444_800 * 10**9


class MongoStoreError(Exception):
    """A MongoDB operation failed; the message names the operation and what to do."""


class MongoUnavailable(MongoStoreError):
    pass


class InvalidMarketRows(MongoStoreError, ValueError):
    pass


@dataclass(frozen=True, slots=True)
class MarketCollection:
    """A market dataset kept in a time-series collection of the same name."""

    name: str
    granularity: str  # MongoDB bucketing hint: the usual gap between rows of one venue/symbol


MARKET_COLLECTIONS: dict[str, MarketCollection] = {
    "trades": MarketCollection("trades", "seconds"),
    # One row a minute per symbol: "minutes" buckets are what MongoDB recommends for that spacing.
    "bars_1m": MarketCollection("bars_1m", "minutes"),
}


# -- pure helpers: documents and filters ------------------------------------------


def timeseries_options(dataset: str) -> dict[str, str]:
    """The ``timeseries`` options ``dataset``'s collection is created with."""
    return {"timeField": "ts", "metaField": "meta", "granularity": _collection(dataset).granularity}


def _collection(dataset: str) -> MarketCollection:
    try:
        return MARKET_COLLECTIONS[dataset]
    except KeyError:
        raise InvalidMarketRows(
            f"unknown market dataset {dataset!r}: expected one of {', '.join(sorted(MARKET_COLLECTIONS))}"
        ) from None


def _time_ns(value: Any, where: str) -> int:
    """Exact ns since the epoch of an int (ns), a datetime (naive = UTC), a pandas or numpy time."""
    if hasattr(value, "value") and type(value).__name__ == "Timestamp":  # pandas, without importing it
        if value.tzinfo is not None:
            value = value.tz_convert("UTC")
        return int(value.value)
    if type(value).__name__ == "datetime64":  # numpy
        return int(value.astype("datetime64[ns]").astype("int64"))
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - _EPOCH) // timedelta(microseconds=1) * 1000
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidMarketRows(f"{where}: expected a datetime or int ns since the epoch, got {value!r}")
    ns = int(value)
    if not _NS_MIN <= ns < _NS_MAX:
        raise InvalidMarketRows(
            f"{where}: {ns} is not ns since the epoch between 2000 and 2100 "
            "(seconds, ms or us?): convert it to ns or pass a datetime"
        )
    return ns


def _bson_value(value: Any) -> Any:
    """Values BSON can encode: numpy scalars to Python, Decimal to Decimal128 (exact)."""
    if isinstance(value, Decimal):
        from bson.decimal128 import Decimal128

        return Decimal128(value)
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    if type(value).__name__ == "Timestamp":
        return value.to_pydatetime(warn=False)
    if isinstance(value, Mapping):
        return {k: _bson_value(v) for k, v in value.items()}
    return value


def _records(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    to_dict = getattr(rows, "to_dict", None)
    if to_dict is not None and hasattr(rows, "columns"):
        yield from to_dict("records")
    else:
        yield from rows


def market_documents(
    dataset: str, rows: pd.DataFrame | Iterable[Mapping[str, Any]]
) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Build the documents for ``rows``, grouped by partition ``(venue, symbol, UTC date)``.

    Raises :class:`InvalidMarketRows` naming the first bad row. Every value is
    BSON-encodable; the input is not modified.
    """
    _collection(dataset)
    partitions: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for index, row in enumerate(_records(rows)):
        where = f"{dataset} row {index}"
        venue, symbol = row.get("venue"), row.get("symbol")
        if not venue or not symbol:
            raise InvalidMarketRows(f"{where}: needs non-empty 'venue' and 'symbol', got {venue!r} and {symbol!r}")
        if "ts" in row and row["ts"] is not None:
            ns = _time_ns(row["ts"], f"{where} ts")
        elif row.get("ts_event") is not None:
            ns = _time_ns(row["ts_event"], f"{where} ts_event")
        else:
            raise InvalidMarketRows(f"{where}: needs a time: 'ts' (datetime or ns) or 'ts_event' (ns)")
        ts = _EPOCH + timedelta(microseconds=ns // 1000)
        day = ts.date().isoformat()
        doc: dict[str, Any] = {
            "ts": ts.replace(microsecond=ts.microsecond // 1000 * 1000),  # BSON dates hold ms
            "ts_ns": ns,
            "meta": {"venue": str(venue), "symbol": str(symbol), "date": day},
        }
        for key, value in row.items():
            if key not in ("ts", "venue", "symbol", "meta", "_id"):
                doc[key] = _bson_value(value)
        partitions.setdefault((str(venue), str(symbol), day), []).append(doc)
    return partitions


def partition_filter(venue: str, symbol: str, day: str | date) -> dict[str, str]:
    """The filter selecting one partition; on meta fields only, as time-series deletes require before 7.0."""
    day = day.isoformat() if isinstance(day, date) else day
    return {"meta.venue": str(venue), "meta.symbol": str(symbol), "meta.date": day}


def market_filter(
    venue: str | None = None,
    symbol: str | None = None,
    start: datetime | int | None = None,
    end: datetime | int | None = None,
) -> dict[str, Any]:
    """A filter on venue, symbol and the time range ``[start, end)`` (datetimes or ns)."""
    query: dict[str, Any] = {}
    if venue is not None:
        query["meta.venue"] = str(venue)
    if symbol is not None:
        query["meta.symbol"] = str(symbol)
    bounds: dict[str, datetime] = {}
    if start is not None:
        bounds["$gte"] = _EPOCH + timedelta(microseconds=_time_ns(start, "start") // 1000)
    if end is not None:
        bounds["$lt"] = _EPOCH + timedelta(microseconds=_time_ns(end, "end") // 1000)
    if bounds:
        query["ts"] = bounds
    return query


def _from_bson(doc: dict[str, Any]) -> dict[str, Any]:
    from bson.decimal128 import Decimal128

    return {
        k: v.to_decimal() if isinstance(v, Decimal128) else _from_bson(v) if isinstance(v, dict) else v
        for k, v in doc.items()
    }


# -- the store --------------------------------------------------------------------


class MongoStore:
    """Market data and documents in one MongoDB database.

    Example::

        >>> store = MongoStore.from_settings(settings)  # None unless JTRADER_MONGO_URI is set
        >>> if store is not None:
        ...     store.insert_market_rows("trades", rows)
    """

    def __init__(self, client: MongoClient[dict[str, Any]], database: str) -> None:
        self._client = client
        self._db: Database[dict[str, Any]] = client[database]
        self._ready: set[str] = set()
        self.database = database

    @classmethod
    def connect(cls, uri: str, database: str = "jtrader", *, timeout_ms: int = 5000) -> MongoStore:
        """A store on ``uri``; connects lazily, so an unreachable server fails on first use."""
        from pymongo import MongoClient

        try:
            client: MongoClient[dict[str, Any]] = MongoClient(
                uri, serverSelectionTimeoutMS=timeout_ms, tz_aware=True, appname="jtrader", connect=False
            )
        except Exception as exc:  # the message of a bad URI may quote it: do not chain it
            raise MongoStoreError(
                f"bad MongoDB URI ({type(exc).__name__}): expected mongodb://user:password@host:port/; "
                "fix JTRADER_MONGO_URI"
            ) from None
        return cls(client, database)

    @classmethod
    def from_settings(cls, settings: Settings) -> MongoStore | None:
        """The store of ``settings.mongo_uri``/``mongo_database``, or ``None`` when no URI is set."""
        if settings.mongo_uri is None:
            return None
        return cls.connect(settings.mongo_uri.get_secret_value(), settings.mongo_database)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MongoStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MongoStore(database={self.database!r})"  # never the URI: it may hold a password

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

        try:
            yield
        except ConnectionFailure as exc:
            raise MongoUnavailable(
                f"{what}: cannot reach MongoDB ({type(exc).__name__}); "
                "check that the server in JTRADER_MONGO_URI is running and reachable"
            ) from None
        except OperationFailure as exc:
            raise MongoStoreError(f"{what} failed on database {self.database!r}: {exc.details or exc}") from exc
        except PyMongoError as exc:
            raise MongoStoreError(f"{what} failed on database {self.database!r}: {exc}") from exc

    # -- market data --------------------------------------------------------------

    def ensure_collections(self, datasets: Sequence[str] | None = None) -> None:
        """Create the time-series collections of ``datasets`` (default: all) that do not exist yet.

        Raises :class:`MongoStoreError` if a collection of that name exists but is not time series.
        """
        from pymongo.errors import CollectionInvalid

        for dataset in datasets if datasets is not None else list(MARKET_COLLECTIONS):
            if dataset in self._ready:
                continue
            options = timeseries_options(dataset)
            with self._errors(f"create collection {dataset}"):
                found = list(self._db.list_collections(filter={"name": dataset}))
                if not found:
                    try:
                        self._db.create_collection(dataset, timeseries=options)
                        log.info("created time-series collection %s.%s", self.database, dataset)
                    except CollectionInvalid:  # another process created it meanwhile
                        pass
                elif found[0].get("type") != "timeseries":
                    raise MongoStoreError(
                        f"collection {self.database}.{dataset} exists but is not a time-series collection: "
                        "rename or drop it so that it can be recreated as one"
                    )
            self._ready.add(dataset)

    def insert_market_rows(self, dataset: str, rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> int:
        """Replace the partitions (venue, symbol, UTC date) that ``rows`` touch with ``rows``; return rows written.

        Re-ingesting the same rows stores them once (see the module docstring).
        """
        partitions = market_documents(dataset, rows)
        if not partitions:
            return 0
        self.ensure_collections([dataset])
        collection = self._db[dataset]
        written = 0
        for (venue, symbol, day), docs in partitions.items():
            with self._errors(f"replace {dataset} partition {venue}/{symbol}/{day}"):
                deleted = collection.delete_many(partition_filter(venue, symbol, day)).deleted_count
                collection.insert_many(docs, ordered=False)
            written += len(docs)
            log.debug("%s %s/%s/%s: replaced %d rows with %d", dataset, venue, symbol, day, deleted, len(docs))
        return written

    def find_market_rows(
        self,
        dataset: str,
        venue: str | None = None,
        symbol: str | None = None,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of ``dataset`` in ``[start, end)`` for the venue/symbol given, by exact time."""
        _collection(dataset)
        return self.find(dataset, market_filter(venue, symbol, start, end), sort=[("ts_ns", 1)])

    # -- documents ----------------------------------------------------------------

    def upsert_document(self, collection: str, key: str, doc: Mapping[str, Any]) -> None:
        """Store ``doc`` as the document ``_id == key`` of ``collection``, replacing any previous one."""
        if collection in MARKET_COLLECTIONS:
            raise MongoStoreError(
                f"{collection} is a time-series market collection: use insert_market_rows, not upsert_document"
            )
        if "_id" in doc and doc["_id"] != key:
            raise MongoStoreError(f"upsert_document: doc has _id {doc['_id']!r} but key is {key!r}; drop one")
        body = {k: _bson_value(v) for k, v in doc.items() if k != "_id"}
        with self._errors(f"upsert {collection}/{key}"):
            self._db[collection].replace_one({"_id": key}, body, upsert=True)

    def get_document(self, collection: str, key: str) -> dict[str, Any] | None:
        """The document ``_id == key`` of ``collection``, or ``None``."""
        with self._errors(f"get {collection}/{key}"):
            found = self._db[collection].find_one({"_id": key})
        return None if found is None else _from_bson(found)

    def find(
        self,
        collection: str,
        filter: Mapping[str, Any] | None = None,
        *,
        sort: Sequence[tuple[str, int]] | None = None,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Documents of ``collection`` matching ``filter`` (a MongoDB query), Decimal128 read back as Decimal."""
        with self._errors(f"find in {collection}"):
            cursor = self._db[collection].find(dict(filter or {}), projection=projection, limit=limit)
            if sort:
                cursor = cursor.sort(list(sort))
            return [_from_bson(doc) for doc in cursor]
