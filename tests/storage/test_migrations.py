"""The Alembic migrations build exactly the store's schema, on SQLite and PostgreSQL, from any working directory."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from jtrader.storage.sql import (
    MIGRATIONS_DIR,
    SchemaOutOfDate,
    SqlStore,
    create_store_engine,
    current_revision,
    head_revision,
    migrate,
)
from jtrader.storage.sql.schema import VERSION_TABLE, metadata

REPO_ROOT = Path(__file__).resolve().parents[2]


def schema_diff(url: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrading_an_empty_database_gives_exactly_the_schema_metadata(sql_url: str) -> None:
    migrate(sql_url)

    assert schema_diff(sql_url) == []
    assert table_names(sql_url) == set(metadata.tables) | {VERSION_TABLE}


def test_schema_diff_notices_a_column_the_migration_lacks(sql_url: str) -> None:
    # Guards the test above: the comparison does see differences on this backend.
    migrate(sql_url)
    engine = sa.create_engine(sql_url)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE fills ADD COLUMN stray TEXT"))
        connection.execute(sa.text("DROP INDEX ix_orders_instrument_id"))
    engine.dispose()

    kinds = sorted(diff[0] for diff in schema_diff(sql_url))

    assert kinds == ["add_index", "remove_column"]


def test_migrating_again_changes_nothing_and_keeps_the_data(sql_url: str) -> None:
    with SqlStore(sql_url) as store:
        store.start_run("ingest", run_id="r1")

    migrate(sql_url)
    migrate(sql_url)

    engine = create_store_engine(sql_url)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision() == "0002"
    engine.dispose()
    with SqlStore(sql_url, migrate=False) as store:
        assert store.get_run("r1") is not None


def test_opening_an_unmigrated_database_without_migrating_says_to_migrate(sql_url: str) -> None:
    with pytest.raises(SchemaOutOfDate, match=r"none \(empty database\).*migrate"):
        SqlStore(sql_url, migrate=False)


def test_downgrading_to_base_removes_every_table_and_upgrading_restores_them(sql_url: str) -> None:
    migrate(sql_url)
    engine = create_store_engine(sql_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    engine.dispose()

    assert table_names(sql_url) <= {VERSION_TABLE}
    migrate(sql_url)
    assert schema_diff(sql_url) == []


def test_migrate_needs_no_alembic_ini_in_the_working_directory(
    sql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    migrate(sql_url)

    assert schema_diff(sql_url) == []
    assert not (tmp_path / "alembic.ini").exists()


def test_sqlite_store_creates_the_missing_parent_folders_of_its_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "deep" / "jtrader.db"

    with SqlStore(f"sqlite:///{path}") as store:
        store.start_run("paper")

    assert path.is_file()


def test_packaged_migration_files_are_covered_by_the_package_data_globs() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["jtrader.storage"]
    storage_dir = MIGRATIONS_DIR.parent
    files = [
        p.relative_to(storage_dir).as_posix()
        for p in MIGRATIONS_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]

    # env.py is a module of the namespace package jtrader.storage.migrations, shipped as code.
    uncovered = [f for f in files if f != "migrations/env.py" and not any(fnmatch.fnmatch(f, g) for g in globs)]

    assert "migrations/versions/0001_initial.py" in files
    assert uncovered == []
