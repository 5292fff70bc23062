"""Analysts at full-history scale, fifth step: each transaction line carries its footnotes.

At 30 M transactions (benchmarks/RESULTS.md, 2026-12-06) the selective questions were bound
by their lines' footnotes (one owner's 2,216 lines: ~80 of their ~110 ms), read through
``footnote_references`` (99.6 M rows) for every line, and question 3 (sales under a Rule
10b5-1 plan) by the text of every footnote (29 M, 12 GB) searched for "10b5-1": over 30 s.
Both facts belong to the line and are known when the filing is loaded, so the loader now
writes them with it (``ingest.rows.add_line_footnotes``):

* ``footnote_ids``: the ids of the footnotes that annotate any value of the line, in
  footnote order (the number in the id, then the id), the ids of its
  ``footnote_references``. ``insider_trades_all.footnote_ids`` is this column, and
  ``footnotes`` looks each id up in ``footnotes`` by key (no read of the references).
* ``footnote_mentions_10b5_1``: one of those footnotes mentions a Rule 10b5-1 plan (its text
  contains "10b5-1", any case: the test docs/queries.md question 3 made per row). A new last
  column of both views.

This upgrade fills both columns in for the lines already stored, from their references and
footnotes (the same rules as the loader; tests/test_upgrades.py compares the two), writing
each transaction table anew in its stored order (minutes at full history: measured in
benchmarks/RESULTS.md).

The views keep their names and columns, with ``footnote_mentions_10b5_1`` appended. The
downgrade restores migration 0012's views and drops the columns.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _earlier(filename: str) -> ModuleType:
    """An earlier migration of this folder, for the SQL it froze."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"_edgar_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load migration {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_M0012 = _earlier("0012_selective_questions.py")
_M0011 = _M0012._M0011  # the ones 0012 loaded, not second copies
_replace_once = _M0011._replace_once
TRANSACTION_TABLES = _M0011.TRANSACTION_TABLES

COLUMNS = {
    "footnote_ids": (
        "text[] NOT NULL DEFAULT '{}'",
        "Ids of the footnotes that annotate any value of this line, in footnote order (the "
        "number in the id, then the id): the ids of footnote_references of the line. Set by "
        "the loader from the filing.",
    ),
    "footnote_mentions_10b5_1": (
        "boolean NOT NULL DEFAULT false",
        "True when the text of one of this line's footnotes mentions a Rule 10b5-1 plan "
        "(contains '10b5-1', any case). Set by the loader from the filing.",
    ),
}

# A footnote that mentions a Rule 10b5-1 plan, as ingest.rows.PLAN_MENTION tests it.
MENTIONS_PLAN = "fn.text ILIKE '%10b5-1%'"


# Work tables of the upgrade, dropped before it ends.
_PLAN = "_migration_0013_plan_footnotes"
_FOOTNOTES = "_migration_0013_line_footnotes"
_LINES = "_migration_0013_lines"

# The footnotes that mention a Rule 10b5-1 plan (a few percent of them), and both columns of
# every transaction line that has footnote references, by (table_name, accession_number,
# sequence): the ids in the loader's order (the number in the id, no number last, then the id
# by code point). One read of each table for all transaction tables, and only the few
# mentioning footnotes hashed: joined to every footnote, at 30 M transactions the references
# waited on a 10 GB hash of all their texts.
_PLAN_FOOTNOTES_SQL = f"SELECT fn.accession_number, fn.footnote_id FROM footnotes fn WHERE {MENTIONS_PLAN}"
_LINE_FOOTNOTES_SQL = f"""
SELECT d.table_name, d.accession_number, d.sequence,
       array_agg(d.footnote_id ORDER BY d.n, d.footnote_id COLLATE "C") AS ids,
       bool_or(p.footnote_id IS NOT NULL) AS mentions
FROM (SELECT DISTINCT r.table_name, r.accession_number, r.sequence, r.footnote_id,
             nullif(regexp_replace(r.footnote_id, '[^0-9]', '', 'g'), '')::numeric AS n
      FROM footnote_references r
      WHERE r.table_name IN ({", ".join(f"'{t}'" for t in TRANSACTION_TABLES)})
        AND r.sequence IS NOT NULL) d
LEFT JOIN {_PLAN} p
  ON p.accession_number = d.accession_number AND p.footnote_id = d.footnote_id
GROUP BY d.table_name, d.accession_number, d.sequence
"""


# A line's footnote texts, in the order of its ids, each looked up by key.
_FOOTNOTE_TEXTS = """ARRAY(
        SELECT fn.text
        FROM unnest(t.footnote_ids) WITH ORDINALITY AS u(footnote_id, n)
        LEFT JOIN footnotes fn
          ON fn.accession_number = t.accession_number AND fn.footnote_id = u.footnote_id
        ORDER BY u.n)"""


def _edit_view(sql: str) -> str:
    """0012's insider_trades_all reading the footnote columns from the line."""
    sql = _replace_once(sql.rstrip().removesuffix(_M0012._FOOTNOTES_LATERAL.rstrip()),
                        "n.accession_number, n.sequence, n.superseded, ",
                        "n.accession_number, n.sequence, n.superseded, n.footnote_ids, "
                        "n.footnote_mentions_10b5_1, ",
                        count=len(TRANSACTION_TABLES))
    edits = (
        ("coalesce(fx.ids, '{}'::text[]) AS footnote_ids", "t.footnote_ids"),
        ("coalesce(fx.texts, '{}'::text[]) AS footnotes", f"{_FOOTNOTE_TEXTS} AS footnotes"),
        ("        AS first_filed_business_days_after\n",
         "        AS first_filed_business_days_after,\n    t.footnote_mentions_10b5_1\n"),
    )
    for old, new in edits:
        sql = _replace_once(sql, old, new)
    return sql + "\n"


INSIDER_TRADES_ALL_SQL = _edit_view(_M0012.INSIDER_TRADES_ALL_SQL)


# The table's indexes and the constraints they back: (index, its definition, constraint, the
# constraint's definition).
_INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname,
       pg_get_constraintdef(c.oid)
FROM pg_index i
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
WHERE i.indrelid = '{table}'::regclass
ORDER BY 1
"""

# Join methods that would reorder the lines written back, and a scan that may start midway.
_ORDER_CHANGING = ("enable_hashjoin", "enable_mergejoin", "synchronize_seqscans")


def _line_footnotes() -> None:
    """The work table of every transaction line's footnote columns (``_FOOTNOTES``)."""
    op.execute(f"CREATE UNLOGGED TABLE {_PLAN} AS {_PLAN_FOOTNOTES_SQL}")
    op.execute(f"ALTER TABLE {_PLAN} ADD PRIMARY KEY (accession_number, footnote_id)")
    op.execute(f"ANALYZE {_PLAN}")
    op.execute(f"CREATE UNLOGGED TABLE {_FOOTNOTES} AS {_LINE_FOOTNOTES_SQL}")
    op.execute(f"ALTER TABLE {_FOOTNOTES} ADD PRIMARY KEY (table_name, accession_number, sequence)")
    op.execute(f"ANALYZE {_FOOTNOTES}")
    op.execute(f"DROP TABLE {_PLAN}")


def _fill(table: str) -> None:
    """Write every line of ``table`` again with its two new columns: its lines copied aside,
    the table emptied, the lines written back in the order they were stored, each joined to
    its footnotes by key, and the table's indexes built again (exactly as the server states
    them; constraints by name). An UPDATE of the lines wrote a second version of each (at
    30 M transactions 20 minutes of index upkeep, and a table twice its size afterwards,
    which every whole-history question then read); this writes each line once more and
    leaves the table as a fresh load would. The work tables are unlogged: the migration is
    one transaction, and an unlogged table made in a transaction that fails goes with it."""
    bind = op.get_bind()
    indexes = bind.exec_driver_sql(_INDEXES_SQL.format(table=table)).fetchall()
    columns = [name for (name,) in bind.exec_driver_sql(
        f"SELECT attname FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum").fetchall()]
    kept = [c for c in columns if c not in COLUMNS]
    op.execute(f"CREATE UNLOGGED TABLE {_LINES} AS SELECT * FROM {table}")
    for index, _, constraint, _ in indexes:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}" if constraint
                   else f"DROP INDEX {index}")
    op.execute(f"TRUNCATE {table}")
    # The lines in their stored order (one sequential scan, each probing its footnotes by
    # key): no hash or merge join, which would reorder them.
    for setting in _ORDER_CHANGING:
        op.execute(f"SET LOCAL {setting} = off")
    op.execute(
        f"INSERT INTO {table} ({', '.join(kept)}, {', '.join(COLUMNS)})\n"
        f"SELECT {', '.join(f'l.{c}' for c in kept)}, coalesce(x.ids, '{{}}'), "
        f"coalesce(x.mentions, false)\n"
        f"FROM {_LINES} l LEFT JOIN {_FOOTNOTES} x\n"
        f"  ON x.table_name = '{table}' AND x.accession_number = l.accession_number "
        f"AND x.sequence = l.sequence"
    )
    for setting in _ORDER_CHANGING:
        op.execute(f"RESET {setting}")
    op.execute(f"DROP TABLE {_LINES}")
    for _, index_sql, constraint, constraint_sql in indexes:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_sql}"
                   if constraint else index_sql)
    op.execute(f"ANALYZE {table}")  # the expression index's statistics, the new columns'


def upgrade() -> None:
    # The fill's sorts and hashes of the references: in memory rather than in many batches
    # on disk (this transaction only).
    op.execute("SET LOCAL work_mem = '128MB'")
    for view in _M0011._VIEWS:
        op.execute(f"DROP VIEW {view}")
    _line_footnotes()
    for table in TRANSACTION_TABLES:
        for column, (definition, comment) in COLUMNS.items():
            # a constant default: no table rewrite; the fill below writes the lines with footnotes
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            _M0011._comment(f"COLUMN {table}.{column}", comment)
        _fill(table)
    op.execute(f"DROP TABLE {_FOOTNOTES}")
    _M0011._create_views(INSIDER_TRADES_ALL_SQL, _M0011.INSIDER_TRADES_SQL)


def downgrade() -> None:
    for view in _M0011._VIEWS:
        op.execute(f"DROP VIEW {view}")
    for table in TRANSACTION_TABLES:
        for column in COLUMNS:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    _M0011._create_views(_M0012.INSIDER_TRADES_ALL_SQL, _M0011.INSIDER_TRADES_SQL)
