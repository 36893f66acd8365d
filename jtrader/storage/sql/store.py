"""The SQL store: orders, fills, positions, PnL, runs and data quality, on SQLAlchemy Core.

One class, :class:`SqlStore`, takes and returns the domain types
(:class:`~jtrader.domain.Instrument`, :class:`~jtrader.domain.Order`,
:class:`~jtrader.domain.Fill`, :class:`~jtrader.domain.Position`) and the
records defined here (:class:`PnlSnapshot`, :class:`Run`,
:class:`DataQualityRecord`). It runs on SQLite (the default, a file under
``var/``) and PostgreSQL (production, tests); writes are upserts keyed on the
natural key of each table, so replaying the same input changes nothing.
Decimals round-trip exactly on both backends.

Exceptions::

    StoreError(Exception)
     +-- StoreUnavailable    the database cannot be reached or used (bad URL, server down,
                             locked or unmigrated database); the message names the URL
                             without its password
     +-- SchemaOutOfDate     the database is not at the code's migration head and the store
                             was opened with migrate=False: run migrate(url)
     +-- ConflictError       a fill with the same venue, instrument and trade id but
                             different content is already stored
     +-- InvalidRecord(ValueError)
                             a value the store cannot keep exactly (a float or NaN for a
                             decimal, a non-JSON value in run params, a bad run status)
     +-- UnknownRun(KeyError)
                             finish_run for a run id that was never started
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from jtrader.config import Settings
from jtrader.domain.enums import InstrumentKind, LiquiditySide, OrderStatus, OrderType, Side, TimeInForce, Venue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import Instrument
from jtrader.domain.objects import Price, Quantity
from jtrader.domain.orders import Fill, Order, Position
from jtrader.storage.sql import schema as t

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "SqlStore",
    "PnlSnapshot",
    "Run",
    "RunStatus",
    "DataQualityRecord",
    "StoreError",
    "StoreUnavailable",
    "SchemaOutOfDate",
    "ConflictError",
    "InvalidRecord",
    "UnknownRun",
    "create_store_engine",
    "migrate",
    "head_revision",
    "current_revision",
    "MIGRATIONS_DIR",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_SUPPORTED = ("sqlite", "postgresql")
# Any constant works; it only has to be the same in every process migrating one database.
_MIGRATION_LOCK_KEY = 0x6A74726164  # "jtrad"
_OPEN_STATUSES = [s.value for s in OrderStatus if s.is_open]


# -- errors -------------------------------------------------------------------


class StoreError(Exception):
    """Base of the SQL store's errors; the message says what was wrong and what to do."""


class StoreUnavailable(StoreError):
    pass


class SchemaOutOfDate(StoreError):
    pass


class ConflictError(StoreError):
    pass


class InvalidRecord(StoreError, ValueError):
    pass


class UnknownRun(StoreError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


# -- records without a domain type ----------------------------------------------


@dataclass(frozen=True, slots=True)
class PnlSnapshot:
    """PnL of one account in one instrument at ``ts`` (ns), in the settlement currency."""

    ts: int
    instrument_id: InstrumentId
    realised: Decimal
    unrealised: Decimal
    fees: Decimal = Decimal(0)
    mark: Decimal | None = None  # the price unrealised PnL was marked at
    account_id: str = ""


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Run:
    """One run of an ingest, a backtest, a paper or live session; times in ns."""

    run_id: str
    kind: str
    status: RunStatus
    ts_started: int
    ts_finished: int | None
    params: dict[str, Any]
    summary: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class DataQualityRecord:
    """Quality counts of one dataset partition (dataset, venue, symbol, date) from one source.

    ``date`` accepts a ``datetime.date`` or an ISO string ``YYYY-MM-DD``;
    ``ts_checked`` (ns) defaults to the time the record is built.
    """

    dataset: str
    venue: str
    symbol: str
    date: date
    source: str
    rows: int
    rejects: int = 0
    gaps: int = 0
    crossed: int = 0
    ts_checked: int = field(default_factory=time.time_ns)

    def __post_init__(self) -> None:
        if isinstance(self.date, str):
            try:
                object.__setattr__(self, "date", date.fromisoformat(self.date))
            except ValueError:
                raise InvalidRecord(f"data quality: date must be YYYY-MM-DD, got {self.date!r}") from None
        elif isinstance(self.date, datetime) or not isinstance(self.date, date):
            raise InvalidRecord(f"data quality: date must be a datetime.date or YYYY-MM-DD, got {self.date!r}")
        for name in ("dataset", "venue", "symbol", "source"):
            if not getattr(self, name):
                raise InvalidRecord(f"data quality: {name} must not be empty")
        for name in ("rows", "rejects", "gaps", "crossed"):
            if getattr(self, name) < 0:
                raise InvalidRecord(f"data quality: {name} must not be negative, got {getattr(self, name)}")


# -- engine and migrations ------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact; a float would round
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (PurePath, InstrumentId)):
        return str(value)
    raise TypeError(f"{value!r} ({type(value).__name__}) is not JSON-serialisable: pass str, number, list or dict")


def _json_dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, allow_nan=False)


def _safe_url(url: str | sa.URL) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def create_store_engine(url: str | sa.URL, *, echo: bool = False) -> sa.Engine:
    """Create an engine for a ``sqlite`` or ``postgresql`` URL.

    For a SQLite file, create its parent directory and enable WAL, so that a
    reader (a DAG, a report) does not block the trading process.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(f"bad SQL store URL {_safe_url(url)}: expected sqlite:///path or postgresql://...") from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise StoreError(
            f"SQL store URL {_safe_url(parsed)} uses {backend!r}: expected one of {', '.join(_SUPPORTED)}; fix db_url"
        )
    kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _json_dumps}
    if backend == "sqlite":
        database = parsed.database or ""
        is_file = database not in ("", ":memory:") and not database.startswith("file:")
        if is_file:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
        engine = sa.create_engine(parsed, **kwargs)
        if is_file:
            sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


# Alembic is imported where it is used: it doubles the import time of this module.


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, f"no migrations found in {MIGRATIONS_DIR}"
    return head


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database behind ``connection`` is at; ``None`` if never migrated."""
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": t.VERSION_TABLE})
    return context.get_current_revision()


def _upgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes starting at once (the trader and a DAG) must not both create the tables.
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
        command.upgrade(_alembic_config(connection), revision)


def migrate(url: str | sa.Engine, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (or behind an engine) to ``revision``; a no-op when already there.

    Raises :class:`StoreUnavailable` if the database cannot be reached.
    """
    engine = url if isinstance(url, sa.Engine) else create_store_engine(url)
    try:
        _upgrade(engine, revision)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise StoreUnavailable(
            f"cannot migrate the SQL store at {_safe_url(engine.url)}: {exc.orig}; "
            "check that the server is running and the URL, user and password are right"
        ) from exc
    finally:
        if engine is not url:
            engine.dispose()


# -- row conversion -------------------------------------------------------------


def _dec(value: Price | Quantity | None) -> Decimal | None:
    return None if value is None else value.as_decimal()


def _instrument_row(instrument: Instrument) -> dict[str, Any]:
    return {
        "instrument_id": str(instrument.id),
        "venue": instrument.id.venue.value,
        "symbol": instrument.id.symbol,
        "kind": instrument.kind.value,
        "base": instrument.base,
        "quote": instrument.quote,
        "settle": instrument.settle,
        "price_increment": _dec(instrument.price_increment),
        "size_increment": _dec(instrument.size_increment),
        "lot_size": _dec(instrument.lot_size),
        "min_quantity": _dec(instrument.min_quantity),
        "min_notional": instrument.min_notional,
        "maker_fee": instrument.maker_fee,
        "taker_fee": instrument.taker_fee,
        "contract_size": instrument.contract_size,
    }


def _instrument(row: sa.Row[Any]) -> Instrument:
    return Instrument(
        id=InstrumentId(row.symbol, Venue(row.venue)),
        kind=InstrumentKind(row.kind),
        base=row.base,
        quote=row.quote,
        settle=row.settle,
        price_increment=Price(row.price_increment),
        size_increment=Quantity(row.size_increment),
        lot_size=None if row.lot_size is None else Quantity(row.lot_size),
        min_quantity=None if row.min_quantity is None else Quantity(row.min_quantity),
        min_notional=row.min_notional,
        maker_fee=row.maker_fee,
        taker_fee=row.taker_fee,
        contract_size=row.contract_size,
    )


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "account_id": order.account_id,
        "client_order_id": order.client_order_id,
        "instrument_id": str(order.instrument_id),
        "side": order.side.value,
        "order_type": order.order_type.value,
        "quantity_lots": order.quantity_lots,
        "price_ticks": order.price_ticks,
        "trigger_ticks": order.trigger_ticks,
        "time_in_force": order.time_in_force.value,
        "reduce_only": order.reduce_only,
        "status": order.status.value,
        "filled_lots": order.filled_lots,
        "venue_order_id": order.venue_order_id,
        "strategy_id": order.strategy_id,
        "ts_init": order.ts_init,
        "ts_last": order.ts_last,
    }


def _order(row: sa.Row[Any]) -> Order:
    return Order(
        client_order_id=row.client_order_id,
        instrument_id=InstrumentId.parse(row.instrument_id),
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        quantity_lots=row.quantity_lots,
        price_ticks=row.price_ticks,
        trigger_ticks=row.trigger_ticks,
        time_in_force=TimeInForce(row.time_in_force),
        reduce_only=bool(row.reduce_only),
        strategy_id=row.strategy_id,
        account_id=row.account_id,
        venue_order_id=row.venue_order_id,
        status=OrderStatus(row.status),
        filled_lots=row.filled_lots,
        ts_init=row.ts_init,
        ts_last=row.ts_last,
    )


def _fill_row(fill: Fill) -> dict[str, Any]:
    return {
        "venue": fill.instrument_id.venue.value,
        "instrument_id": str(fill.instrument_id),
        "trade_id": fill.trade_id,
        "account_id": fill.account_id,
        "client_order_id": fill.client_order_id,
        "venue_order_id": fill.venue_order_id,
        "side": fill.side.value,
        "price_ticks": fill.price_ticks,
        "size_lots": fill.size_lots,
        "liquidity": fill.liquidity.value,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "ts_event": fill.ts_event,
        "ts_recv": fill.ts_recv,
    }


def _fill(row: sa.Row[Any]) -> Fill:
    return Fill(
        client_order_id=row.client_order_id,
        venue_order_id=row.venue_order_id,
        trade_id=row.trade_id,
        instrument_id=InstrumentId.parse(row.instrument_id),
        side=Side(row.side),
        price_ticks=row.price_ticks,
        size_lots=row.size_lots,
        liquidity=LiquiditySide(row.liquidity),
        fee=row.fee,
        fee_currency=row.fee_currency,
        account_id=row.account_id,
        ts_event=row.ts_event,
        ts_recv=row.ts_recv,
    )


def _position(row: sa.Row[Any]) -> Position:
    return Position(
        instrument_id=InstrumentId.parse(row.instrument_id),
        account_id=row.account_id,
        net_lots=row.net_lots,
        avg_entry=row.avg_entry,
        realised_pnl=row.realised_pnl,
        fees=row.fees,
        ts_last=row.ts_last,
    )


def _snapshot(row: sa.Row[Any]) -> PnlSnapshot:
    return PnlSnapshot(
        ts=row.ts,
        instrument_id=InstrumentId.parse(row.instrument_id),
        realised=row.realised,
        unrealised=row.unrealised,
        fees=row.fees,
        mark=row.mark,
        account_id=row.account_id,
    )


def _run(row: sa.Row[Any]) -> Run:
    return Run(
        run_id=row.run_id,
        kind=row.kind,
        status=RunStatus(row.status),
        ts_started=row.ts_started,
        ts_finished=row.ts_finished,
        params=row.params,
        summary=row.summary,
    )


def _data_quality(row: sa.Row[Any]) -> DataQualityRecord:
    return DataQualityRecord(
        dataset=row.dataset,
        venue=row.venue,
        symbol=row.symbol,
        date=row.date,
        source=row.source,
        rows=row.rows,
        rejects=row.rejects,
        gaps=row.gaps,
        crossed=row.crossed,
        ts_checked=row.ts_checked,
    )


# -- the store ------------------------------------------------------------------


class SqlStore:
    """Orders, fills, positions, PnL snapshots, runs and data-quality counts in one SQL database.

    Opening the store upgrades the database to the newest migration (``migrate=True``,
    the default); with ``migrate=False`` it checks the database is already there and
    raises :class:`SchemaOutOfDate` otherwise. Every method runs in its own
    transaction; the store is safe to share between threads.

    Example::

        >>> store = SqlStore("sqlite://")  # in memory
        >>> run_id = store.start_run("backtest", {"strategy": "mm"})
        >>> store.finish_run(run_id, RunStatus.SUCCEEDED, {"pnl": "12.5"})
        >>> store.get_run(run_id).status
        <RunStatus.SUCCEEDED: 'succeeded'>
    """

    def __init__(self, url: str, *, migrate: bool = True, echo: bool = False) -> None:
        self._engine = create_store_engine(url, echo=echo)
        self._dialect = self._engine.dialect.name
        self.url = _safe_url(self._engine.url)
        try:
            if migrate:
                _upgrade(self._engine, "head")
            else:
                self._check_schema()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self._engine.dispose()
            raise StoreUnavailable(
                f"cannot open the SQL store at {self.url}: {exc.orig}; "
                "check that the server is running and the URL, user and password are right"
            ) from exc
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def from_settings(cls, settings: Settings, *, migrate: bool = True) -> SqlStore:
        """Open the store at ``settings.resolved_db_url``, migrating it to head."""
        return cls(settings.resolved_db_url, migrate=migrate)

    @property
    def engine(self) -> sa.Engine:
        """The underlying engine, for reports and ad-hoc queries."""
        return self._engine

    def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    # -- plumbing ---------------------------------------------------------------

    def _check_schema(self) -> None:
        with self._engine.connect() as connection:
            current = current_revision(connection)
        head = head_revision()
        if current != head:
            raise SchemaOutOfDate(
                f"the SQL store at {self.url} is at migration {current or 'none (empty database)'}, "
                f"the code expects {head}: run jtrader.storage.sql.migrate(url) or open it with migrate=True"
            )

    @contextmanager
    def _begin(self, what: str) -> Iterator[sa.Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise StoreUnavailable(
                f"{what} failed on the SQL store at {self.url}: {exc.orig}; "
                "check that the database is reachable, not locked, and migrated (jtrader.storage.sql.migrate)"
            ) from exc
        except sa.exc.StatementError as exc:
            if isinstance(exc.orig, (ValueError, TypeError)) and not isinstance(exc, sa.exc.DBAPIError):
                raise InvalidRecord(f"{what}: {exc.orig}") from exc
            raise

    def _insert(self, table: sa.Table) -> Any:
        return postgresql.insert(table) if self._dialect == "postgresql" else sqlite.insert(table)

    def _upsert(self, connection: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows``, replacing every non-key column of rows whose primary key exists."""
        if not rows:
            return
        stmt = self._insert(table)
        keys = [c.name for c in table.primary_key.columns]
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        connection.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), list(rows))

    # -- instruments ------------------------------------------------------------

    def upsert_instrument(self, instrument: Instrument) -> None:
        """Store ``instrument``, replacing the stored definition of the same id."""
        self.upsert_instruments([instrument])

    def upsert_instruments(self, instruments: Iterable[Instrument]) -> int:
        """Store each instrument (replacing same ids) in one transaction; return how many were given."""
        rows = [_instrument_row(i) for i in instruments]
        with self._begin("upsert_instruments") as connection:
            self._upsert(connection, t.instruments, rows)
        return len(rows)

    def get_instrument(self, instrument_id: InstrumentId) -> Instrument | None:
        """The stored instrument, or ``None`` if unknown."""
        query = sa.select(t.instruments).where(t.instruments.c.instrument_id == str(instrument_id))
        with self._begin("get_instrument") as connection:
            row = connection.execute(query).first()
        return None if row is None else _instrument(row)

    def get_instruments(self, venue: Venue | str | None = None) -> list[Instrument]:
        """Every stored instrument (of ``venue`` if given), ordered by id."""
        query = sa.select(t.instruments).order_by(t.instruments.c.instrument_id)
        if venue is not None:
            query = query.where(t.instruments.c.venue == str(venue))
        with self._begin("get_instruments") as connection:
            return [_instrument(row) for row in connection.execute(query)]

    # -- orders -----------------------------------------------------------------

    def upsert_order(self, order: Order) -> None:
        """Store ``order``; an order with the same account and client order id is replaced."""
        with self._begin("upsert_order") as connection:
            self._upsert(connection, t.orders, [_order_row(order)])

    def upsert_orders(self, orders: Iterable[Order]) -> int:
        """Store each order as :meth:`upsert_order` does, in one transaction; return how many."""
        rows = [_order_row(o) for o in orders]
        with self._begin("upsert_orders") as connection:
            self._upsert(connection, t.orders, rows)
        return len(rows)

    def get_order(self, client_order_id: str, account: str = "") -> Order | None:
        """The stored order with this client order id in ``account``, or ``None``."""
        query = sa.select(t.orders).where(
            t.orders.c.account_id == account, t.orders.c.client_order_id == client_order_id
        )
        with self._begin("get_order") as connection:
            row = connection.execute(query).first()
        return None if row is None else _order(row)

    def open_orders(self, account: str | None = None, instrument: InstrumentId | None = None) -> list[Order]:
        """Orders still working (new, acked, partially filled), oldest first; optionally of one account/instrument."""
        query = (
            sa.select(t.orders)
            .where(t.orders.c.status.in_(_OPEN_STATUSES))
            .order_by(t.orders.c.ts_init, t.orders.c.account_id, t.orders.c.client_order_id)
        )
        if account is not None:
            query = query.where(t.orders.c.account_id == account)
        if instrument is not None:
            query = query.where(t.orders.c.instrument_id == str(instrument))
        with self._begin("open_orders") as connection:
            return [_order(row) for row in connection.execute(query)]

    # -- fills ------------------------------------------------------------------

    def insert_fill(self, fill: Fill) -> bool:
        """Store ``fill`` once: return True if stored, False if the same fill was already there.

        A fill is identified by venue, instrument, ``trade_id`` and ``client_order_id``
        (a trade between two of our own orders is two fills). Raises
        :class:`ConflictError` if a stored trade with that identity differs from ``fill``.
        """
        with self._begin("insert_fill") as connection:
            return self._insert_fill(connection, fill)

    def insert_fills(self, fills: Iterable[Fill]) -> int:
        """Store each fill as :meth:`insert_fill` does, in one transaction; return how many were new."""
        with self._begin("insert_fills") as connection:
            return sum(self._insert_fill(connection, fill) for fill in fills)

    def _insert_fill(self, connection: sa.Connection, fill: Fill) -> bool:
        row = _fill_row(fill)
        stmt = (
            self._insert(t.fills)
            .values(row)
            .on_conflict_do_nothing(index_elements=["venue", "instrument_id", "trade_id", "client_order_id"])
        )
        if connection.execute(stmt).rowcount == 1:
            return True
        stored = connection.execute(
            sa.select(t.fills).where(
                t.fills.c.venue == row["venue"],
                t.fills.c.instrument_id == row["instrument_id"],
                t.fills.c.trade_id == row["trade_id"],
                t.fills.c.client_order_id == row["client_order_id"],
            )
        ).one()
        if _fill(stored) != fill:
            raise ConflictError(
                f"fill {fill.trade_id} on {fill.instrument_id} is already stored with different content "
                f"(stored {_fill(stored)!r}, given {fill!r}): a venue trade id must identify one execution; "
                "check the gateway's parsing or the account the fill was attributed to"
            )
        return False

    def fills(
        self,
        account: str | None = None,
        instrument: InstrumentId | None = None,
        client_order_id: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> list[Fill]:
        """Stored fills matching every given filter, by ``ts_event`` then insertion order.

        ``since_ns`` is inclusive, ``until_ns`` exclusive (``ts_event``, ns).
        """
        c = t.fills.c
        query = sa.select(t.fills).order_by(c.ts_event, c.id)
        if account is not None:
            query = query.where(c.account_id == account)
        if instrument is not None:
            query = query.where(c.instrument_id == str(instrument))
        if client_order_id is not None:
            query = query.where(c.client_order_id == client_order_id)
        if since_ns is not None:
            query = query.where(c.ts_event >= since_ns)
        if until_ns is not None:
            query = query.where(c.ts_event < until_ns)
        with self._begin("fills") as connection:
            return [_fill(row) for row in connection.execute(query)]

    # -- positions --------------------------------------------------------------

    def upsert_position(self, position: Position) -> None:
        """Store ``position``, replacing the stored one of the same account and instrument."""
        self.upsert_positions([position])

    def upsert_positions(self, positions: Iterable[Position]) -> int:
        """Store each position as :meth:`upsert_position` does, in one transaction; return how many."""
        rows = [
            {
                "account_id": p.account_id,
                "instrument_id": str(p.instrument_id),
                "net_lots": p.net_lots,
                "avg_entry": p.avg_entry,
                "realised_pnl": p.realised_pnl,
                "fees": p.fees,
                "ts_last": p.ts_last,
            }
            for p in positions
        ]
        with self._begin("upsert_positions") as connection:
            self._upsert(connection, t.positions, rows)
        return len(rows)

    def get_position(self, instrument: InstrumentId, account: str = "") -> Position | None:
        """The stored position of ``account`` in ``instrument``, or ``None``."""
        c = t.positions.c
        query = sa.select(t.positions).where(c.account_id == account, c.instrument_id == str(instrument))
        with self._begin("get_position") as connection:
            row = connection.execute(query).first()
        return None if row is None else _position(row)

    def positions(self, account: str | None = None, include_flat: bool = True) -> list[Position]:
        """Stored positions (of ``account`` if given), by account then instrument."""
        c = t.positions.c
        query = sa.select(t.positions).order_by(c.account_id, c.instrument_id)
        if account is not None:
            query = query.where(c.account_id == account)
        if not include_flat:
            query = query.where(c.net_lots != 0)
        with self._begin("positions") as connection:
            return [_position(row) for row in connection.execute(query)]

    # -- PnL snapshots ----------------------------------------------------------

    def insert_pnl_snapshot(self, snapshot: PnlSnapshot) -> None:
        """Store ``snapshot``; a snapshot of the same account, instrument and ``ts`` is replaced."""
        self.insert_pnl_snapshots([snapshot])

    def insert_pnl_snapshots(self, snapshots: Iterable[PnlSnapshot]) -> int:
        """Store each snapshot as :meth:`insert_pnl_snapshot` does, in one transaction; return how many."""
        rows = [
            {
                "account_id": s.account_id,
                "instrument_id": str(s.instrument_id),
                "ts": s.ts,
                "realised": s.realised,
                "unrealised": s.unrealised,
                "fees": s.fees,
                "mark": s.mark,
            }
            for s in snapshots
        ]
        with self._begin("insert_pnl_snapshots") as connection:
            self._upsert(connection, t.pnl_snapshots, rows)
        return len(rows)

    def pnl_snapshots(
        self,
        account: str | None = None,
        instrument: InstrumentId | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> list[PnlSnapshot]:
        """Stored snapshots matching the filters, by ``ts``; ``since_ns`` inclusive, ``until_ns`` exclusive."""
        c = t.pnl_snapshots.c
        query = sa.select(t.pnl_snapshots).order_by(c.ts, c.account_id, c.instrument_id)
        if account is not None:
            query = query.where(c.account_id == account)
        if instrument is not None:
            query = query.where(c.instrument_id == str(instrument))
        if since_ns is not None:
            query = query.where(c.ts >= since_ns)
        if until_ns is not None:
            query = query.where(c.ts < until_ns)
        with self._begin("pnl_snapshots") as connection:
            return [_snapshot(row) for row in connection.execute(query)]

    # -- runs -------------------------------------------------------------------

    def start_run(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        ts_started: int | None = None,
    ) -> str:
        """Record a run as running and return its id (a new UUID unless ``run_id`` is given).

        Starting an existing ``run_id`` again (a retried task) restarts it: status
        running, new params and start time, no finish time or summary.
        ``params`` must be JSON-serialisable (``Decimal``, dates and paths are
        stored as strings).
        """
        if not kind:
            raise InvalidRecord("start_run: kind must not be empty, e.g. 'ingest', 'backtest' or 'paper'")
        run_id = run_id or uuid.uuid4().hex
        row = {
            "run_id": run_id,
            "kind": kind,
            "status": RunStatus.RUNNING.value,
            "ts_started": time.time_ns() if ts_started is None else ts_started,
            "ts_finished": None,
            "params": dict(params or {}),
            "summary": None,
        }
        with self._begin("start_run") as connection:
            self._upsert(connection, t.runs, [row])
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.SUCCEEDED,
        summary: Mapping[str, Any] | None = None,
        *,
        ts_finished: int | None = None,
    ) -> None:
        """Record the end of a run with its final ``status`` and ``summary``.

        Raises :class:`UnknownRun` if the run was never started and
        :class:`InvalidRecord` for a status that is not final.
        """
        try:
            final = RunStatus(status)
        except ValueError:
            final = None
        if final is None or final is RunStatus.RUNNING:
            finals = ", ".join(s.value for s in RunStatus if s is not RunStatus.RUNNING)
            raise InvalidRecord(f"finish_run {run_id}: status must be one of {finals}, got {status!r}")
        values = {
            "status": final.value,
            "ts_finished": time.time_ns() if ts_finished is None else ts_finished,
            "summary": None if summary is None else dict(summary),
        }
        with self._begin("finish_run") as connection:
            updated = connection.execute(sa.update(t.runs).where(t.runs.c.run_id == run_id).values(values)).rowcount
        if updated == 0:
            raise UnknownRun(f"finish_run: no run {run_id!r} was started; call start_run first")

    def get_run(self, run_id: str) -> Run | None:
        """The recorded run, or ``None``."""
        with self._begin("get_run") as connection:
            row = connection.execute(sa.select(t.runs).where(t.runs.c.run_id == run_id)).first()
        return None if row is None else _run(row)

    def runs(self, kind: str | None = None, limit: int | None = None) -> list[Run]:
        """Recorded runs (of ``kind`` if given), newest start first."""
        query = sa.select(t.runs).order_by(t.runs.c.ts_started.desc(), t.runs.c.run_id)
        if kind is not None:
            query = query.where(t.runs.c.kind == kind)
        if limit is not None:
            query = query.limit(limit)
        with self._begin("runs") as connection:
            return [_run(row) for row in connection.execute(query)]

    # -- data quality -----------------------------------------------------------

    def upsert_data_quality(self, record: DataQualityRecord) -> None:
        """Store ``record``, replacing the counts of the same dataset, venue, symbol, date and source."""
        self.upsert_data_quality_many([record])

    def upsert_data_quality_many(self, records: Iterable[DataQualityRecord]) -> int:
        """Store each record as :meth:`upsert_data_quality` does, in one transaction; return how many."""
        rows = [
            {
                "dataset": r.dataset,
                "venue": str(r.venue),
                "symbol": r.symbol,
                "date": r.date,
                "source": r.source,
                "rows": r.rows,
                "rejects": r.rejects,
                "gaps": r.gaps,
                "crossed": r.crossed,
                "ts_checked": r.ts_checked,
            }
            for r in records
        ]
        with self._begin("upsert_data_quality") as connection:
            self._upsert(connection, t.data_quality, rows)
        return len(rows)

    def data_quality(
        self,
        dataset: str | None = None,
        venue: str | None = None,
        symbol: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        source: str | None = None,
    ) -> list[DataQualityRecord]:
        """Stored records matching every given filter (dates inclusive), by dataset, venue, symbol, date, source."""
        c = t.data_quality.c
        query = sa.select(t.data_quality).order_by(c.dataset, c.venue, c.symbol, c.date, c.source)
        for column, value in ((c.dataset, dataset), (c.venue, venue), (c.symbol, symbol), (c.source, source)):
            if value is not None:
                query = query.where(column == str(value))
        if date_from is not None:
            query = query.where(c.date >= date_from)
        if date_to is not None:
            query = query.where(c.date <= date_to)
        with self._begin("data_quality") as connection:
            return [_data_quality(row) for row in connection.execute(query)]
