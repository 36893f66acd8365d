"""A throwaway PostgreSQL 15 cluster for the test session, and a fresh database per test.

The cluster is started lazily, once per session, by the first test that asks for
it (``initdb`` + ``pg_ctl start`` in a temporary directory, on tmpfs ``/dev/shm``
when it has room, else ``/tmp``; on 127.0.0.1 and a free port, with ``fsync=off``:
well under a second), and stopped with
``pg_ctl -m immediate stop`` at session end; its directory is then deleted.
A cluster left behind by a session that was killed is reaped by the next one.
The packaged cluster (``/etc/postgresql/15/main``) is never touched.

Where the binaries come from: ``JTRADER_TEST_PG_BINDIR`` if set, else
``/usr/lib/postgresql/15/bin``, else ``initdb`` on ``PATH`` if it is version 15.
Running as root, the cluster runs as the ``postgres`` user (``runuser``), since
PostgreSQL refuses to run as root; otherwise as the current user.

If ``JTRADER_TEST_POSTGRES_URL`` is set (``postgresql://user:pw@host:port/db``),
that server is used instead and nothing is started; each test still gets its
own database, created and dropped on that server.

Fixtures:

* ``postgres_server`` (session): a :class:`PostgresServer` (host, port, user).
* ``postgres_url``: a fresh, empty database; yields its ``postgresql+psycopg2://`` URL.
* ``sql_url``: parametrised ``sqlite`` / ``postgres`` (marked ``postgres``): a fresh
  SQLite file URL or a fresh Postgres database URL. SQL-store tests use it so that
  each runs on both backends; ``-m "not postgres"`` runs the SQLite half only.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

__all__ = ["PostgresServer", "postgres_server", "postgres_url", "sql_url"]

PG_MAJOR = 15
DEFAULT_BINDIR = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
URL_ENV = "JTRADER_TEST_POSTGRES_URL"
BINDIR_ENV = "JTRADER_TEST_PG_BINDIR"
_PREFIX = "jtrader-pg-"
_OWNER_FILE = "owner.pid"  # the pid of the test session that started the cluster
_INSTALL_HINT = (
    f"`make test` installs them (apt-get install postgresql-{PG_MAJOR}); "
    f"or set {BINDIR_ENV} to a PostgreSQL {PG_MAJOR} bin directory, "
    f"or {URL_ENV} to a server to use instead"
)


@dataclass
class PostgresServer:
    """A reachable PostgreSQL server on which tests may create and drop databases."""

    host: str
    port: int
    user: str
    password: str | None = None
    admin_database: str = "postgres"
    started_here: bool = False
    # Set only for a cluster this plugin started.
    bindir: Path | None = None
    base_dir: Path | None = field(default=None, repr=False)

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        auth = quote(self.user, safe="")
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"

    def _admin(self):  # psycopg2 connection in autocommit, for CREATE/DROP DATABASE
        import psycopg2

        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.admin_database,
            connect_timeout=10,
        )
        conn.autocommit = True
        return conn

    def create_database(self, prefix: str = "jt") -> str:
        """Create an empty database with a unique name and return the name."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                # FILE_COPY (PostgreSQL >= 15) copies template1 without WAL-logging every page: 4x faster.
                strategy = " STRATEGY = FILE_COPY" if conn.server_version >= 150000 else ""
                cur.execute(f'CREATE DATABASE "{name}"{strategy}')
        finally:
            conn.close()
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing any connection a test left open (PostgreSQL >= 13)."""
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


# -- starting and stopping a cluster ------------------------------------------


def _find_bindir() -> Path:
    configured = os.environ.get(BINDIR_ENV)
    candidates = [Path(configured)] if configured else [DEFAULT_BINDIR]
    on_path = shutil.which("initdb")
    if not configured and on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        initdb = bindir / "initdb"
        if not (initdb.is_file() and (bindir / "pg_ctl").is_file()):
            continue
        version = subprocess.run([str(initdb), "--version"], capture_output=True, text=True).stdout
        if re.search(rf"\b{PG_MAJOR}\.\d+", version):
            return bindir
    looked = ", ".join(str(c) for c in candidates)
    pytest.fail(
        f"PostgreSQL {PG_MAJOR} binaries (initdb, pg_ctl) not found in {looked}: {_INSTALL_HINT}", pytrace=False
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cluster_parent_dir() -> str | None:
    """Where to put the cluster: tmpfs if roomy (CREATE DATABASE is 20x faster there), else /tmp.

    Both are world-traversable, which matters as root: the ``postgres`` user must reach the
    directory, and a root-only ``TMPDIR`` would not do. Short paths also keep the Unix socket
    under its 107-byte limit.
    """
    for candidate in ("/dev/shm", "/tmp"):
        path = Path(candidate)
        if path.is_dir() and os.access(path, os.W_OK | os.X_OK):
            if candidate == "/dev/shm" and shutil.disk_usage(path).free < 1 << 30:
                continue  # containers often give /dev/shm only 64 MB
            return candidate
    return None


def _as_cluster_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as ``postgres`` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(_as_cluster_owner(cmd), capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        pytest.fail(
            f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{done.stdout}\n{done.stderr}\n{tail}",
            pytrace=False,
        )


def start_cluster() -> PostgresServer:
    """Initialise and start a fresh cluster in a temporary directory; fails the test with the log if it cannot."""
    bindir = _find_bindir()
    parent = _cluster_parent_dir()
    _reap_orphans(bindir, Path(parent or tempfile.gettempdir()))
    base = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=parent))
    (base / _OWNER_FILE).write_text(str(os.getpid()))
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres", group="postgres")
    data, log = base / "data", base / "postgres.log"
    user = "postgres" if os.geteuid() == 0 else _current_user()
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                user,
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            "initdb",
        )
        last_error: BaseException | None = None
        for _ in range(3):  # another process may grab the free port between probe and bind
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
            )
            try:
                _run(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "30", "-o", options, "start"],
                    "pg_ctl start",
                    log,
                )
            except pytest.fail.Exception as exc:
                last_error = exc
                continue
            return PostgresServer("127.0.0.1", port, user, started_here=True, bindir=bindir, base_dir=base)
        raise last_error  # type: ignore[misc]
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise


def _reap_orphans(bindir: Path, parent: Path) -> None:
    """Stop and delete clusters left by test sessions that died without teardown (kill -9, power loss).

    Only directories this plugin made (prefix and owner file) whose owning process is gone are touched.
    """
    for base in parent.glob(_PREFIX + "*"):
        try:
            owner = int((base / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(owner, 0)
            continue  # the session that started it is still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, another user's
        stop_cluster(PostgresServer("", 0, "", started_here=True, bindir=bindir, base_dir=base))


def stop_cluster(server: PostgresServer) -> None:
    """Stop a cluster started by :func:`start_cluster` at once and delete its directory."""
    if not server.started_here or server.base_dir is None or server.bindir is None:
        return
    try:
        subprocess.run(
            _as_cluster_owner(
                [str(server.bindir / "pg_ctl"), "-D", str(server.base_dir / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(server.base_dir, ignore_errors=True)


def _current_user() -> str:
    import getpass

    return getpass.getuser()


def _server_from_url(url: str) -> PostgresServer:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        pytest.fail(f"{URL_ENV} must be a postgresql:// URL, got driver {parsed.drivername!r}", pytrace=False)
    return PostgresServer(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        admin_database=parsed.database or "postgres",
    )


# -- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server: ``JTRADER_TEST_POSTGRES_URL``'s, or a throwaway 15 cluster."""
    configured = os.environ.get(URL_ENV)
    if configured:
        yield _server_from_url(configured)
        return
    server = start_cluster()
    try:
        yield server
    finally:
        stop_cluster(server)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database on the session server; dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQL store URL: a SQLite file in ``tmp_path``, or a fresh Postgres database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")
