"""Every query of docs/queries.md, run on the analyst test data, gives the documented result.

The SQL and the expected tables are read from the Markdown file itself
(``ingest.analyst.documented_queries``), so documentation and code cannot drift apart. The
queries run as a read-only role made by ``grant_reader``: what an analyst would have.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from ingest import db
from ingest.analyst import (
    DOCUMENTED_QUERIES,
    documented_queries,
    format_cell,
    grant_reader,
    markdown_table,
)
from ingest.load import Loader
from ingest.parse import parse_file

ANALYST_FIXTURES = Path(__file__).parent / "fixtures" / "analyst"
FILING_SUFFIXES = (".txt", ".sgml", ".nc", ".xml")
QUERIES = documented_queries()


def analyst_files() -> list[Path]:
    return sorted(p for p in ANALYST_FIXTURES.iterdir() if p.suffix in FILING_SUFFIXES)


@pytest.fixture(scope="module")
def analyst_conn(server_url: str, template_database: str) -> Iterator[psycopg.Connection]:
    """One migrated database for the module, with the analyst filings loaded, connected as
    a fresh read-only role (dropped afterwards, with the database)."""
    name = f"edgar_test_queries_{uuid.uuid4().hex[:10]}"
    role = f"edgar_test_reader_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(db.libpq_conninfo(server_url), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_database)
            )
        )
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    conn = db.connect(url, autocommit=True)
    try:
        parsed = [parse_file(p.read_bytes(), p.name) for p in analyst_files()]
        results = Loader(conn).load(parsed)
        assert {r.status for r in results} == {"loaded"}, results
        grant_reader(conn, role)
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        yield conn
    finally:
        conn.execute("RESET ROLE")
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.close()
        with psycopg.connect(db.libpq_conninfo(server_url), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_the_documentation_has_enough_worked_questions() -> None:
    assert len(QUERIES) >= 12
    titles = [q.title for q in QUERIES]
    assert len(set(titles)) == len(titles), "two sections with the same heading"
    for q in QUERIES:
        assert q.sql.strip(), q.title
        # every result is either a table or an explicit "(0 rows)"
        assert q.rows or not q.columns, q.title


@pytest.mark.parametrize("query", QUERIES, ids=[q.title.split(".")[0] for q in QUERIES])
def test_documented_query_gives_the_documented_result(
    analyst_conn: psycopg.Connection, query
) -> None:
    cur = analyst_conn.execute(query.sql)
    columns = [d.name for d in cur.description]
    rows = cur.fetchall()
    got = [[format_cell(v) for v in row] for row in rows]
    if not query.columns:
        assert got == [], (
            f"{query.title}: documented as (0 rows), got:\n{markdown_table(columns, rows)}"
        )
        return
    assert columns == query.columns, query.title
    assert got == query.rows, (
        f"{query.title}: result differs from {DOCUMENTED_QUERIES.name}; it now is:\n"
        f"{markdown_table(columns, rows)}"
    )


def test_documented_queries_are_read_only_for_the_reader(analyst_conn: psycopg.Connection) -> None:
    """The fixture runs them as the read-only role: make sure it really is that role."""
    who = analyst_conn.execute("SELECT current_user, rolsuper FROM pg_roles "
                               "WHERE rolname = current_user").fetchone()
    assert who[0].startswith("edgar_test_reader_") and who[1] is False
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        analyst_conn.execute("DELETE FROM filings")
