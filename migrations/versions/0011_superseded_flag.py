"""Analysts at full-history scale, third step: whether a transaction line is superseded is
stored on the line itself.

``insider_trades`` left out the superseded lines with an anti-join against
``amended_lines``: at 30 M transactions (benchmarks/RESULTS.md, 2026-12-06) every
whole-history question hashed the ~330,000 superseded lines on their three-column key and,
that hash being larger than ``work_mem``, wrote all 30 M transaction rows to temporary files
and read them back (``count(*)``: 4 s reading the two tables, 8-9 s in the anti-join). Now
each transaction row carries ``superseded`` (true exactly when its ``amended_lines`` status
is 'superseded'), and ``insider_trades`` is ``insider_trades_all`` filtered on it: a filter
inside each table's scan, no join.

The flag is derived, like ``amended_lines``, and kept current in the same places:
``refresh_analyst_rows`` (the loader's batch transaction, the filing-delete trigger)
updates the lines of every filing whose family it recomputes (before and after), and
``rebuild_analyst_rows`` sets every line's flag after refilling ``amended_lines``. New
rows start false: a line is superseded only once an amendment's refresh says so, in the
same transaction. Adding the column is instant (a constant default); the upgrade then
flags the lines ``amended_lines`` already marks.

Two small partial indexes serve the questions about the few amendments: the amendments in
filing order (``filings``), and the amendments left unlinked because two originals tie
(``filing_summaries``). And the child tables' ``accession_number`` gets a fixed ratio of
filings to rows for the planner (``ACCESSIONS_PER_ROW``, below): its sampled estimate was
23 times too low at 30 M.

The views keep their names and columns; ``insider_trades_all.is_superseded`` now reads the
flag (the same value). The downgrade restores migration 0009's views and refresh and 0010's
rebuild, and drops the column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0011"
down_revision = "0010"
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


_M0010 = _earlier("0010_analyst_scale.py")
_M0009 = _M0010._M0009  # the one 0010 loaded (loading 0009 runs 0003 and 0005 too)

TRANSACTION_TABLES = _M0009.TRANSACTION_TABLES


def _replace_once(text: str, old: str, new: str, count: int = 1) -> str:
    """``text`` with ``old`` (found exactly ``count`` times: the frozen SQL it edits is the
    one expected) replaced by ``new``."""
    found = text.count(old)
    if found != count:
        raise RuntimeError(f"expected {count} of {old!r} in the frozen SQL, found {found}")
    return text.replace(old, new)


def _superseded(table: str) -> str:
    """Is line ``t`` of ``table`` marked superseded in amended_lines?"""
    return f"""EXISTS (
          SELECT 1 FROM amended_lines m
          WHERE m.accession_number = t.accession_number AND m.table_name = '{table}'
            AND m.sequence = t.sequence AND m.status = 'superseded')"""


def flag_lines(accessions: str) -> str:
    """Statements setting ``superseded`` from ``amended_lines`` on the lines of the filings
    in the text[] expression ``accessions``, writing only the rows whose flag changes."""
    return ";".join(f"""
    UPDATE {table} t SET superseded = NOT t.superseded
    WHERE t.accession_number = ANY({accessions})
      AND t.superseded <> {_superseded(table)}""" for table in TRANSACTION_TABLES)


def unflag_lines_no_longer_superseded() -> str:
    """Statements clearing the flag of every line ``amended_lines`` no longer marks (read
    from the few flagged rows, then one anti-join)."""
    return ";".join(f"""
    UPDATE {table} t SET superseded = false
    WHERE t.superseded AND NOT {_superseded(table)}""" for table in TRANSACTION_TABLES)


def flag_superseded_lines() -> str:
    """Statements flagging every line ``amended_lines`` marks superseded and is not yet."""
    return ";".join(f"""
    UPDATE {table} t SET superseded = true
    FROM amended_lines m
    WHERE m.status = 'superseded' AND m.table_name = '{table}'
      AND t.accession_number = m.accession_number AND t.sequence = m.sequence
      AND NOT t.superseded""" for table in TRANSACTION_TABLES)


# The refresh: the filings of the families it recomputes, before and after, get their flags
# set again (a line stops being superseded when its family changes or goes away).
_DELETE_LINES = "DELETE FROM amended_lines WHERE original_accession = ANY(roots);"
REFRESH_SQL = _replace_once(
    _replace_once(
        _replace_once(
            _M0009.REFRESH_SQL.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1),
            "    roots text[];\n",
            "    roots text[];\n    members text[];\n",
        ),
        _DELETE_LINES,
        "members := ARRAY(SELECT DISTINCT accession_number FROM amended_lines "
        "WHERE original_accession = ANY(roots));\n    " + _DELETE_LINES,
    ),
    "\nEND\n$$",
    "\n    members := members || ARRAY(SELECT DISTINCT accession_number FROM amended_lines "
    "WHERE original_accession = ANY(roots));\n"
    f"    {flag_lines('members')};\nEND\n$$",
)

# The rebuild: every line's flag once amended_lines is refilled, set-based (a per-row test
# of 30 M rows would probe amended_lines 30 M times). A row whose flag is right already is
# not written again.
REBUILD_SQL = _replace_once(
    _M0010.REBUILD_SQL,
    "    ANALYZE amended_lines;\nEND",
    f"    ANALYZE amended_lines;\n    {unflag_lines_no_longer_superseded()};\n"
    f"    {flag_superseded_lines()};\nEND",
)

# insider_trades_all reads the flag from the transaction row; insider_trades filters on it
# (PostgreSQL moves the filter into each table's scan: no join at all).
INSIDER_TRADES_ALL_SQL = _replace_once(
    _replace_once(
        _M0009.INSIDER_TRADES_ALL_SQL,
        "n.accession_number, n.sequence, ",
        "n.accession_number, n.sequence, n.superseded, ",
        count=len(TRANSACTION_TABLES),
    ),
    "coalesce(m.status = 'superseded', false) AS is_superseded",
    "t.superseded AS is_superseded",
)
INSIDER_TRADES_SQL = """
CREATE VIEW insider_trades AS
SELECT * FROM insider_trades_all a
WHERE NOT a.is_superseded
"""

COLUMN_COMMENT = (
    "True exactly when amended_lines.status of this line is 'superseded': a later amendment "
    "restates it (insider_trades leaves it out). Derived: set by refresh_analyst_rows and "
    "rebuild_analyst_rows, never by a filing."
)

_VIEWS = ("insider_trades", "insider_trades_all")

# How many distinct filings a child table's rows belong to, as a fraction of its rows
# (PostgreSQL's n_distinct < 0: it scales with the table). ANALYZE estimates it from a sample
# of 30,000 rows, and because a filing's rows sit together its estimate falls further behind
# the more filings there are: at 30 M transactions it took non_derivative_transactions'
# 22 M rows to come from 188,000 filings (4.3 M in fact), so it expected 118 rows of each
# filing where there are 5, and joined a few hundred filings to the transactions by reading
# all of them (question 16: 24 s). The fractions are rows per filing of the real filings in
# tests/fixtures/analyst (0.20 for non-derivative transactions) and of the generator's mix of
# real filings (benchmarks/generate_million.py, the same 0.19 there), rounded.
ACCESSIONS_PER_ROW = {
    "non_derivative_transactions": 0.2,
    "derivative_transactions": 0.4,
    "non_derivative_holdings": 0.4,
    "derivative_holdings": 0.2,
    "footnotes": 0.2,
    "footnote_references": 0.05,
    "filing_owners": 0.6,
    "owner_signatures": 0.7,
    "amended_lines": 0.2,
}

# Two small partial indexes for questions about the few amendments (docs/queries.md 10 and
# 16): the amendments in filing order (at 30 M, reading every filing's index entry by filed
# date to keep ~100,000 amendments took 2.6 s), and the amendments linked to no filing
# because two tie. The predicate is migration 0003's spelling of "an amendment".
INDEXES_SQL = {
    "ix_filings_amendments_filed": "CREATE INDEX ix_filings_amendments_filed ON filings "
    f"(filed_date, accession_number) WHERE {_M0009._is_amendment('filings')}",
    "ix_filing_summaries_ambiguous": "CREATE INDEX ix_filing_summaries_ambiguous ON "
    "filing_summaries (accession_number) WHERE amendment_match_rule = 'ambiguous'",
}


def _comment(target: str, text: str) -> None:
    op.execute(f"COMMENT ON {target} IS '" + text.replace("'", "''") + "'")


def _create_views(all_sql: str, current_sql: str) -> None:
    op.execute(all_sql)
    op.execute(current_sql)
    for view in reversed(_VIEWS):
        _comment(f"VIEW {view}", _M0009.COMMENTS[f"VIEW {view}"])


def upgrade() -> None:
    for view in _VIEWS:
        op.execute(f"DROP VIEW {view}")
    for table in TRANSACTION_TABLES:
        # a constant default: no table rewrite
        op.execute(f"ALTER TABLE {table} ADD COLUMN superseded boolean NOT NULL DEFAULT false")
        _comment(f"COLUMN {table}.superseded", COLUMN_COMMENT)
    op.execute(flag_superseded_lines())
    op.execute(REFRESH_SQL)
    op.execute(REBUILD_SQL)
    _create_views(INSIDER_TRADES_ALL_SQL, INSIDER_TRADES_SQL)
    for statement in INDEXES_SQL.values():
        op.execute(statement)
    for table, fraction in ACCESSIONS_PER_ROW.items():
        op.execute(f"ALTER TABLE {table} ALTER COLUMN accession_number "
                   f"SET (n_distinct = -{fraction})")
        op.execute(f"ANALYZE {table}")  # the setting applies from the next ANALYZE on


def downgrade() -> None:
    for table in ACCESSIONS_PER_ROW:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN accession_number RESET (n_distinct)")
    for index in INDEXES_SQL:
        op.execute(f"DROP INDEX {index}")
    for view in _VIEWS:
        op.execute(f"DROP VIEW {view}")
    op.execute(_M0009.REFRESH_SQL.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute(_M0010.REBUILD_SQL)
    for table in TRANSACTION_TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN superseded")
    _create_views(_M0009.INSIDER_TRADES_ALL_SQL, _M0009.INSIDER_TRADES_SQL)
