"""Upgrades of a LOADED database: from every earlier Alembic revision to head, and the
latest migration's downgrade and upgrade again.

The reference is the corpus loaded at head by today's loader (``head_load``). Today's
loader writes today's columns, so a database at an older revision is loaded with the rows
of the reference restricted to the columns that exist at that revision, copied into the
tables the migrations left empty (the ones the loader writes; tables a migration seeds,
such as ``transaction_codes``, keep the migration's rows). That is exactly what an older
loader stored for the same documents, as long as no later migration changed the meaning
of an existing column (which a migration must then convert, and this test would catch).

After the upgrade, every table must have the reference's content on the columns that
existed at the old revision (tables created since: all their columns), and the schema must
be the same as a fresh database's at head. Revisions are read from the migration scripts:
a migration added later is covered without touching this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from graphlib import TopologicalSorter

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy.engine import make_url

from ingest import db
from ingest.load import Loader
from ingest.records import LINE_FOOTNOTE_COLUMNS, TRANSACTION_TABLES
from tests.checksums import Checksums, schema_snapshot, table_checksums, table_columns
from tests.test_corpus_db import corpus_batch

SCRIPTS = ScriptDirectory.from_config(db.alembic_config())
REVISIONS = [script.revision for script in reversed(list(SCRIPTS.walk_revisions()))]  # base first
HEAD = SCRIPTS.get_current_head()
EARLIER = REVISIONS[:-1]


class Reference:
    """The corpus loaded at head: where rows are copied from and what results must match."""

    def __init__(self, url: str) -> None:
        self.url = url
        with db.connect(url, autocommit=True) as conn:
            self.columns = table_columns(conn)
            self.schema = schema_snapshot(conn)

    def checksums(self, columns: dict[str, list[str]]) -> Checksums:
        with db.connect(self.url, autocommit=True) as conn:
            return table_checksums(conn, columns)


@pytest.fixture(scope="module")
def head_load(_migrated_databases) -> Iterator[Reference]:
    """A fresh database at head (conftest's per-session factory) with the corpus loaded."""
    name = _migrated_databases.take()
    url = make_url(_migrated_databases.server_url).set(database=name).render_as_string(hide_password=False)
    try:
        with db.connect(url, autocommit=True) as conn:
            Loader(conn).load(corpus_batch())
        yield Reference(url)
    finally:
        db.dispose_engines()
        _migrated_databases.release(name)


def foreign_key_order(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """``tables`` with every referenced table before the tables that reference it."""
    edges = conn.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
    ).fetchall()
    graph: dict[str, set[str]] = {table: set() for table in tables}
    for child, parent in edges:
        if child in graph and parent in graph and child != parent:
            graph[child].add(parent)
    return list(TopologicalSorter(graph).static_order())


def copy_loaded_rows(reference: Reference, url: str) -> dict[str, list[str]]:
    """Copy the reference's rows into the tables of ``url`` that the migrations left empty,
    on the columns they have there. Returns the tables and columns of ``url``."""
    with db.connect(reference.url, autocommit=True) as source, db.connect(url) as target:
        columns = table_columns(target)
        empty = [
            table for table in columns
            if table in reference.columns
            and target.execute(sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(
                sql.Identifier(table))).fetchone()[0]
        ]
        for table in foreign_key_order(target, empty):
            cols = sql.SQL(", ").join(map(sql.Identifier, columns[table]))
            read = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(cols, sql.Identifier(table))
            write = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), cols)
            with source.cursor().copy(read) as rows_out, target.cursor().copy(write) as rows_in:
                for data in rows_out:
                    rows_in.write(data)
        target.commit()
    return columns


# Columns of tables added since a revision that add up what a loader of that revision did not
# store: before migration 0006 no X0101 transactionValue was kept (the price of 2003
# documents), and filing_trade_totals.value and insider_trade_days' money columns sum the
# prices it stands in for. The upgrade keeps what was stored; a reparse of those filings
# brings the rest.
NEEDS_VALUES_STORED_SINCE = {
    ("filing_trade_totals", "value"): "0006",
    **{("insider_trade_days", column): "0006"
       for column in ("purchase_value", "sale_value", "exercise_cost")},
}


def assert_same_as_head(reference: Reference, url: str, columns_before: dict[str, list[str]],
                        revision: str = HEAD) -> None:
    """Content on the columns that existed before the upgrade from ``revision`` (all columns
    of tables added since, but those of NEEDS_VALUES_STORED_SINCE it could not have), and
    the schema, equal to the reference's."""
    lacking = {column for column, since in NEEDS_VALUES_STORED_SINCE.items()
               if REVISIONS.index(revision) < REVISIONS.index(since)}
    compared = {table: [c for c in columns_before.get(table, cols) if (table, c) not in lacking]
                for table, cols in reference.columns.items()}
    with db.connect(url, autocommit=True) as conn:
        assert table_columns(conn) == reference.columns
        got = table_checksums(conn, compared)
        schema = schema_snapshot(conn)
    expected = reference.checksums(compared)
    assert {t: n for t, (n, _) in got.items()} == {t: n for t, (n, _) in expected.items()}
    assert got == expected
    assert schema == reference.schema


def test_the_migration_chain_is_linear_and_long_enough() -> None:
    assert REVISIONS[0] == "0001" and REVISIONS[-1] == HEAD and len(SCRIPTS.get_heads()) == 1
    assert len(EARLIER) >= 5


@pytest.mark.parametrize("revision", EARLIER)
def test_upgrade_of_a_loaded_database(revision: str, head_load: Reference, empty_database_url: str) -> None:
    config = db.alembic_config(empty_database_url)
    command.upgrade(config, revision)
    columns_before = copy_loaded_rows(head_load, empty_database_url)
    with db.connect(empty_database_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM filings").fetchone()[0] > 100  # really loaded

    command.upgrade(config, "head")

    assert db.current_revision(empty_database_url) == HEAD
    assert_same_as_head(head_load, empty_database_url, columns_before, revision)


def test_downgrade_of_the_latest_migration_and_upgrade_again(head_load: Reference, database_url: str) -> None:
    copy_loaded_rows(head_load, database_url)
    config = db.alembic_config(database_url)
    previous = SCRIPTS.get_revision(HEAD).down_revision
    assert isinstance(previous, str)

    command.downgrade(config, previous)
    assert db.current_revision(database_url) == previous
    with db.connect(database_url, autocommit=True) as conn:
        columns_before = table_columns(conn)
    command.upgrade(config, "head")

    assert_same_as_head(head_load, database_url, columns_before)


def test_the_line_footnotes_filled_in_by_0013_are_what_the_loader_writes(
    head_load: Reference, empty_database_url: str
) -> None:
    """Migration 0013 fills each stored transaction line's ``footnote_ids`` and
    ``footnote_mentions_10b5_1`` in SQL; the loader computes them in Python
    (``ingest.rows.add_line_footnotes``). Both must give the same values on the corpus."""
    config = db.alembic_config(empty_database_url)
    command.upgrade(config, "0012")
    copy_loaded_rows(head_load, empty_database_url)
    stored_order = _physical_order(empty_database_url)
    command.upgrade(config, "0013")
    assert _physical_order(empty_database_url) == stored_order  # written back as stored

    compared = {table: head_load.columns[table] for table in TRANSACTION_TABLES}
    assert all(set(LINE_FOOTNOTE_COLUMNS) <= set(columns) for columns in compared.values())
    with db.connect(empty_database_url, autocommit=True) as conn:
        got = table_checksums(conn, compared)
        mentions = conn.execute("SELECT count(*) FROM non_derivative_transactions "
                                "WHERE footnote_mentions_10b5_1").fetchone()[0]
    assert got == head_load.checksums(compared)
    assert mentions > 0


def _physical_order(url: str) -> dict[str, list[tuple]]:
    """Each transaction table's lines in the order they are stored (ctid)."""
    with db.connect(url, autocommit=True) as conn:
        return {table: conn.execute(sql.SQL("SELECT accession_number, sequence FROM {} ORDER BY ctid")
                                    .format(sql.Identifier(table))).fetchall()
                for table in TRANSACTION_TABLES}
