"""Tables of the SQL store, as SQLAlchemy Core metadata.

This metadata is the target of the Alembic migrations in
``jtrader/storage/migrations``; a test asserts that upgrading an empty
database to head yields exactly these tables on SQLite and PostgreSQL. Change
a table here, then add a migration (``alembic -c jtrader/storage/migrations/alembic.ini
revision --autogenerate -m "..."``).

Conventions: prices in instrument ticks and sizes in lots are ``BigInteger``;
timestamps are ``ts_*`` columns of nanoseconds since the epoch (``BigInteger``);
money and reference decimals are :class:`ExactDecimal` (``NUMERIC`` with no
precision limit on PostgreSQL, text on SQLite), which round-trips any finite
``Decimal`` exactly; enums are stored as their stable codes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

__all__ = [
    "VERSION_TABLE",
    "ExactDecimal",
    "metadata",
    "instruments",
    "orders",
    "fills",
    "positions",
    "pnl_snapshots",
    "runs",
    "data_quality",
]


# Alembic's revision table; not the default ``alembic_version``, so that the store can share a
# database with other Alembic-managed applications (MLflow, Airflow) without clashing.
VERSION_TABLE = "jtrader_alembic_version"


class ExactDecimal(sa.types.TypeDecorator[Decimal]):
    """A ``Decimal`` stored without rounding: ``NUMERIC`` on PostgreSQL, text elsewhere.

    Binds ``Decimal``, ``int`` or a decimal string; rejects floats (inexact) and
    NaN/infinity with a ``ValueError`` naming the value. Returns ``Decimal``.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.NUMERIC())
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
            raise ValueError(
                f"expected a Decimal, int or decimal string for an exact decimal column, got {value!r} "
                f"({type(value).__name__}); floats are inexact: pass Decimal(str(x))"
            )
        try:
            number = Decimal(value)
        except ArithmeticError:
            raise ValueError(f"expected a decimal number, got {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"expected a finite decimal, got {value!r}")
        return number if dialect.name == "postgresql" else str(number)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


# Alembic names constraints after these, so that later migrations can address them.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A surrogate key that autoincrements on both backends (SQLite only does it for INTEGER PRIMARY KEY).
_SurrogateId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

instruments = sa.Table(
    "instruments",
    metadata,
    sa.Column("instrument_id", sa.Text, primary_key=True),  # SYMBOL.venue, e.g. BTCUSDT.binance_usdm
    sa.Column("venue", sa.Text, nullable=False),
    sa.Column("symbol", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("base", sa.Text, nullable=False),
    sa.Column("quote", sa.Text, nullable=False),
    sa.Column("settle", sa.Text, nullable=False),
    sa.Column("price_increment", ExactDecimal, nullable=False),
    sa.Column("size_increment", ExactDecimal, nullable=False),
    sa.Column("lot_size", ExactDecimal),
    sa.Column("min_quantity", ExactDecimal),
    sa.Column("min_notional", ExactDecimal, nullable=False),
    sa.Column("maker_fee", ExactDecimal, nullable=False),
    sa.Column("taker_fee", ExactDecimal, nullable=False),
    sa.Column("contract_size", ExactDecimal, nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("client_order_id", sa.Text, primary_key=True),
    sa.Column("instrument_id", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("order_type", sa.Text, nullable=False),
    sa.Column("quantity_lots", sa.BigInteger, nullable=False),
    sa.Column("price_ticks", sa.BigInteger),
    sa.Column("trigger_ticks", sa.BigInteger),
    sa.Column("time_in_force", sa.Text, nullable=False),
    sa.Column("reduce_only", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("filled_lots", sa.BigInteger, nullable=False),
    sa.Column("venue_order_id", sa.Text),
    sa.Column("strategy_id", sa.Text, nullable=False),
    sa.Column("ts_init", sa.BigInteger, nullable=False),
    sa.Column("ts_last", sa.BigInteger, nullable=False),
    sa.Index(None, "status", "account_id"),
    sa.Index(None, "instrument_id"),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("id", _SurrogateId, primary_key=True, autoincrement=True),
    sa.Column("venue", sa.Text, nullable=False),
    sa.Column("instrument_id", sa.Text, nullable=False),
    sa.Column("trade_id", sa.Text, nullable=False),
    sa.Column("account_id", sa.Text, nullable=False),
    sa.Column("client_order_id", sa.Text, nullable=False),
    sa.Column("venue_order_id", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("price_ticks", sa.BigInteger, nullable=False),
    sa.Column("size_lots", sa.BigInteger, nullable=False),
    sa.Column("liquidity", sa.Text, nullable=False),
    sa.Column("fee", ExactDecimal, nullable=False),
    sa.Column("fee_currency", sa.Text, nullable=False),
    sa.Column("ts_event", sa.BigInteger, nullable=False),
    sa.Column("ts_recv", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("venue", "instrument_id", "trade_id", "client_order_id"),  # a self-trade: 2 fills, 1 trade
    sa.Index(None, "account_id", "ts_event"),
    sa.Index(None, "account_id", "client_order_id"),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("instrument_id", sa.Text, primary_key=True),
    sa.Column("net_lots", sa.BigInteger, nullable=False),
    sa.Column("avg_entry", ExactDecimal, nullable=False),
    sa.Column("realised_pnl", ExactDecimal, nullable=False),
    sa.Column("fees", ExactDecimal, nullable=False),
    sa.Column("ts_last", sa.BigInteger, nullable=False),
)

pnl_snapshots = sa.Table(
    "pnl_snapshots",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("instrument_id", sa.Text, primary_key=True),
    sa.Column("ts", sa.BigInteger, primary_key=True),
    sa.Column("realised", ExactDecimal, nullable=False),
    sa.Column("unrealised", ExactDecimal, nullable=False),
    sa.Column("fees", ExactDecimal, nullable=False),
    sa.Column("mark", ExactDecimal),
    sa.Index(None, "ts"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # ingest, backtest, paper, live, ...
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("ts_started", sa.BigInteger, nullable=False),
    sa.Column("ts_finished", sa.BigInteger),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("summary", sa.JSON),
    sa.Index(None, "kind", "ts_started"),
)

data_quality = sa.Table(
    "data_quality",
    metadata,
    sa.Column("dataset", sa.Text, primary_key=True),
    sa.Column("venue", sa.Text, primary_key=True),
    sa.Column("symbol", sa.Text, primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("rejects", sa.BigInteger, nullable=False),
    sa.Column("gaps", sa.BigInteger, nullable=False),
    sa.Column("crossed", sa.BigInteger, nullable=False),
    sa.Column("ts_checked", sa.BigInteger, nullable=False),
)
