"""Analysts at full-history scale, sixth step: each filing's totals per transaction code, stored.

At 30 M transactions (benchmarks/RESULTS.md) two whole-history questions of docs/queries.md
stayed over their 5 s however they were written, because each read every line of history
through the view: question 3 (sales under a Rule 10b5-1 plan; 8.6 s, 5.5 s with no join at
all) and question 7 (late Forms 4; 17 s); question 0 (the codes in use) read every line too
(3.8 s). They only need a few totals per filing, known when
the filing is loaded and changed only by what already makes the loader refresh the stored
supersession: a load or deletion of the filing or of one of its amendment family, or a change
of the federal holidays. ``filing_trade_totals`` keeps them: one row per filing, side of the
table (derivative or not) and transaction code, over the lines ``insider_trades`` shows (not
superseded), computed *from* ``insider_trades`` so that each figure is exactly the view's:

* ``lines``, ``shares`` (sum of ``shares``), ``value`` (sum of ``value``: set only on
  purchases and sales of the stock), ``footnote_mentions_10b5_1`` (lines whose footnotes
  mention a plan), ``early_lines`` and ``swap_lines`` (reported early, ``transaction_timeliness
  = 'E'``, and in an equity swap: what EDGAR shows as codes V and K);
* ``late_lines``, ``earliest_late_trade``, ``max_business_days_late``: the lines of a Form 4
  or 4/A reported on Form 4 (``transaction_form_type = '4'``) that are late under 17 CFR
  240.16a-3(g): marked late by the filer (``transaction_timeliness = 'L'``) or first filed
  more than two business days after the (deemed) execution date;
* ``issuer_cik``, ``form_type``, ``aff10b5_one`` of the filing, to group without a join.

``refresh_analyst_rows(accessions)`` ends by recomputing the rows of every filing it
touched (the batch, the amendments whose link it decided again, the members of the families
whose lines it flagged again), in the loader's transaction; ``rebuild_analyst_rows()``
recomputes them all, and so does a change of ``federal_holidays`` (business days move);
``TRUNCATE filings`` clears them. The upgrade computes them for a loaded database.

The downgrade restores migration 0011's refresh and rebuild functions and 0009's triggers'
functions, and drops the table and its functions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0014"
down_revision = "0013"
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


_M0013 = _earlier("0013_line_footnotes.py")
_M0011 = _M0013._M0011  # the ones 0013 loaded, not second copies
_M0009 = _M0011._M0009
_replace_once = _M0011._replace_once

TABLE = "filing_trade_totals"

# A Form 4 is due before the end of the second business day after the execution date
# (17 CFR 240.16a-3(g)(1)); docs/queries.md question 7 states the rest of the rule.
DEADLINE_BUSINESS_DAYS = 2

TABLE_SQL = f"""
CREATE TABLE {TABLE} (
    accession_number text NOT NULL,
    is_derivative boolean NOT NULL,
    transaction_code text,
    issuer_cik bigint,
    form_type text,
    aff10b5_one boolean,
    lines integer NOT NULL,
    shares numeric,
    value numeric,
    footnote_mentions_10b5_1 integer NOT NULL,
    early_lines integer NOT NULL,
    swap_lines integer NOT NULL,
    late_lines integer NOT NULL,
    earliest_late_trade date,
    max_business_days_late integer
)
"""
INDEXES_SQL = [
    # one row per filing, side and code (a code may be missing: one key for NULL)
    f"CREATE UNIQUE INDEX ix_{TABLE}_line_group ON {TABLE} "
    "(accession_number, is_derivative, coalesce(transaction_code, ''))",
    # the few filings with late lines (question 7)
    f"CREATE INDEX ix_{TABLE}_late ON {TABLE} (accession_number) WHERE late_lines > 0",
]

_COLUMNS = ("accession_number, is_derivative, transaction_code, issuer_cik, form_type, "
            "aff10b5_one, lines, shares, value, footnote_mentions_10b5_1, early_lines, swap_lines, "
            "late_lines, earliest_late_trade, max_business_days_late")

# A line of insider_trades (alias t) that is late under the rule above.
IS_LATE = (f"t.form_type IN ('4', '4/A') AND t.transaction_form_type = '4' "
           f"AND (t.transaction_timeliness = 'L' "
           f"OR t.first_filed_business_days_after > {DEADLINE_BUSINESS_DAYS})")


def totals_select(where: str) -> str:
    """The rows of ``filing_trade_totals`` for the lines of insider_trades ``t`` matching
    ``where``."""
    return f"""
    SELECT t.accession_number, t.is_derivative, t.transaction_code, t.issuer_cik,
           t.form_type, t.aff10b5_one, count(*)::int, sum(t.shares), sum(t.value),
           (count(*) FILTER (WHERE t.footnote_mentions_10b5_1))::int,
           (count(*) FILTER (WHERE t.transaction_timeliness = 'E'))::int,
           (count(*) FILTER (WHERE t.equity_swap_involved))::int,
           (count(*) FILTER (WHERE {IS_LATE}))::int,
           min(t.transaction_date) FILTER (WHERE {IS_LATE}),
           max(t.first_filed_business_days_after) FILTER (WHERE {IS_LATE})
    FROM insider_trades t
    WHERE {where}
    GROUP BY t.accession_number, t.is_derivative, t.transaction_code, t.issuer_cik,
             t.form_type, t.aff10b5_one"""


FUNCTIONS_SQL = [
    f"""
    CREATE FUNCTION refresh_trade_totals(accessions text[]) RETURNS void
    LANGUAGE sql AS $$
        DELETE FROM {TABLE} WHERE accession_number = ANY(accessions);
        INSERT INTO {TABLE} ({_COLUMNS})
        {totals_select("t.accession_number = ANY(accessions)")};
    $$
    """,
    # At 30 M transactions the groups (about one and a half per filing) are hashed in memory
    # rather than in batches on disk; the setting is this transaction's only.
    f"""
    CREATE FUNCTION rebuild_trade_totals() RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        memory text := current_setting('work_mem');
    BEGIN
        TRUNCATE {TABLE};
        PERFORM set_config('work_mem', '256MB', true);
        INSERT INTO {TABLE} ({_COLUMNS})
        {totals_select("true")};
        PERFORM set_config('work_mem', memory, true);
        ANALYZE {TABLE};
    END
    $$
    """,
]

_END = "\nEND\n$$"
# The refresh recomputes the totals of every filing whose lines, link or flags it may have
# changed; the rebuild, all of them.
REFRESH_SQL = _replace_once(
    _M0011.REFRESH_SQL, _END,
    "\n    PERFORM refresh_trade_totals(accessions || amendments || members);" + _END)
REBUILD_SQL = _replace_once(
    _M0011.REBUILD_SQL, _END, "\n    PERFORM rebuild_trade_totals();" + _END)

_CALENDAR_FUNCTION = _M0009.CALENDAR_TRIGGER_SQL[0]  # the trigger itself stays
_TRUNCATED_FUNCTION = _M0009.FILING_TRIGGERS_SQL[2]


def _or_replace(sql: str) -> str:
    return _replace_once(sql, "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


# New holidays move business days, and so which lines are late.
CALENDAR_FUNCTION_SQL = _replace_once(
    _or_replace(_CALENDAR_FUNCTION), "RETURN NULL;",
    "PERFORM rebuild_trade_totals();\n        RETURN NULL;")
TRUNCATED_FUNCTION_SQL = _replace_once(
    _or_replace(_TRUNCATED_FUNCTION), "TRUNCATE filing_summaries, amended_lines;",
    f"TRUNCATE filing_summaries, amended_lines, {TABLE};")

COMMENTS = {
    f"TABLE {TABLE}": (
        "Per filing, side (derivative or not) and transaction code, totals of the lines "
        "insider_trades shows (not superseded), computed from that view: lines, shares, "
        "value, lines whose footnotes mention a 10b5-1 plan, lines reported early and in an "
        "equity swap (EDGAR's V and K), and the late Form 4 lines "
        "(17 CFR 240.16a-3(g): marked late, or first filed more than 2 business days after "
        "the deemed or actual execution date). Derived: kept by refresh_analyst_rows and "
        "rebuild_analyst_rows, never by a filing."
    ),
    "FUNCTION refresh_trade_totals(text[])": (
        "Recompute filing_trade_totals for these filings (refresh_analyst_rows calls it)."
    ),
    "FUNCTION rebuild_trade_totals()": "Recompute filing_trade_totals for every filing.",
}


def upgrade() -> None:
    op.execute(TABLE_SQL)
    for statement in INDEXES_SQL:
        op.execute(statement)
    for statement in FUNCTIONS_SQL:
        op.execute(statement)
    op.execute(REFRESH_SQL)
    op.execute(REBUILD_SQL)
    op.execute(CALENDAR_FUNCTION_SQL)
    op.execute(TRUNCATED_FUNCTION_SQL)
    for target, text in COMMENTS.items():
        _M0011._comment(target, text)
    op.execute("SELECT rebuild_trade_totals()")  # a loaded database


def downgrade() -> None:
    op.execute(_or_replace(_TRUNCATED_FUNCTION))
    op.execute(_or_replace(_CALENDAR_FUNCTION))
    op.execute(_M0011.REBUILD_SQL)
    op.execute(_M0011.REFRESH_SQL)
    op.execute("DROP FUNCTION rebuild_trade_totals()")
    op.execute("DROP FUNCTION refresh_trade_totals(text[])")
    op.execute(f"DROP TABLE {TABLE}")
