"""Analysts at full-history scale, seventh step: each owner's day of trading in an issuer, stored.

At 30 M transactions (benchmarks/RESULTS.md) the questions of docs/queries.md that pair an
issuer's trades by owners and day stayed over their 5 s: question 8 (option exercises and
same-day sales: 30-40 s, grouping 17 M exercise and sale lines twice by owners and day),
question 2b (each issuer's busiest buying window: 9.3 s) and question 2 (cluster buying:
5.6 s), each reading every purchase line of history through the view and its join to the
filings. The groups they need cross filings (an exercise reported on one Form 4 and the sale
on another filed the same day), so per-filing totals (migration 0014) do not give them.
``insider_trade_days`` keeps them: one row per issuer, set of reporting owners (a filing's
``owner_ciks``, as ``insider_trades`` has it) and transaction date, over the stock
(non-derivative) lines ``insider_trades`` shows (not superseded), computed *from*
``insider_trades`` so that each figure is exactly the view's:

* ``lines`` and ``transaction_codes`` (the codes of the day, sorted);
* purchases (code P): ``purchase_lines``, ``purchased_shares``, ``purchase_value``;
* sales (code S): ``sale_lines``, ``sold_shares``, ``sale_value``;
* exercises and conversions of derivatives into the stock (codes M and X, the stock
  received): ``exercise_lines``, ``exercised_shares``, ``exercise_cost`` (shares times the
  exercise price, which is what ``price`` holds on those lines; their ``value`` is not set);
* ``owners`` (names and CIKs as the day's filing of highest accession number gives them:
  they differ between filings only when an owner was renamed) and
  ``accessions`` (the filings the lines come from, sorted).

``refresh_analyst_rows(accessions)`` ends by bringing the days of the filings it touched up to
date, in the loader's transaction and under a transaction-level advisory lock (two loaders,
``sync`` and ``watch``, may share a day): a new filing's lines are added to its days as
stored; every day a filing counted before added to (recorded in ``insider_trade_day_filings``)
or adds to now is recounted from all the filings of the day. ``rebuild_analyst_rows()`` and
the upgrade recompute all;
``TRUNCATE filings`` clears them. Business days play no part, so a change of
``federal_holidays`` does not touch them.

The downgrade restores migration 0014's refresh and rebuild functions and its truncation
trigger's function, and drops the two tables, their functions and the ``trade_day`` type.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0015"
down_revision = "0014"
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


_M0014 = _earlier("0014_trade_totals.py")
_M0011 = _M0014._M0011  # the ones 0014 loaded, not second copies
_replace_once = _M0011._replace_once

TABLE = "insider_trade_days"
# Which days each filing adds to, so that the refresh finds a replaced or deleted filing's
# days by its accession number (its lines, and so their dates, are gone by then). A GIN
# index on insider_trade_days.accessions answered that too, but took 60 us a filing on the
# 30 M database, and with the whole batch as one array it was quadratic (60,000 filings: 52 s).
FILINGS_TABLE = "insider_trade_day_filings"

TABLE_SQL = f"""
CREATE TABLE {TABLE} (
    issuer_cik bigint,
    owner_ciks bigint[],
    transaction_date date,
    owners text,
    lines integer NOT NULL,
    transaction_codes text[] NOT NULL,
    purchase_lines integer NOT NULL,
    purchased_shares numeric,
    purchase_value numeric,
    sale_lines integer NOT NULL,
    sold_shares numeric,
    sale_value numeric,
    exercise_lines integer NOT NULL,
    exercised_shares numeric,
    exercise_cost numeric,
    accessions text[] NOT NULL
)
"""
FILINGS_TABLE_SQL = f"""
CREATE TABLE {FILINGS_TABLE} (
    accession_number text PRIMARY KEY,
    issuer_cik bigint,
    owner_ciks bigint[],
    transaction_dates date[] NOT NULL
)
"""
# A day's key as a value, for the refresh's lists of days.
DAY_TYPE_SQL = "CREATE TYPE trade_day AS (issuer_cik bigint, owner_ciks bigint[], transaction_date date)"

# One row per day: the key with its missing parts given a value no real one has (a line may
# lack a date, a filing its issuer CIK), so that the index both enforces and finds it.
_DAY_KEY_PARTS = ("coalesce({t}issuer_cik, -1)", "coalesce({t}owner_ciks, '{{}}'::bigint[])",
                  "coalesce({t}transaction_date, '-infinity'::date)")


def day_key(alias: str = "") -> str:
    """The day's key of the row ``alias`` (``'d.'``), as a row value."""
    return ", ".join(part.format(t=alias) for part in _DAY_KEY_PARTS)


INDEXES_SQL = [
    f"CREATE UNIQUE INDEX ix_{TABLE}_day ON {TABLE} ({day_key()})",
    # questions 2 and 2b read every day with a purchase, in issuer and date order, from the
    # index alone
    f"CREATE INDEX ix_{TABLE}_purchases ON {TABLE} (issuer_cik, transaction_date) "
    "INCLUDE (owner_ciks) WHERE purchase_lines > 0",
]

_COLUMNS = ("issuer_cik, owner_ciks, transaction_date, owners, lines, transaction_codes, "
            "purchase_lines, purchased_shares, purchase_value, sale_lines, sold_shares, "
            "sale_value, exercise_lines, exercised_shares, exercise_cost, accessions")

_EXERCISE = "t.transaction_code IN ('M', 'X')"


def days_select(where: str) -> str:
    """The rows of ``insider_trade_days`` for the stock lines of insider_trades ``t``
    matching ``where``, grouped by day."""
    return f"""
    SELECT t.issuer_cik, t.owner_ciks, t.transaction_date,
           (array_agg(t.owners ORDER BY t.accession_number DESC))[1],
           count(*)::int,
           coalesce(array_agg(DISTINCT t.transaction_code)
                    FILTER (WHERE t.transaction_code IS NOT NULL), '{{}}'),
           (count(*) FILTER (WHERE t.transaction_code = 'P'))::int,
           sum(t.shares) FILTER (WHERE t.transaction_code = 'P'),
           sum(t.value) FILTER (WHERE t.transaction_code = 'P'),
           (count(*) FILTER (WHERE t.transaction_code = 'S'))::int,
           sum(t.shares) FILTER (WHERE t.transaction_code = 'S'),
           sum(t.value) FILTER (WHERE t.transaction_code = 'S'),
           (count(*) FILTER (WHERE {_EXERCISE}))::int,
           sum(t.shares) FILTER (WHERE {_EXERCISE}),
           sum(t.shares * t.price) FILTER (WHERE {_EXERCISE}),
           array_agg(DISTINCT t.accession_number)
    FROM insider_trades t
    WHERE NOT t.is_derivative AND {where}
    GROUP BY t.issuer_cik, t.owner_ciks, t.transaction_date"""


_FILING_COLUMNS = "accession_number, issuer_cik, owner_ciks, transaction_dates"


def filing_days_select(where: str) -> str:
    """The rows of ``insider_trade_day_filings`` for the filings whose stock lines of
    insider_trades ``t`` match ``where``."""
    return f"""
    SELECT t.accession_number, t.issuer_cik, t.owner_ciks, array_agg(DISTINCT t.transaction_date)
    FROM insider_trades t
    WHERE NOT t.is_derivative AND {where}
    GROUP BY t.accession_number, t.issuer_cik, t.owner_ciks"""


# pg_advisory_xact_lock key: "EDGARDAY" as bytes (ingest/runlock.py keys its run locks alike).
REFRESH_LOCK_KEY = int.from_bytes(b"EDGARDAY", "big")

_SUMMED = ("lines", "purchase_lines", "sale_lines", "exercise_lines")
_SUMMED_OR_NULL = ("purchased_shares", "purchase_value", "sold_shares", "sale_value",
                   "exercised_shares", "exercise_cost")


def _added_to_the_day(table: str) -> str:
    """ON CONFLICT's SET list: the day as stored (``{table}``) plus the batch's new lines
    (``excluded``), each column as its aggregate over both would be."""
    sets = [f"{c} = {table}.{c} + excluded.{c}" for c in _SUMMED]
    # a sum of no value is NULL: the other side's, or both added
    sets += [f"{c} = coalesce({table}.{c} + excluded.{c}, {table}.{c}, excluded.{c})"
             for c in _SUMMED_OR_NULL]
    sets += [f"{c} = ARRAY(SELECT DISTINCT v FROM unnest({table}.{c} || excluded.{c}) AS v "
             "ORDER BY v)" for c in ("transaction_codes", "accessions")]
    sets.append(f"owners = CASE WHEN excluded.accessions[cardinality(excluded.accessions)] > "
                f"{table}.accessions[cardinality({table}.accessions)] THEN excluded.owners "
                f"ELSE {table}.owners END")
    return ",\n            ".join(sets)


FUNCTIONS_SQL = [
    # A new filing's lines are added to the days as stored: the cost of a batch does not grow
    # with the filings a day already has (the loaders' benchmarks copy the corpus onto the same
    # days over a hundred times). A filing the days counted before (replaced, deleted, its
    # lines superseded or restored) has each of its days, those it added to before (recorded
    # in insider_trade_day_filings) and those its lines fall on now, recounted from every
    # filing of the day; the rows written are those of the days no row holds any more. Every
    # statement probes by key, however long the batch: planned for the 60,000 filings of a
    # data-set quarter, PostgreSQL hashed all of filing_summaries and insider_trade_days and
    # read every line (15-16 s on the 30 M database against 3.7-4.2 s by key), so the plans
    # are the generic ones, made for a batch of unknown length. No filter tests membership in
    # a list (a generic plan does that by reading the list for each row): lists are matched
    # by index only.
    f"""
    CREATE FUNCTION refresh_trade_days(accessions text[]) RETURNS void
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
    DECLARE
        seen text[];           -- the batch's filings the days counted before
        fresh text[];          -- the others
        recount trade_day[];   -- the days of seen filings, before and now
        listed text[];         -- every filing of those days
    BEGIN
        PERFORM pg_advisory_xact_lock({REFRESH_LOCK_KEY});
        WITH gone AS (
            DELETE FROM {FILINGS_TABLE} f
            WHERE f.accession_number = ANY(refresh_trade_days.accessions)
            RETURNING f.accession_number, f.issuer_cik, f.owner_ciks, f.transaction_dates
        )
        SELECT coalesce(array_agg(DISTINCT g.accession_number), '{{}}'),
               coalesce(array_agg(ROW(g.issuer_cik, g.owner_ciks, d)::trade_day), '{{}}')
        INTO seen, recount
        FROM gone g CROSS JOIN LATERAL unnest(g.transaction_dates) AS d;
        fresh := ARRAY(SELECT unnest(refresh_trade_days.accessions) EXCEPT SELECT unnest(seen));
        INSERT INTO {FILINGS_TABLE} ({_FILING_COLUMNS})
        {filing_days_select("t.accession_number = ANY(refresh_trade_days.accessions)")};
        -- the new filings' lines, added to their days as stored
        INSERT INTO {TABLE} AS d ({_COLUMNS})
        {days_select("t.accession_number = ANY(fresh)")}
        ON CONFLICT ({day_key()}) DO UPDATE SET
            {_added_to_the_day('d')};
        IF cardinality(seen) = 0 THEN
            RETURN;
        END IF;
        -- the seen filings' days, recounted from every filing of the day (the new ones too)
        SELECT recount || coalesce(array_agg(ROW(f.issuer_cik, f.owner_ciks, d)::trade_day),
                                   '{{}}')
        INTO recount
        FROM {FILINGS_TABLE} f CROSS JOIN LATERAL unnest(f.transaction_dates) AS d
        WHERE f.accession_number = ANY(seen);
        WITH gone AS (
            DELETE FROM {TABLE} d USING (SELECT DISTINCT * FROM unnest(recount)) k
            WHERE ({day_key('d.')}) = ({day_key('k.')})
            RETURNING d.accessions
        )
        SELECT coalesce(array_agg(DISTINCT a), '{{}}') INTO listed
        FROM gone CROSS JOIN LATERAL unnest(gone.accessions) AS a;
        INSERT INTO {TABLE} ({_COLUMNS})
        SELECT * FROM ({days_select("t.accession_number = ANY(seen || listed)")}) n
        WHERE NOT EXISTS (SELECT FROM {TABLE} d WHERE ({day_key('d.')}) = ({day_key('n.')}));
    END
    $$
    """,
    # At 30 M transactions the days (6.3 M) and filings are grouped in memory rather than in
    # batches on disk; the setting is this transaction's only.
    f"""
    CREATE FUNCTION rebuild_trade_days() RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        memory text := current_setting('work_mem');
    BEGIN
        TRUNCATE {TABLE}, {FILINGS_TABLE};
        PERFORM set_config('work_mem', '256MB', true);
        INSERT INTO {TABLE} ({_COLUMNS})
        {days_select("true")};
        INSERT INTO {FILINGS_TABLE} ({_FILING_COLUMNS})
        {filing_days_select("true")};
        PERFORM set_config('work_mem', memory, true);
        ANALYZE {TABLE};
        ANALYZE {FILINGS_TABLE};
    END
    $$
    """,
]

_REFRESH_TOTALS = "PERFORM refresh_trade_totals(accessions || amendments || members);"
REFRESH_SQL = _replace_once(
    _M0014.REFRESH_SQL, _REFRESH_TOTALS,
    _REFRESH_TOTALS + "\n    PERFORM refresh_trade_days(accessions || amendments || members);")
_REBUILD_TOTALS = "PERFORM rebuild_trade_totals();"
REBUILD_SQL = _replace_once(
    _M0014.REBUILD_SQL, _REBUILD_TOTALS, _REBUILD_TOTALS + "\n    PERFORM rebuild_trade_days();")
TRUNCATED_FUNCTION_SQL = _replace_once(
    _M0014.TRUNCATED_FUNCTION_SQL, f"{_M0014.TABLE};", f"{_M0014.TABLE}, {TABLE}, {FILINGS_TABLE};")

COMMENTS = {
    f"TABLE {TABLE}": (
        "Per issuer, set of reporting owners (owner_ciks) and transaction date, totals of the "
        "stock (non-derivative) lines insider_trades shows (not superseded), computed from "
        "that view: lines and codes; purchases (P), sales (S) and exercises (M, X: shares "
        "times the exercise price as exercise_cost); the owners as the day's filing of "
        "highest accession number names them; the filings the lines come from. Derived: kept by "
        "refresh_analyst_rows and rebuild_analyst_rows, never by a filing."
    ),
    f"TABLE {FILINGS_TABLE}": (
        "Per filing with stock lines in insider_trades, the days of insider_trade_days it adds "
        "to (its issuer, owners and transaction dates): what refresh_trade_days reads to find "
        "the days of a filing replaced or deleted. Derived, like insider_trade_days."
    ),
    "FUNCTION refresh_trade_days(text[])": (
        "Recompute the insider_trade_days these filings add to, before and after their "
        "change (refresh_analyst_rows calls it)."
    ),
    "FUNCTION rebuild_trade_days()": "Recompute insider_trade_days for every filing.",
}


def upgrade() -> None:
    op.execute(TABLE_SQL)
    op.execute(FILINGS_TABLE_SQL)
    op.execute(DAY_TYPE_SQL)
    for statement in INDEXES_SQL:
        op.execute(statement)
    for statement in FUNCTIONS_SQL:
        op.execute(statement)
    op.execute(REFRESH_SQL)
    op.execute(REBUILD_SQL)
    op.execute(TRUNCATED_FUNCTION_SQL)
    for target, text in COMMENTS.items():
        _M0011._comment(target, text)
    op.execute("SELECT rebuild_trade_days()")  # a loaded database


def downgrade() -> None:
    op.execute(_M0014.TRUNCATED_FUNCTION_SQL)
    op.execute(_M0014.REBUILD_SQL)
    op.execute(_M0014.REFRESH_SQL)
    op.execute("DROP FUNCTION rebuild_trade_days()")
    op.execute("DROP FUNCTION refresh_trade_days(text[])")
    op.execute(f"DROP TABLE {TABLE}, {FILINGS_TABLE}")
    op.execute("DROP TYPE trade_day")
