"""Compare two databases: content checksums of every table, and a snapshot of the schema.

``table_checksums`` gives (rows, md5 of the sorted row texts) per table of the public
schema (Alembic's bookkeeping table left out), optionally for chosen columns only or
without some: two databases hold the same content exactly when their checksums are equal.
``schema_snapshot`` lists what the migrations create (columns, constraints, indexes, views,
routines, triggers, comments) in a form that compares equal between two databases that
went through the same migrations, whatever their data.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import psycopg
from psycopg import sql

Checksums = dict[str, tuple[int, str]]


def table_columns(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Every base table of the public schema but alembic_version -> its columns, in order."""
    rows = conn.execute(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
        "AND c.table_name <> 'alembic_version' ORDER BY c.table_name, c.ordinal_position"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def table_checksums(
    conn: psycopg.Connection,
    columns: Mapping[str, Sequence[str]] | None = None,
    skip: Mapping[str, Collection[str]] | None = None,
) -> Checksums:
    """(rows, md5 of the sorted row texts) per table.

    ``columns``: the tables and columns to read (default: every table, every column);
    ``skip``: columns left out per table (values that legitimately differ, such as times).
    """
    chosen = table_columns(conn) if columns is None else columns
    skip = skip or {}
    out: Checksums = {}
    for table, table_cols in chosen.items():
        cols = [c for c in table_cols if c not in skip.get(table, ())]
        query = sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg(r, ',' ORDER BY r)), '') "
            "FROM (SELECT ROW({cols})::text AS r FROM {table}) AS rows"
        ).format(cols=sql.SQL(", ").join(map(sql.Identifier, cols)), table=sql.Identifier(table))
        count, digest = conn.execute(query).fetchone()
        out[table] = (int(count), digest)
    return out


_SNAPSHOT_QUERIES = {
    "columns": (
        "SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, "
        "numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2"
    ),
    "constraints": (
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
    ),
    "indexes": (
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
    ),
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1",
    "routines": (
        "SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc p "
        "WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1"
    ),
    "triggers": (
        "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE NOT tgisinternal ORDER BY 1, 2"
    ),
    "comments": (
        "SELECT c.relname, a.attname, d.description FROM pg_description d "
        "JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0 "
        "WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1, 2"
    ),
    "sequences": (
        "SELECT sequencename, data_type::text, increment_by FROM pg_sequences "
        "WHERE schemaname = 'public' ORDER BY 1"
    ),
}


def schema_snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """What the migrations define in the public schema, kind by kind, sorted."""
    return {kind: conn.execute(query).fetchall() for kind, query in _SNAPSHOT_QUERIES.items()}
