"""The SQL store of jtrader (SQLAlchemy Core, Alembic migrations; SQLite or PostgreSQL).

Entry points: :class:`SqlStore` (``SqlStore.from_settings(settings)``) and
:func:`migrate`. The exception tree is drawn in :mod:`jtrader.storage.sql.store`::

    StoreError
     +-- StoreUnavailable, SchemaOutOfDate, ConflictError, InvalidRecord, UnknownRun
"""

from jtrader.storage.sql.store import (
    MIGRATIONS_DIR,
    ConflictError,
    DataQualityRecord,
    InvalidRecord,
    PnlSnapshot,
    Run,
    RunStatus,
    SchemaOutOfDate,
    SqlStore,
    StoreError,
    StoreUnavailable,
    UnknownRun,
    create_store_engine,
    current_revision,
    head_revision,
    migrate,
)

__all__ = [
    "MIGRATIONS_DIR",
    "ConflictError",
    "DataQualityRecord",
    "InvalidRecord",
    "PnlSnapshot",
    "Run",
    "RunStatus",
    "SchemaOutOfDate",
    "SqlStore",
    "StoreError",
    "StoreUnavailable",
    "UnknownRun",
    "create_store_engine",
    "current_revision",
    "head_revision",
    "migrate",
]
