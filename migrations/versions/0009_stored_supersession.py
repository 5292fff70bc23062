"""Analysts at full-history scale: amendments decided per line at load time and stored,
owner summaries stored, business days from a calendar.

Migration 0003's views decided everything per row at query time (a filing's owner list,
whether an amendment replaces it, business days by a function call), which took minutes
on whole-history questions, and its amendment rule was wrong in several ways (issue 12):
a 4/A that adds or drops a joint filer was never linked; a period-of-report fallback
linked unrelated filings; of two same-day filings the later accession won, whichever the
amendment corrected; a 4/A reporting only its corrected line dropped every other line of
the original.

What an amendment carries, from real filings and SEC's instructions: since 2003 an
amendment reports only the lines it adds or corrects; lines of the original report are
not repeated (Forms 4 and 5, General Instruction 9; Form 3, Instruction 8; SEC's Section
16 FAQ of 2003, Q.12, as quoted in CCR Corp's Section 16 handbook, Model Form 19,
ccrcorp.com/section16/handbooks/form-3-4-5-model-form-19/). The schema links an
amendment to its original only by ``dateOfOriginalSubmission`` (EDGAR Ownership XML
Technical Specification v5.5, ownership4ADocument: mandatory), with no accession number
and no full-or-partial flag, and SEC's own Form 345 data sets keep amendments as filed,
"may contain redundancies" (their readme, section 3). So:

* **Link** (columns of ``filing_summaries``, seen through the view ``amendment_links``, one
  row per 3/A, 4/A, 5/A): the original is a filing of the same issuer and base form, not an
  amendment, filed before it, sharing at least one reporting owner (a 3/A may add the owners
  the original omitted), filed on the amendment's date of original submission. Among
  several, the one whose transaction lines the amendment's lines match (same line key,
  below) most, then the one with exactly the same owners, then the same period; still
  tied: not linked, ``match_rule`` 'ambiguous'.
  Only when no filing was filed on that date (a mistyped date, or an original loaded from
  a bare XML without a filed date) a filing of the same period qualifies, and only if at
  least one amendment line confirms it (same key and the same shares or price).
* **Lines** (table ``amended_lines``, every transaction line of an original with linked
  amendments and of those amendments): a line's key is (table, security title, date,
  code, direct/indirect). Per key, versions (the original, then amendments in filing
  order) with the same number of lines of that key restate one another: the latest
  replaces the earlier ones line for line ('superseded' / 'restates'). Where versions
  disagree on that number nothing is dropped: every current line of the key is kept and
  flagged 'ambiguous'. Lines of the original that no amendment repeats stay current
  ('unchanged'); amendment lines matching no earlier line are 'added' (an omitted line,
  or a correction of a key field: kept, flagged). Holdings-only amendments replace
  nothing.
* ``filing_summaries`` (one row per filing): a copy of the filing columns most questions
  read (issuer CIK, form type, filed date, 10b5-1 box), its owners aggregated once (CIKs, names,
  count, relationship), with a GIN index (``owner_ciks @> ARRAY[cik]`` is the owner-keyed way
  in); its amendment link; the date its report was first filed; the business-day numbers of
  its filed and first-filed dates. Everything ``insider_trades_all`` needs per filing is in
  this one row: the view joins five relations in all (six with ``insider_trades``'s
  anti-join), few enough for PostgreSQL to reorder them freely inside an analyst's query
  (``join_collapse_limit``, 8, counts every one).
* ``business_calendar``: every day 1900-2100 with its business-day number (business days
  up to and including it), rebuilt by a trigger whenever ``federal_holidays`` changes;
  ``business_days_between`` is a difference of two numbers (outside the calendar it falls
  back to the weekday rule of migration 0005, ``business_days_counted``); the trigger also
  renumbers ``filing_summaries``.

``refresh_analyst_rows(accessions text[])`` recomputes all of it for the filings just
written (and every amendment family they touch): the loader calls it in the same
transaction as each batch. A trigger does the same for deleted filings.
``rebuild_analyst_rows()`` recomputes everything (this migration's backfill; a database
filled by other means than the loader).

The views keep their names and columns (new columns are appended): ``insider_trades_all``,
``insider_trades``, ``filing_amendments``, and the functions ``filing_amendment_link``,
``filing_superseded_by``, ``business_days_between`` now read the stored rows. Column
changes: ``is_open_market`` is true only for P and S of the stock itself (not derivative
rows); ``value`` is set only on those rows (a trade's value: M/X rows carry an exercise
price, F rows the price of withheld shares); ``price`` falls back to X0101's
``transaction_value`` (migration 0006) where ``transaction_price_per_share`` is absent;
``filed_business_days_after`` counts from the deemed execution date when one is given
(17 CFR 240.16a-3(g)(2)); new: ``amendment_status``, ``first_filed_date``,
``first_filed_business_days_after``.

The downgrade restores the views and functions of migrations 0003 and 0005.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _earlier(filename: str) -> ModuleType:
    """An earlier migration of this folder, for the SQL it froze (the downgrade restores it)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"_edgar_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load migration {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_M0003 = _earlier("0003_analyst_views.py")
_M0005 = _earlier("0005_federal_holidays.py")

# The same spelling as migration 0003: its partial indexes on amendments only serve
# queries that repeat their predicate.
_is_amendment = _M0003._is_amendment
_base_form = _M0003._base_form

# P and S (transaction_codes.is_open_market): a purchase or sale, open market or private.
OPEN_MARKET_CODES = tuple(code for code, *rest in _M0003.TRANSACTION_CODES if rest[2])
_OPEN_MARKET_LIST = ", ".join(f"'{code}'" for code in OPEN_MARKET_CODES)

CALENDAR_FIRST_DAY, CALENDAR_LAST_DAY = "1900-01-01", "2100-12-31"

TRANSACTION_TABLES = ("non_derivative_transactions", "derivative_transactions")

# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------

TABLES_SQL = [
    """
    CREATE TABLE business_calendar (
        day date PRIMARY KEY,
        is_business_day boolean NOT NULL,
        business_day_number integer NOT NULL
    )
    """,
    """
    CREATE TABLE filing_summaries (
        accession_number text PRIMARY KEY,
        issuer_cik bigint,
        form_type text,
        filed_date date,
        aff10b5_one boolean,
        owner_count integer NOT NULL,
        owner_ciks bigint[],
        owner_names text[],
        owners text,
        is_director boolean NOT NULL,
        is_officer boolean NOT NULL,
        officer_title text,
        is_ten_percent_owner boolean NOT NULL,
        is_other boolean NOT NULL,
        other_text text,
        relationship text,
        amends_accession text,
        amendment_match_rule text CHECK (amendment_match_rule IN
            ('date_of_original_submission', 'period_of_report', 'ambiguous')),
        amendment_candidates integer,
        tied_accessions text[],
        first_filed_date date,
        filed_business_day integer,
        first_filed_business_day integer
    )
    """,
    """
    CREATE TABLE amended_lines (
        accession_number text NOT NULL,
        table_name text NOT NULL,
        sequence integer NOT NULL,
        original_accession text NOT NULL,
        status text NOT NULL CHECK (status IN
            ('unchanged', 'superseded', 'restates', 'added', 'ambiguous')),
        superseded_by text,
        superseded_by_sequence integer,
        PRIMARY KEY (accession_number, table_name, sequence)
    )
    """,
]

# Created after the backfill (a GIN index is built much faster in one go).
INDEXES_SQL = [
    "CREATE INDEX ix_filing_summaries_owner_ciks ON filing_summaries USING gin (owner_ciks)",
    # the views read issuer_cik and filed_date from here: one issuer's, one period's filings
    "CREATE INDEX ix_filing_summaries_issuer_filed ON filing_summaries (issuer_cik, filed_date)",
    "CREATE INDEX ix_filing_summaries_filed ON filing_summaries (filed_date)",
    "CREATE INDEX ix_filing_summaries_amends ON filing_summaries (amends_accession) "
    "WHERE amends_accession IS NOT NULL",
    "CREATE INDEX ix_filing_summaries_tied ON filing_summaries USING gin (tied_accessions) "
    "WHERE tied_accessions IS NOT NULL",
    "CREATE INDEX ix_amended_lines_original ON amended_lines (original_accession)",
]

DERIVED_TABLES = ("filing_summaries", "amended_lines")

# ---------------------------------------------------------------------------
# Business days
# ---------------------------------------------------------------------------

# Migration 0005's rule (weekdays less federal holidays, any date), kept under another name
# for dates outside the calendar.
COUNTED_SQL = _M0005.BUSINESS_DAYS_SQL.replace(
    "FUNCTION business_days_between(", "FUNCTION business_days_counted(", 1
)

CALENDAR_REBUILD_SQL = f"""
CREATE FUNCTION rebuild_business_calendar() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM business_calendar;
    INSERT INTO business_calendar (day, is_business_day, business_day_number)
    SELECT d.day, d.is_business_day,
           sum(d.is_business_day::int) OVER (ORDER BY d.day ROWS UNBOUNDED PRECEDING)
    FROM (SELECT g.day::date AS day,
                 extract(isodow FROM g.day) < 6
                 AND NOT EXISTS (SELECT 1 FROM federal_holidays h WHERE h.holiday = g.day::date)
                     AS is_business_day
          FROM generate_series(date '{CALENDAR_FIRST_DAY}', date '{CALENDAR_LAST_DAY}',
                               interval '1 day') AS g(day)) d;
$$
"""

CALENDAR_TRIGGER_SQL = [
    """
    CREATE FUNCTION federal_holidays_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM rebuild_business_calendar();
        UPDATE filing_summaries s SET
            filed_business_day = (SELECT c.business_day_number FROM business_calendar c
                                  WHERE c.day = s.filed_date),
            first_filed_business_day = (SELECT c.business_day_number FROM business_calendar c
                                        WHERE c.day = s.first_filed_date);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER federal_holidays_rebuild_calendar
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON federal_holidays
    FOR EACH STATEMENT EXECUTE FUNCTION federal_holidays_changed()
    """,
]

BUSINESS_DAYS_SQL = """
CREATE OR REPLACE FUNCTION business_days_between(from_date date, to_date date) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (SELECT t.business_day_number FROM business_calendar t WHERE t.day = to_date)
        - (SELECT f.business_day_number FROM business_calendar f WHERE f.day = from_date),
        business_days_counted(from_date, to_date))
$$
"""

# ---------------------------------------------------------------------------
# Owner summaries
# ---------------------------------------------------------------------------

_RELATIONSHIP = """nullif(concat_ws(', ',
        CASE WHEN bool_or(fo.is_director) THEN 'Director' END,
        CASE WHEN bool_or(fo.is_officer)
             THEN 'Officer' || coalesce(' (' || string_agg(DISTINCT fo.officer_title, '; ') || ')', '')
        END,
        CASE WHEN bool_or(fo.is_ten_percent_owner) THEN '10% Owner' END,
        CASE WHEN bool_or(fo.is_other)
             THEN 'Other' || coalesce(' (' || string_agg(DISTINCT fo.other_text, '; ') || ')', '')
        END), '')"""


def filing_summaries_select(filings: str, owners: str) -> str:
    """A summary row (no amendment link yet) for each of ``filings f WHERE <filings>``, whose
    owners are ``filing_owners fo WHERE <owners>``."""
    return f"""
    SELECT f.accession_number, f.issuer_cik, coalesce(f.document_type, f.form_type),
           f.filed_date, f.aff10b5_one,
           coalesce(o.owner_count, 0), o.owner_ciks, o.owner_names, o.owners,
           coalesce(o.is_director, false), coalesce(o.is_officer, false), o.officer_title,
           coalesce(o.is_ten_percent_owner, false), coalesce(o.is_other, false), o.other_text,
           o.relationship,
           NULL, NULL, NULL, NULL,
           f.filed_date, c.business_day_number, c.business_day_number
    FROM filings f
    LEFT JOIN (
        SELECT fo.accession_number,
               count(*)::int AS owner_count,
               array_agg(fo.rpt_owner_cik ORDER BY fo.sequence) AS owner_ciks,
               array_agg(fo.rpt_owner_name ORDER BY fo.sequence) AS owner_names,
               string_agg(coalesce(fo.rpt_owner_name, '?')
                          || coalesce(' (' || fo.rpt_owner_cik || ')', ''), '; '
                          ORDER BY fo.sequence) AS owners,
               bool_or(fo.is_director) AS is_director,
               bool_or(fo.is_officer) AS is_officer,
               string_agg(DISTINCT fo.officer_title, '; ') AS officer_title,
               bool_or(fo.is_ten_percent_owner) AS is_ten_percent_owner,
               bool_or(fo.is_other) AS is_other,
               string_agg(DISTINCT fo.other_text, '; ') AS other_text,
               {_RELATIONSHIP} AS relationship
        FROM filing_owners fo
        WHERE {owners}
        GROUP BY fo.accession_number
    ) o ON o.accession_number = f.accession_number
    LEFT JOIN business_calendar c ON c.day = f.filed_date
    WHERE {filings}"""


# ---------------------------------------------------------------------------
# Transaction lines and their key
# ---------------------------------------------------------------------------

# The line key: which lines of two versions of a report are the same line. Spaces and case
# of the security title do not count.
_LINE_KEY = (
    "format(E'%s\\x1f%s\\x1f%s\\x1f%s\\x1f%s', '{table}', "
    "lower(regexp_replace(btrim(x.security_title), '\\s+', ' ', 'g')), x.transaction_date, "
    "x.transaction_code, x.direct_or_indirect_ownership)"
)
# The price of a line: transactionPricePerShare, else X0101's transactionValue.
_PRICE = "coalesce({t}.transaction_price_per_share, {t}.transaction_value)"

TRANSACTION_LINES = (
    "(\n"
    + "\n    UNION ALL\n".join(
        f"    SELECT x.accession_number, '{table}'::text AS table_name, x.sequence, "
        f"{_LINE_KEY.format(table=table)} AS line_key, x.transaction_shares AS shares, "
        f"{_PRICE.format(t='x')} AS price FROM {table} x"
        for table in TRANSACTION_TABLES
    )
    + ")"
)

# ---------------------------------------------------------------------------
# Amendment links
# ---------------------------------------------------------------------------

_FILED_BEFORE = """(o.filed_date IS NULL OR a.filed_date IS NULL OR o.filed_date < a.filed_date
             OR (o.filed_date = a.filed_date
                 AND (o.accepted_at IS NULL OR a.accepted_at IS NULL
                      OR o.accepted_at < a.accepted_at)))"""


def amendment_links_select(where: str) -> str:
    """(amendment, original, match rule, candidates, tied originals, first filed date) per
    amendment among ``filings f WHERE <where>``."""
    return f"""
    WITH a AS MATERIALIZED (
        SELECT f.accession_number, f.issuer_cik, f.filed_date, f.accepted_at,
               f.period_of_report, f.date_of_original_submission,
               {_base_form('f')} AS base_form, s.owner_ciks
        FROM filings f
        LEFT JOIN filing_summaries s ON s.accession_number = f.accession_number
        WHERE {_is_amendment('f')} AND ({where})
    ),
    candidates AS (
        SELECT a.accession_number AS amendment, o.accession_number AS original,
               CASE WHEN o.filed_date = a.date_of_original_submission THEN 1 ELSE 2 END AS rule,
               (os.owner_ciks @> a.owner_ciks AND os.owner_ciks <@ a.owner_ciks) AS same_owners,
               coalesce(o.period_of_report = a.period_of_report, false) AS same_period
        FROM a
        JOIN filings o ON o.issuer_cik = a.issuer_cik
                      AND (o.filed_date = a.date_of_original_submission
                           OR o.period_of_report = a.period_of_report)
        JOIN filing_summaries os ON os.accession_number = o.accession_number
        WHERE NOT {_is_amendment('o')}
          AND o.accession_number <> a.accession_number
          AND {_base_form('o')} = a.base_form
          AND os.owner_ciks && a.owner_ciks
          AND {_FILED_BEFORE}
    ),
    best_rule AS (
        SELECT c.*, c.rule = min(c.rule) OVER (PARTITION BY c.amendment) AS kept
        FROM candidates c
    ),
    scored AS (
        SELECT c.amendment, c.original, c.rule, c.same_owners, c.same_period,
               (SELECT count(*) FROM {TRANSACTION_LINES} al
                WHERE al.accession_number = c.amendment
                  AND EXISTS (SELECT 1 FROM {TRANSACTION_LINES} ol
                              WHERE ol.accession_number = c.original
                                AND ol.line_key = al.line_key
                                AND (c.rule = 1 OR ol.shares = al.shares
                                     OR ol.price = al.price))) AS score
        FROM best_rule c
        WHERE c.kept
    ),
    ranked AS (
        SELECT s.*, rank() OVER (PARTITION BY s.amendment
                                 ORDER BY s.score DESC, s.same_owners DESC,
                                          s.same_period DESC) AS place
        FROM scored s
        WHERE s.rule = 1 OR s.score > 0  -- a period match needs a confirming line
    ),
    best AS (
        SELECT amendment, min(rule) AS rule, count(*)::int AS tied,
               min(original) AS original, array_agg(original ORDER BY original) AS originals
        FROM ranked
        WHERE place = 1
        GROUP BY amendment
    )
    SELECT a.accession_number,
           CASE WHEN b.tied = 1 THEN b.original END,
           CASE WHEN b.tied > 1 THEN 'ambiguous'
                WHEN b.rule = 1 THEN 'date_of_original_submission'
                WHEN b.rule = 2 THEN 'period_of_report' END,
           coalesce(b.tied, 0),
           CASE WHEN b.tied > 1 THEN b.originals END,
           coalesce(CASE WHEN b.tied = 1 THEN o.filed_date END, a.date_of_original_submission,
                    a.filed_date)
    FROM a
    LEFT JOIN best b ON b.amendment = a.accession_number
    LEFT JOIN filings o ON o.accession_number = b.original AND b.tied = 1"""


# ---------------------------------------------------------------------------
# Lines of amended filings
# ---------------------------------------------------------------------------


def amended_lines_select(where: str) -> str:
    """``amended_lines`` rows of the families of ``filing_summaries l WHERE <where>``."""
    return f"""
    WITH links AS (
        SELECT l.amends_accession AS root, l.accession_number
        FROM filing_summaries l
        WHERE l.amends_accession IS NOT NULL AND ({where})
    ),
    members AS (
        SELECT DISTINCT root, root AS accession_number FROM links
        UNION ALL
        SELECT root, accession_number FROM links
    ),
    versions AS (
        SELECT m.root, m.accession_number,
               row_number() OVER (PARTITION BY m.root
                                  ORDER BY m.accession_number <> m.root,
                                           f.filed_date NULLS FIRST, f.accepted_at NULLS FIRST,
                                           f.accession_number) AS version
        FROM members m
        JOIN filings f ON f.accession_number = m.accession_number
    ),
    lines AS (
        SELECT v.root, v.accession_number, v.version, tl.table_name, tl.sequence, tl.line_key,
               row_number() OVER (PARTITION BY v.root, tl.line_key, v.accession_number
                                  ORDER BY tl.table_name, tl.sequence) AS ordinal,
               count(*) OVER (PARTITION BY v.root, tl.line_key, v.accession_number) AS n
        FROM versions v
        JOIN {TRANSACTION_LINES} tl ON tl.accession_number = v.accession_number
    ),
    key_versions AS (
        SELECT DISTINCT root, line_key, version, accession_number, n FROM lines
    ),
    segments AS (
        -- consecutive versions with as many lines of a key restate one another
        SELECT k.*, sum(k.starts) OVER (PARTITION BY k.root, k.line_key ORDER BY k.version)
                        AS segment
        FROM (SELECT kv.*,
                     CASE WHEN kv.n = lag(kv.n) OVER (PARTITION BY kv.root, kv.line_key
                                                      ORDER BY kv.version)
                          THEN 0 ELSE 1 END AS starts
              FROM key_versions kv) k
    ),
    placed AS (
        SELECT s.*,
               max(s.version) OVER (PARTITION BY s.root, s.line_key, s.segment) AS last_version,
               count(*) OVER (PARTITION BY s.root, s.line_key, s.segment) AS segment_versions,
               max(s.segment) OVER (PARTITION BY s.root, s.line_key) AS segment_count
        FROM segments s
    )
    SELECT l.accession_number, l.table_name, l.sequence, l.root,
           CASE WHEN p.version < p.last_version THEN 'superseded'
                WHEN p.segment_count > 1 THEN 'ambiguous'
                WHEN p.segment_versions > 1 THEN 'restates'
                WHEN l.accession_number = l.root THEN 'unchanged'
                ELSE 'added' END,
           r.accession_number, r.sequence
    FROM lines l
    JOIN placed p ON p.root = l.root AND p.line_key = l.line_key
                 AND p.accession_number = l.accession_number
    LEFT JOIN lines r ON p.version < p.last_version
                     AND r.root = l.root AND r.line_key = l.line_key
                     AND r.version = p.last_version AND r.ordinal = l.ordinal"""


_SUMMARY_COLUMNS = (
    "accession_number, issuer_cik, form_type, filed_date, aff10b5_one, owner_count, owner_ciks, "
    "owner_names, owners, is_director, is_officer, "
    "officer_title, is_ten_percent_owner, is_other, other_text, relationship, amends_accession, "
    "amendment_match_rule, amendment_candidates, tied_accessions, first_filed_date, "
    "filed_business_day, first_filed_business_day"
)
_LINE_COLUMNS = (
    "accession_number, table_name, sequence, original_accession, status, superseded_by, "
    "superseded_by_sequence"
)


def link_update(where: str) -> str:
    """Store the links of the amendments among ``filings f WHERE <where>``."""
    return f"""
    UPDATE filing_summaries s
    SET amends_accession = l.original, amendment_match_rule = l.rule,
        amendment_candidates = l.candidates, tied_accessions = l.tied,
        first_filed_date = l.first_filed, first_filed_business_day = c.business_day_number
    FROM ({amendment_links_select(where)}) AS l(amendment, original, rule, candidates, tied,
                                                 first_filed)
    LEFT JOIN business_calendar c ON c.day = l.first_filed
    WHERE s.accession_number = l.amendment"""


REFRESH_SQL = f"""
CREATE FUNCTION refresh_analyst_rows(accessions text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    amendments text[];
    roots text[];
BEGIN
    -- Amendments whose link these filings may change: themselves (amendments now or before),
    -- those linked or tied to them, and those their issuer, filed date or period may now match.
    amendments := ARRAY(
        WITH batch AS MATERIALIZED (
            SELECT f.accession_number, f.issuer_cik, f.filed_date, f.period_of_report,
                   {_is_amendment('f')} AS is_amendment
            FROM filings f WHERE f.accession_number = ANY(accessions)
        )
        SELECT b.accession_number FROM batch b WHERE b.is_amendment
        UNION
        SELECT s.accession_number FROM filing_summaries s
        WHERE s.accession_number = ANY(accessions) AND s.amendment_candidates IS NOT NULL
        UNION
        SELECT s.accession_number FROM filing_summaries s WHERE s.amends_accession = ANY(accessions)
        UNION
        SELECT s.accession_number FROM filing_summaries s
        WHERE s.tied_accessions IS NOT NULL AND s.tied_accessions && accessions
        UNION
        SELECT a.accession_number FROM batch b
        JOIN filings a ON a.issuer_cik = b.issuer_cik
                      AND a.date_of_original_submission = b.filed_date
        WHERE {_is_amendment('a')}
        UNION
        SELECT a.accession_number FROM batch b
        JOIN filings a ON a.issuer_cik = b.issuer_cik AND a.period_of_report = b.period_of_report
        WHERE {_is_amendment('a')});
    -- Families (originals) before the change: a given filing's lines are in a family only as
    -- an amendment (above) or as the original of one of those.
    roots := ARRAY(
        SELECT s.amends_accession FROM filing_summaries s
        WHERE s.accession_number = ANY(amendments) AND s.amends_accession IS NOT NULL);

    DELETE FROM filing_summaries WHERE accession_number = ANY(accessions);
    INSERT INTO filing_summaries ({_SUMMARY_COLUMNS})
    {filing_summaries_select("f.accession_number = ANY(accessions)",
                             "fo.accession_number = ANY(accessions)")};
    {link_update("f.accession_number = ANY(amendments)")};

    roots := roots || ARRAY(
        SELECT s.amends_accession FROM filing_summaries s
        WHERE s.accession_number = ANY(amendments) AND s.amends_accession IS NOT NULL
        UNION
        SELECT s.amends_accession FROM filing_summaries s WHERE s.amends_accession = ANY(accessions));
    DELETE FROM amended_lines WHERE original_accession = ANY(roots);
    INSERT INTO amended_lines ({_LINE_COLUMNS})
    {amended_lines_select("l.amends_accession = ANY(roots)")};
END
$$
"""

REBUILD_SQL = f"""
CREATE FUNCTION rebuild_analyst_rows() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE {", ".join(DERIVED_TABLES)};
    INSERT INTO filing_summaries ({_SUMMARY_COLUMNS})
    {filing_summaries_select("true", "true")};
    {link_update("true")};
    INSERT INTO amended_lines ({_LINE_COLUMNS})
    {amended_lines_select("true")};
END
$$
"""

# rebuild_analyst_rows()'s statements as migration 0010 defines the function, each planned on
# what the one before it wrote. This migration's own function (REBUILD_SQL above), on a
# database of 30 M transactions, planned its later statements on the statistics of the tables
# it had just emptied, and its link step joined ~100,000 links to ~100,000 amendments by a
# nested loop: 47 minutes. Migration 0010 found why and installs these statements as the
# function; this migration's upgrade runs them as its backfill (an upgrade from before it
# would otherwise run the 47-minute version first). Same rows as the function.
REBUILD_STEPS = f"""
DECLARE
    nestloop text := current_setting('enable_nestloop');
BEGIN
    TRUNCATE {", ".join(DERIVED_TABLES)};
    INSERT INTO filing_summaries ({_SUMMARY_COLUMNS})
    {filing_summaries_select("true", "true")};
    -- the next statements read what was just written: plan them on its statistics
    ANALYZE filing_summaries;
    -- Every amendment at once. The planner estimates the links found at one row (a filter on
    -- a window function), and at 30 M it joined them to the amendments by a nested loop:
    -- 100,000 x 100,000 comparisons (over 22 minutes; 71 s with hash joins).
    PERFORM set_config('enable_nestloop', 'off', true);
    {link_update("true")};
    PERFORM set_config('enable_nestloop', nestloop, true);
    ANALYZE filing_summaries;
    INSERT INTO amended_lines ({_LINE_COLUMNS})
    {amended_lines_select("true")};
    ANALYZE amended_lines;
END
"""
BACKFILL_SQL = f"DO $${REBUILD_STEPS}$$"

# Deleted filings: their rows go, and every family they were in is decided again.
# TRUNCATE filings: everything derived goes.
FILING_TRIGGERS_SQL = [
    """
    CREATE FUNCTION filings_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM refresh_analyst_rows(ARRAY(SELECT accession_number FROM deleted_filings));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER filings_deleted_refresh_analyst_rows
    AFTER DELETE ON filings REFERENCING OLD TABLE AS deleted_filings
    FOR EACH STATEMENT EXECUTE FUNCTION filings_deleted()
    """,
    f"""
    CREATE FUNCTION filings_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {", ".join(DERIVED_TABLES)};
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER filings_truncated_clear_analyst_rows
    AFTER TRUNCATE ON filings
    FOR EACH STATEMENT EXECUTE FUNCTION filings_truncated()
    """,
]

# ---------------------------------------------------------------------------
# Functions of migration 0003, now lookups
# ---------------------------------------------------------------------------

LOOKUP_FUNCTIONS_SQL = [
    """
    CREATE FUNCTION filing_amendment_link(amendment text, OUT original_accession text,
                                          OUT match_rule text)
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT s.amends_accession, s.amendment_match_rule FROM filing_summaries s
        WHERE s.accession_number = amendment AND s.amends_accession IS NOT NULL
    $$
    """,
    """
    CREATE FUNCTION filing_superseded_by(accession text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT m.superseded_by FROM amended_lines m
        JOIN filings f ON f.accession_number = m.superseded_by
        WHERE m.accession_number = accession AND m.status = 'superseded'
        ORDER BY f.filed_date DESC NULLS LAST, f.accepted_at DESC NULLS LAST,
                 f.accession_number DESC
        LIMIT 1
    $$
    """,
]

# ---------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------

AMENDMENT_LINKS_SQL = """
CREATE VIEW amendment_links AS
SELECT s.accession_number AS amendment_accession,
       s.amends_accession AS original_accession,
       s.amendment_match_rule AS match_rule,
       s.amendment_candidates AS candidates,
       s.tied_accessions
FROM filing_summaries s
WHERE s.amendment_candidates IS NOT NULL
"""

FILING_AMENDMENTS_SQL = f"""
CREATE VIEW filing_amendments AS
SELECT s.accession_number AS amendment_accession,
       s.amends_accession AS original_accession,
       s.amendment_match_rule AS match_rule,
       coalesce(a.document_type, a.form_type) AS amendment_form_type,
       a.filed_date AS amendment_filed_date,
       a.date_of_original_submission,
       a.period_of_report,
       {_M0003._has_transactions('a')} AS amendment_has_transactions
FROM filing_summaries s
JOIN filings a ON a.accession_number = s.accession_number
WHERE s.amends_accession IS NOT NULL
"""

_ENTRY_COLUMNS = [*_M0003._ENTRY_COLUMNS, "transaction_value"]


def _entry_branch(table: str, derivative: bool) -> str:
    only = _M0003._DERIVATIVE_ONLY
    cols = [
        f"n.{c}" if derivative or c not in only else f"NULL::{only[c]} AS {c}"
        for c in _ENTRY_COLUMNS
    ]
    return (
        f"SELECT '{table}'::text AS table_name, {str(derivative).lower()} AS is_derivative, "
        f"n.accession_number, n.sequence, {', '.join(cols)} FROM {table} n"
    )


_TRANSACTIONS = "\n    UNION ALL\n    ".join(
    _entry_branch(table, table == "derivative_transactions") for table in TRANSACTION_TABLES
)

_IS_OPEN_MARKET = (
    f"(coalesce(t.transaction_code IN ({_OPEN_MARKET_LIST}), false) AND NOT t.is_derivative)"
)
_LINE_PRICE = _PRICE.format(t="t")
# The date the Form 4 clock starts: the deemed execution date when one is given.
_EXECUTED = "coalesce(t.deemed_execution_date, t.transaction_date)"


def _code(column: str) -> str:
    """A column of transaction_codes for the row's code: a subquery, not a join (below)."""
    return f"(SELECT tc.{column} FROM transaction_codes tc WHERE tc.code = t.transaction_code)"


_FOOTNOTE_IDS = """coalesce((
        SELECT array_agg(x.footnote_id ORDER BY x.n, x.footnote_id)
        FROM (SELECT DISTINCT r.footnote_id,
                     nullif(regexp_replace(r.footnote_id, '[^0-9]', '', 'g'), '')::int AS n
              FROM footnote_references r
              WHERE r.accession_number = t.accession_number
                AND r.table_name = t.table_name AND r.sequence = t.sequence) x
    ), '{}'::text[])"""
_FOOTNOTE_TEXTS = """coalesce((
        SELECT array_agg(fn.text ORDER BY x.n, x.footnote_id)
        FROM (SELECT DISTINCT r.footnote_id,
                     nullif(regexp_replace(r.footnote_id, '[^0-9]', '', 'g'), '')::int AS n
              FROM footnote_references r
              WHERE r.accession_number = t.accession_number
                AND r.table_name = t.table_name AND r.sequence = t.sequence) x
        LEFT JOIN footnotes fn
          ON fn.accession_number = t.accession_number AND fn.footnote_id = x.footnote_id
    ), '{}'::text[])"""

# Every join below is a LEFT JOIN on a unique key: a query that reads none of a joined
# table's columns does not join it at all (PostgreSQL removes the join), so a count(*)
# reads the two transaction tables only. And they are few (five relations with the
# transactions): PostgreSQL plans a query's joins freely only up to join_collapse_limit (8)
# relations, removed ones included, and an analyst's query adds its own.
INSIDER_TRADES_ALL_SQL = f"""
CREATE VIEW insider_trades_all AS
SELECT
    t.accession_number,
    t.table_name,
    t.is_derivative,
    t.sequence,
    'https://www.sec.gov/Archives/edgar/data/' || coalesce(f.issuer_cik, f.filer_ciks[1])::text
        || '/' || replace(t.accession_number, '-', '') || '/' || t.accession_number
        || '-index.htm' AS edgar_url,
    s.form_type,
    s.filed_date,
    f.accepted_at,
    f.period_of_report,
    f.date_of_original_submission,
    t.transaction_date,
    t.deemed_execution_date,
    s.issuer_cik,
    f.issuer_name,
    f.issuer_trading_symbol AS issuer_ticker,
    s.owner_count,  -- every filing has a summary row; no coalesce, so the planner's statistics apply
    s.owner_ciks,
    s.owner_names,
    s.owners,
    s.is_director,
    s.is_officer,
    s.officer_title,
    s.is_ten_percent_owner,
    s.is_other,
    s.other_text,
    s.relationship,
    t.security_title,
    t.transaction_form_type,
    t.transaction_code,
    {_code("meaning")} AS code_meaning,
    {_code("category")} AS code_category,
    {_IS_OPEN_MARKET} AS is_open_market,
    t.equity_swap_involved,
    t.transaction_timeliness,
    t.transaction_acquired_disposed_code AS acquired_disposed,
    t.transaction_shares AS shares,
    -- price as filed for the stock itself; value only where it is a trade's value (P, S)
    CASE WHEN NOT t.is_derivative THEN {_LINE_PRICE} END AS price,
    CASE WHEN {_IS_OPEN_MARKET} THEN t.transaction_shares * {_LINE_PRICE} END AS value,
    t.shares_owned_following_transaction AS shares_owned_after,
    t.value_owned_following_transaction AS value_owned_after,
    t.direct_or_indirect_ownership AS direct_or_indirect,
    t.nature_of_ownership,
    s.aff10b5_one,
    CASE WHEN t.is_derivative THEN {_LINE_PRICE} END AS derivative_price,
    CASE WHEN t.is_derivative THEN t.transaction_shares * {_LINE_PRICE} END AS derivative_value,
    t.transaction_total_value,
    t.conversion_or_exercise_price,
    t.exercise_date,
    t.expiration_date,
    t.underlying_security_title,
    t.underlying_security_shares,
    t.underlying_security_value,
    coalesce(s.filed_business_day - b_executed.business_day_number,
             business_days_between({_EXECUTED}, s.filed_date)) AS filed_business_days_after,
    {_FOOTNOTE_IDS} AS footnote_ids,
    {_FOOTNOTE_TEXTS} AS footnotes,
    (s.form_type LIKE '%/A') AS is_amendment,
    s.amends_accession,
    s.amendment_match_rule,
    coalesce(m.status = 'superseded', false) AS is_superseded,
    m.superseded_by,
    m.status AS amendment_status,
    s.first_filed_date,
    coalesce(s.first_filed_business_day - b_executed.business_day_number,
             business_days_between({_EXECUTED}, s.first_filed_date))
        AS first_filed_business_days_after
FROM (
    {_TRANSACTIONS}
) t
LEFT JOIN filings f ON f.accession_number = t.accession_number
LEFT JOIN filing_summaries s ON s.accession_number = t.accession_number
LEFT JOIN amended_lines m ON m.accession_number = t.accession_number
                         AND m.table_name = t.table_name AND m.sequence = t.sequence
LEFT JOIN business_calendar b_executed ON b_executed.day = {_EXECUTED}
"""

# An anti-join with the superseded lines (a few percent of rows) costs less than filtering
# on the status joined to every row.
INSIDER_TRADES_SQL = """
CREATE VIEW insider_trades AS
SELECT * FROM insider_trades_all a
WHERE NOT EXISTS (SELECT 1 FROM amended_lines x
                  WHERE x.accession_number = a.accession_number AND x.table_name = a.table_name
                    AND x.sequence = a.sequence AND x.status = 'superseded')
"""

COMMENTS = {
    "TABLE business_calendar": "Every day 1900-2100: is_business_day (not a weekend, not in "
    "federal_holidays) and business_day_number (business days from 1900-01-01 up to and "
    "including it). Rebuilt whenever federal_holidays changes (trigger).",
    "TABLE filing_summaries": "One row per filing: the filing columns the views read most "
    "(issuer_cik, form_type, filed_date, aff10b5_one, copied), its reporting owners aggregated (document "
    "order; owner_ciks has a GIN index: owner_ciks @> ARRAY[cik]), the filing it amends, the "
    "date its report was first filed, business-day numbers. Kept current by "
    "refresh_analyst_rows at load time.",
    "VIEW amendment_links": "Every 3/A, 4/A, 5/A and the filing it amends (original_accession "
    "NULL: none found, or match_rule 'ambiguous' when tied_accessions tie). See docs/queries.md.",
    "TABLE amended_lines": "Every transaction line of a filing with linked amendments and of "
    "those amendments, with status unchanged, superseded (by superseded_by, line "
    "superseded_by_sequence), restates, added or ambiguous. See docs/queries.md.",
    "FUNCTION refresh_analyst_rows(text[])": "Recompute filing_summaries (owners, amendment "
    "links) and amended_lines for these filings and every amendment family they touch; the "
    "loader calls it in each batch's transaction.",
    "FUNCTION rebuild_analyst_rows()": "Recompute filing_summaries and amended_lines for the "
    "whole database.",
    "FUNCTION business_days_between(date, date)": "Business days d with from_date < d <= "
    "to_date (negative when to_date < from_date), from business_calendar; outside it, "
    "business_days_counted.",
    "FUNCTION business_days_counted(date, date)": "Weekdays d with from_date < d <= to_date "
    "that are not in federal_holidays, counted for any date (migration 0005's rule).",
    "VIEW filing_amendments": "Each linked 3/A, 4/A, 5/A and the filing it amends.",
    "VIEW insider_trades_all": "One row per transaction row as filed (accession, table_name, "
    "sequence), joint filers aggregated. value = shares x price of P and S rows of the stock "
    "only; amendment_status says what amendments did to the row.",
    "VIEW insider_trades": "insider_trades_all without the rows a later amendment restates "
    "(amendment_status superseded).",
}

_DROP_NEW_VIEWS = [
    "DROP VIEW IF EXISTS insider_trades",
    "DROP VIEW IF EXISTS insider_trades_all",
    "DROP VIEW IF EXISTS filing_amendments",
    "DROP VIEW IF EXISTS amendment_links",
]


def _comment(target: str, text: str) -> None:
    op.execute(f"COMMENT ON {target} IS '" + text.replace("'", "''") + "'")


def upgrade() -> None:
    for statement in _DROP_NEW_VIEWS:
        op.execute(statement)
    op.execute("DROP FUNCTION filing_superseded_by(text)")
    op.execute("DROP FUNCTION filing_amendment_link(text)")
    for statement in TABLES_SQL:
        op.execute(statement)
    op.execute(COUNTED_SQL)
    op.execute(CALENDAR_REBUILD_SQL)
    op.execute("SELECT rebuild_business_calendar()")
    for statement in CALENDAR_TRIGGER_SQL:
        op.execute(statement)
    op.execute(BUSINESS_DAYS_SQL)
    op.execute(REFRESH_SQL)
    op.execute(REBUILD_SQL)
    op.execute(BACKFILL_SQL)  # a loaded database, set-based
    for statement in INDEXES_SQL:
        op.execute(statement)
    for table in ("business_calendar", *DERIVED_TABLES):
        op.execute(f"ANALYZE {table}")
    for statement in FILING_TRIGGERS_SQL:
        op.execute(statement)
    for statement in LOOKUP_FUNCTIONS_SQL:
        op.execute(statement)
    op.execute(AMENDMENT_LINKS_SQL)
    op.execute(FILING_AMENDMENTS_SQL)
    op.execute(INSIDER_TRADES_ALL_SQL)
    op.execute(INSIDER_TRADES_SQL)
    for target, text in COMMENTS.items():
        _comment(target, text)


def downgrade() -> None:
    for statement in _DROP_NEW_VIEWS:
        op.execute(statement)
    op.execute("DROP FUNCTION filing_superseded_by(text)")
    op.execute("DROP FUNCTION filing_amendment_link(text)")
    op.execute("DROP TRIGGER filings_truncated_clear_analyst_rows ON filings")
    op.execute("DROP TRIGGER filings_deleted_refresh_analyst_rows ON filings")
    op.execute("DROP FUNCTION filings_truncated()")
    op.execute("DROP FUNCTION filings_deleted()")
    op.execute("DROP FUNCTION rebuild_analyst_rows()")
    op.execute("DROP FUNCTION refresh_analyst_rows(text[])")
    op.execute(_M0005.BUSINESS_DAYS_SQL)  # first: the calendar version reads what goes below
    _comment("FUNCTION business_days_between(date, date)",
             _M0005.COMMENTS["FUNCTION business_days_between(date, date)"])
    op.execute("DROP TRIGGER federal_holidays_rebuild_calendar ON federal_holidays")
    op.execute("DROP FUNCTION federal_holidays_changed()")
    op.execute("DROP FUNCTION rebuild_business_calendar()")
    op.execute("DROP FUNCTION business_days_counted(date, date)")
    for table in (*reversed(DERIVED_TABLES), "business_calendar"):
        op.execute(f"DROP TABLE {table}")
    op.execute(_M0003.AMENDMENT_LINK_SQL)
    op.execute(_M0003.FILING_AMENDMENTS_SQL)
    op.execute(_M0003.SUPERSEDED_BY_SQL)
    op.execute(_M0003.INSIDER_TRADES_ALL_SQL)
    op.execute(_M0003.INSIDER_TRADES_SQL)
    for target, text in _M0003.COMMENTS.items():
        _comment(target, text)
