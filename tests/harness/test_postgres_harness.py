"""The Postgres harness really starts a PostgreSQL 15 server and isolates each test's database."""

from __future__ import annotations

import os

import psycopg2
import pytest
import sqlalchemy as sa

from tests.harness.postgres import URL_ENV, PostgresServer

pytestmark = pytest.mark.postgres


def test_postgres_url_connects_to_a_postgresql_15_server(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version()")).scalar_one()
            database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert "PostgreSQL 15" in version
    assert postgres_url.endswith("/" + database)


def test_each_test_gets_an_empty_database(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_two_databases_on_the_server_are_isolated(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    try:
        one = sa.create_engine(postgres_server.url(first))
        with one.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_here (x int)"))
        one.dispose()
        two = sa.create_engine(postgres_server.url(second))
        assert "only_here" not in sa.inspect(two).get_table_names()
        two.dispose()
    finally:
        postgres_server.drop_database(first)
        postgres_server.drop_database(second)


def test_dropping_a_database_with_open_connections_succeeds(postgres_server: PostgresServer) -> None:
    name = postgres_server.create_database()
    engine = sa.create_engine(postgres_server.url(name))
    conn = engine.connect()  # left open on purpose, as a failing test might
    postgres_server.drop_database(name)
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(postgres_server.url(name, driver="postgresql")).close()
    conn.invalidate()
    engine.dispose()


@pytest.mark.skipif(bool(os.environ.get(URL_ENV)), reason=f"{URL_ENV} is set: no cluster is started here")
def test_started_cluster_listens_on_loopback_in_a_temporary_directory(postgres_server: PostgresServer) -> None:
    assert postgres_server.started_here
    assert postgres_server.host == "127.0.0.1"
    assert postgres_server.base_dir is not None
    assert not str(postgres_server.base_dir).startswith(("/var/lib/postgresql", "/etc/postgresql"))
    assert (postgres_server.base_dir / "data" / "PG_VERSION").read_text().strip() == "15"
