"""Rewrite the result tables of docs/queries.md from the analyst test data.

    python -m tests.regenerate_queries --server postgresql://postgres@127.0.0.1:5432/postgres

Loads ``tests/fixtures/analyst`` into a scratch database on that server (migrated to
head, dropped afterwards), runs every ```` ```sql ```` block of docs/queries.md and
replaces the table (or ``(0 rows)``) under it with what it returned, formatted as
``tests/test_queries.py`` compares it. Review the diff: a changed result is a changed
answer.
"""

from __future__ import annotations

import argparse
import re
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from ingest import db
from ingest.analyst import DOCUMENTED_QUERIES, documented_queries, markdown_table
from ingest.load import Loader
from ingest.parse import parse_file

ANALYST_FIXTURES = Path(__file__).parent / "fixtures" / "analyst"
FILING_SUFFIXES = (".txt", ".sgml", ".nc", ".xml")

# A SQL block, the blank line after it, and its result: a Markdown table or "(0 rows)".
_BLOCK = re.compile(r"(```sql\n(?P<sql>.*?)\n```\n\n)(?P<result>(?:\|[^\n]*\n)+|\(0 rows\)\n)", re.S)


def results(url: str) -> dict[str, str]:
    """SQL text -> its result as a Markdown table, on the analyst fixtures loaded at url."""
    with db.connect(url, autocommit=True) as conn:
        files = sorted(p for p in ANALYST_FIXTURES.iterdir() if p.suffix in FILING_SUFFIXES)
        Loader(conn).load([parse_file(p.read_bytes(), p.name) for p in files])
        out: dict[str, str] = {}
        for query in documented_queries():
            cur = conn.execute(query.sql)
            out[query.sql] = markdown_table([d.name for d in cur.description], cur.fetchall())
    return out


def rewrite(text: str, tables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        table = tables[match.group("sql").strip()]
        return match.group(1) + table + "\n"

    return _BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="a PostgreSQL server URL")
    args = parser.parse_args(argv)
    server = db.normalize_url(args.server)
    name = f"edgar_regenerate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(db.libpq_conninfo(server), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        db.upgrade(url)
        db.dispose_engines()
        tables = results(url)
    finally:
        db.dispose_engines()
        with psycopg.connect(db.libpq_conninfo(server), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    path = Path(DOCUMENTED_QUERIES)
    path.write_text(rewrite(path.read_text(encoding="utf-8"), tables), encoding="utf-8")
    print(f"rewrote {len(tables)} results in {path}")


if __name__ == "__main__":
    main()
