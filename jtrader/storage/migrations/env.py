"""Alembic environment of the jtrader SQL store.

Run programmatically by :func:`jtrader.storage.sql.migrate`, which hands over an
open connection in ``config.attributes["connection"]``. From the command line
(``alembic -c jtrader/storage/migrations/alembic.ini upgrade head`` or
``revision --autogenerate -m "..."``) the URL is ``sqlalchemy.url`` if set in the
ini file, else the jtrader settings' ``db_url``.

This file configures no logging: the application's logging setup stays as it is.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context

from jtrader.storage.sql.schema import VERSION_TABLE, metadata

config = context.config


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        compare_type=True,
        **kwargs,
    )


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from jtrader.config import load_settings

    return load_settings().resolved_db_url


def run_migrations_offline() -> None:
    """Emit the SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: sa.Connection) -> None:
    # SQLite cannot ALTER most things: later migrations recreate tables in batch mode.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from jtrader.storage.sql.store import create_store_engine

    engine = create_store_engine(_url())
    try:
        with engine.begin() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
