"""Analysts' SQL: transaction code meanings, amendment links, insider_trades views, indexes.

- ``transaction_codes``: every SEC Form 4 transaction code (General Instructions 8 / SPEC-v3
  §3.6.9) with its meaning. K and V are listed although EDGAR never takes them as an XML
  ``transactionCode``: it shows K for ``equitySwapInvolved`` = 1 and V for
  ``transactionTimeliness`` = 'E' (SPEC-v3 §4.3.8).
- ``business_days_between(a, b)``: weekdays d with a < d <= b (no holiday calendar).
- ``filing_amendments``: each 3/A, 4/A, 5/A linked to the filing it amends, where that can
  be told (same issuer, same set of reporting owner CIKs, not an amendment itself, same base
  form, filed before the amendment; filed date = the amendment's date of original
  submission, else the same period of report; the latest such filing wins).
- ``insider_trades_all``: one row per transaction row as filed (non-derivative and
  derivative), joint filers aggregated (never one row per owner), with ``is_amendment`` and
  ``is_superseded``. ``insider_trades``: the same without superseded rows.
- Indexes for the documented queries (docs/queries.md).

Plain views, nothing to refresh: the amendment checks are index probes per row, cheap for
selective queries (see the EXPLAIN plans in the analyst report / docs/queries.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (code, meaning, category, is_open_market, in_xml, derived_from)
# Categories follow the groups of the SEC's Form 4 General Instructions, item 8.
TRANSACTION_CODES: list[tuple[str, str, str, bool, bool, str | None]] = [
    ("P", "Open market or private purchase of non-derivative or derivative security",
     "general", True, True, None),
    ("S", "Open market or private sale of non-derivative or derivative security",
     "general", True, True, None),
    ("V", "Transaction voluntarily reported earlier than required. Not a transactionCode in the "
     "ownership XML: EDGAR shows V when transactionTimeliness = 'E' (early). It says nothing "
     "about Rule 10b5-1 plans (that is the aff10b5One flag).",
     "general", False, False, "transaction_timeliness = 'E'"),
    ("A", "Grant, award or other acquisition pursuant to Rule 16b-3(d)",
     "rule_16b3", False, True, None),
    ("D", "Disposition to the issuer of issuer equity securities pursuant to Rule 16b-3(e)",
     "rule_16b3", False, True, None),
    ("F", "Payment of exercise price or tax liability by delivering or withholding securities "
     "incident to the receipt, exercise or vesting of a security issued in accordance with "
     "Rule 16b-3", "rule_16b3", False, True, None),
    ("I", "Discretionary transaction in accordance with Rule 16b-3(f) resulting in acquisition "
     "or disposition of issuer securities", "rule_16b3", False, True, None),
    ("M", "Exercise or conversion of derivative security exempted pursuant to Rule 16b-3",
     "rule_16b3", False, True, None),
    ("C", "Conversion of derivative security", "derivative", False, True, None),
    ("E", "Expiration of short derivative position", "derivative", False, True, None),
    ("H", "Expiration (or cancellation) of long derivative position with value received",
     "derivative", False, True, None),
    ("O", "Exercise of out-of-the-money derivative security", "derivative", False, True, None),
    ("X", "Exercise of in-the-money or at-the-money derivative security",
     "derivative", False, True, None),
    ("G", "Bona fide gift", "exempt_16b", False, True, None),
    ("L", "Small acquisition under Rule 16a-6", "exempt_16b", False, True, None),
    ("W", "Acquisition or disposition by will or the laws of descent and distribution",
     "exempt_16b", False, True, None),
    ("Z", "Deposit into or withdrawal from voting trust", "exempt_16b", False, True, None),
    ("J", "Other acquisition or disposition (describe transaction)", "other", False, True, None),
    ("K", "Transaction in equity swap or instrument with similar characteristics. Not a "
     "transactionCode in the ownership XML: EDGAR shows K when equitySwapInvolved = 1.",
     "other", False, False, "equity_swap_involved = true"),
    ("U", "Disposition pursuant to a tender of shares in a change of control transaction",
     "other", False, True, None),
]

# One spelling of "this filing is an amendment", used by the views AND by the partial index
# predicate below (the planner only uses a partial index when the query repeats it).
_IS_AMENDMENT = "(coalesce({t}.document_type, {t}.form_type) LIKE '%/A')"


def _is_amendment(alias: str) -> str:
    return _IS_AMENDMENT.format(t=alias)


def _base_form(alias: str) -> str:
    return f"regexp_replace(coalesce({alias}.document_type, {alias}.form_type), '/A$', '')"


def _owner_set(alias: str) -> str:
    return (
        "ARRAY(SELECT DISTINCT fo.rpt_owner_cik FROM filing_owners fo "
        f"WHERE fo.accession_number = {alias}.accession_number ORDER BY 1)"
    )


def _has_transactions(alias: str) -> str:
    return (
        "(EXISTS (SELECT 1 FROM non_derivative_transactions x "
        f"WHERE x.accession_number = {alias}.accession_number) "
        "OR EXISTS (SELECT 1 FROM derivative_transactions x "
        f"WHERE x.accession_number = {alias}.accession_number))"
    )


# Ordering key of a filing among versions of the same report: filed date, acceptance time,
# accession (NULL dates, i.e. filings loaded from a bare XML, lowest).
def _version_key(alias: str) -> str:
    return (
        f"ROW(coalesce({alias}.filed_date, '-infinity'::date), "
        f"coalesce({alias}.accepted_at, '-infinity'::timestamptz), {alias}.accession_number)"
    )


BUSINESS_DAYS_SQL = """
CREATE FUNCTION business_days_between(from_date date, to_date date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- weekdays d with from_date < d <= to_date (negative when to_date < from_date);
    -- W(d) = weekdays in [1900-01-01, d), 1900-01-01 being a Monday. No holiday calendar.
    SELECT (5 * floor((to_date + 1 - date '1900-01-01') / 7.0)::int
            + least((to_date + 1 - date '1900-01-01')
                    - 7 * floor((to_date + 1 - date '1900-01-01') / 7.0)::int, 5))
         - (5 * floor((from_date + 1 - date '1900-01-01') / 7.0)::int
            + least((from_date + 1 - date '1900-01-01')
                    - 7 * floor((from_date + 1 - date '1900-01-01') / 7.0)::int, 5))
$$
"""

# The link rule, once: the filing that amendment `amendment` amends, and by which rule.
# PL/pgSQL (not SQL) so that its plan is cached for the session (one generic plan: custom
# plans would be planned again on every call) and the planner sees its COST rather than
# pricing every row of insider_trades as if it ran (a SQL function called from another SQL
# function is even planned again on every call before PostgreSQL 18).
AMENDMENT_LINK_SQL = f"""
CREATE FUNCTION filing_amendment_link(amendment text, OUT original_accession text,
                                      OUT match_rule text)
LANGUAGE plpgsql STABLE PARALLEL SAFE COST 200
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    SELECT o.accession_number, c.match_rule INTO original_accession, match_rule
    FROM filings a
    CROSS JOIN LATERAL (
        SELECT x.accession_number, 'date_of_original_submission'::text AS match_rule,
               1 AS preference
        FROM filings x
        WHERE x.issuer_cik = a.issuer_cik AND x.filed_date = a.date_of_original_submission
        UNION ALL
        SELECT x.accession_number, 'period_of_report'::text, 2
        FROM filings x
        WHERE x.issuer_cik = a.issuer_cik AND x.period_of_report = a.period_of_report
    ) c
    JOIN filings o ON o.accession_number = c.accession_number
    WHERE a.accession_number = amendment
      AND {_is_amendment('a')}
      AND o.accession_number <> a.accession_number
      AND NOT {_is_amendment('o')}
      AND {_base_form('o')} = {_base_form('a')}
      -- filed before the amendment (unknown when either was loaded from a bare XML)
      AND (o.filed_date IS NULL OR a.filed_date IS NULL OR o.filed_date < a.filed_date
           OR (o.filed_date = a.filed_date
               AND (o.accepted_at IS NULL OR a.accepted_at IS NULL
                    OR o.accepted_at < a.accepted_at)))
      AND {_owner_set('o')} = {_owner_set('a')}
    ORDER BY c.preference, o.filed_date DESC NULLS LAST, o.accepted_at DESC NULLS LAST,
             o.accession_number DESC
    LIMIT 1;
END
$$
"""

FILING_AMENDMENTS_SQL = f"""
CREATE VIEW filing_amendments AS
SELECT a.accession_number AS amendment_accession,
       l.original_accession,
       l.match_rule,
       coalesce(a.document_type, a.form_type) AS amendment_form_type,
       a.filed_date AS amendment_filed_date,
       a.date_of_original_submission,
       a.period_of_report,
       {_has_transactions('a')} AS amendment_has_transactions
FROM filings a
CROSS JOIN LATERAL filing_amendment_link(a.accession_number) l
WHERE {_is_amendment('a')}
  AND l.original_accession IS NOT NULL
"""

# The latest amendment WITH transactions of the same report (the original, or the original
# a linked amendment amends) filed after this filing: it replaces this filing's
# transactions. Amendments holding only holdings never do (a holdings-only 4/A replacing the
# original was a real bug: https://github.com/daniel3303/Equibles/issues/4312). Candidates come
# from the partial indexes on amendments (issuer + date of original submission, issuer +
# period), latest first; the first one with transactions whose link is that original wins.
SUPERSEDED_BY_SQL = f"""
CREATE FUNCTION filing_superseded_by(accession text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE COST 500
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    f filings;
    g filings;
    root text;
    candidate record;
BEGIN
    SELECT * INTO f FROM filings WHERE accession_number = accession;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF {_is_amendment('f')} THEN
        root := (filing_amendment_link(f.accession_number)).original_accession;
        IF root IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT * INTO g FROM filings WHERE accession_number = root;
    ELSE
        root := f.accession_number;
        g := f;
    END IF;
    FOR candidate IN
        SELECT u.accession_number, u.is_later
        FROM (
            SELECT a.accession_number, a.filed_date, a.accepted_at,
                   ({_version_key('a')} > {_version_key('f')}) AS is_later
            FROM filings a
            WHERE {_is_amendment('a')}
              AND a.issuer_cik = g.issuer_cik
              AND a.date_of_original_submission = g.filed_date
              AND a.accession_number <> f.accession_number
            UNION
            SELECT a.accession_number, a.filed_date, a.accepted_at,
                   ({_version_key('a')} > {_version_key('f')})
            FROM filings a
            WHERE {_is_amendment('a')}
              AND a.issuer_cik = g.issuer_cik
              AND a.period_of_report = g.period_of_report
              AND a.accession_number <> f.accession_number
        ) u
        ORDER BY u.filed_date DESC NULLS LAST, u.accepted_at DESC NULLS LAST,
                 u.accession_number DESC
    LOOP
        -- an amendment of an amendment's report replaces it only when filed after it
        CONTINUE WHEN root <> f.accession_number AND NOT coalesce(candidate.is_later, false);
        CONTINUE WHEN NOT (EXISTS (SELECT 1 FROM non_derivative_transactions x
                                   WHERE x.accession_number = candidate.accession_number)
                           OR EXISTS (SELECT 1 FROM derivative_transactions x
                                      WHERE x.accession_number = candidate.accession_number));
        CONTINUE WHEN (filing_amendment_link(candidate.accession_number)).original_accession
                      IS DISTINCT FROM root;
        RETURN candidate.accession_number;  -- the latest one
    END LOOP;
    RETURN NULL;
END
$$
"""

# In the view: a filing that is no amendment, and that no amendment of its issuer points at
# (by date of original submission or period), is superseded by nothing. Two probes of the
# small partial indexes on amendments settle that for almost every row; only the rest calls
# the function. (Probes, not `IN (SELECT ...)`: a hashed IN list is priced as set-up cost on
# every rescan of the filings index, which inflates estimates until JIT kicks in.)
_MAY_BE_AMENDED = f"""({_is_amendment('f')}
    OR EXISTS (SELECT 1 FROM filings a
               WHERE {_is_amendment('a')} AND a.issuer_cik = f.issuer_cik
                 AND a.date_of_original_submission = f.filed_date)
    OR EXISTS (SELECT 1 FROM filings a
               WHERE {_is_amendment('a')} AND a.issuer_cik = f.issuer_cik
                 AND a.period_of_report = f.period_of_report))"""
_SUPERSEDED_BY = (
    f"(CASE WHEN {_MAY_BE_AMENDED} THEN filing_superseded_by(f.accession_number) END)"
)
# A boolean (not "superseded_by IS NULL") so that the planner guesses half the rows pass
# `NOT is_superseded` rather than 0.5% (its guess for IS NULL of an expression), which
# would make it pick nested loops over everything.
_IS_SUPERSEDED = (
    f"(CASE WHEN {_MAY_BE_AMENDED} THEN filing_superseded_by(f.accession_number) IS NOT NULL "
    "ELSE false END)"
)
_AMENDS = (
    f"(CASE WHEN {_is_amendment('f')} "
    "THEN (filing_amendment_link(f.accession_number)).original_accession END)"
)
_AMENDMENT_RULE = (
    f"(CASE WHEN {_is_amendment('f')} "
    "THEN (filing_amendment_link(f.accession_number)).match_rule END)"
)


def _owners(select: str) -> str:
    return f"(SELECT {select} FROM filing_owners fo WHERE fo.accession_number = f.accession_number)"


# 'Name (CIK); Name (CIK)' in document order.
_OWNERS_TEXT = _owners(
    "string_agg(coalesce(fo.rpt_owner_name, '?') || coalesce(' (' || fo.rpt_owner_cik || ')', ''), "
    "'; ' ORDER BY fo.sequence)"
)

# 'Director, Officer (CEO), 10% Owner, Other (member of group)', over all reporting owners.
_RELATIONSHIP = _owners(
    """nullif(concat_ws(', ',
        CASE WHEN bool_or(fo.is_director) THEN 'Director' END,
        CASE WHEN bool_or(fo.is_officer)
             THEN 'Officer' || coalesce(' (' || string_agg(DISTINCT fo.officer_title, '; ') || ')', '')
        END,
        CASE WHEN bool_or(fo.is_ten_percent_owner) THEN '10% Owner' END,
        CASE WHEN bool_or(fo.is_other)
             THEN 'Other' || coalesce(' (' || string_agg(DISTINCT fo.other_text, '; ') || ')', '')
        END), '')"""
)


_ENTRY_COLUMNS = [
    "security_title",
    "conversion_or_exercise_price",
    "transaction_date",
    "deemed_execution_date",
    "transaction_form_type",
    "transaction_code",
    "equity_swap_involved",
    "transaction_timeliness",
    "transaction_shares",
    "transaction_total_value",
    "transaction_price_per_share",
    "transaction_acquired_disposed_code",
    "exercise_date",
    "expiration_date",
    "underlying_security_title",
    "underlying_security_shares",
    "underlying_security_value",
    "shares_owned_following_transaction",
    "value_owned_following_transaction",
    "direct_or_indirect_ownership",
    "nature_of_ownership",
]
_DERIVATIVE_ONLY = {
    "conversion_or_exercise_price": "numeric",
    "exercise_date": "date",
    "expiration_date": "date",
    "underlying_security_title": "text",
    "underlying_security_shares": "numeric",
    "underlying_security_value": "numeric",
}


def _entry_branch(table: str, derivative: bool) -> str:
    cols = [
        f"n.{c}" if derivative or c not in _DERIVATIVE_ONLY else f"NULL::{_DERIVATIVE_ONLY[c]} AS {c}"
        for c in _ENTRY_COLUMNS
    ]
    return (
        f"SELECT '{table}'::text AS table_name, {str(derivative).lower()} AS is_derivative, "
        f"n.accession_number, n.sequence, {', '.join(cols)} FROM {table} n"
    )


_TRANSACTIONS = (
    _entry_branch("non_derivative_transactions", False)
    + "\n    UNION ALL\n    "
    + _entry_branch("derivative_transactions", True)
)

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
    coalesce(f.document_type, f.form_type) AS form_type,
    f.filed_date,
    f.accepted_at,
    f.period_of_report,
    f.date_of_original_submission,
    t.transaction_date,
    t.deemed_execution_date,
    f.issuer_cik,
    f.issuer_name,
    f.issuer_trading_symbol AS issuer_ticker,
    {_owners("count(*)::int")} AS owner_count,
    {_owners("array_agg(fo.rpt_owner_cik ORDER BY fo.sequence)")} AS owner_ciks,
    {_owners("array_agg(fo.rpt_owner_name ORDER BY fo.sequence)")} AS owner_names,
    {_OWNERS_TEXT} AS owners,
    coalesce({_owners("bool_or(fo.is_director)")}, false) AS is_director,
    coalesce({_owners("bool_or(fo.is_officer)")}, false) AS is_officer,
    {_owners("string_agg(DISTINCT fo.officer_title, '; ')")} AS officer_title,
    coalesce({_owners("bool_or(fo.is_ten_percent_owner)")}, false) AS is_ten_percent_owner,
    coalesce({_owners("bool_or(fo.is_other)")}, false) AS is_other,
    {_owners("string_agg(DISTINCT fo.other_text, '; ')")} AS other_text,
    {_RELATIONSHIP} AS relationship,
    t.security_title,
    t.transaction_form_type,
    t.transaction_code,
    tc.meaning AS code_meaning,
    tc.category AS code_category,
    tc.is_open_market,
    t.equity_swap_involved,
    t.transaction_timeliness,
    t.transaction_acquired_disposed_code AS acquired_disposed,
    t.transaction_shares AS shares,
    -- price and value describe a trade in the (non-derivative) security itself; derivative
    -- rows keep their own columns below (never exercise price x underlying: the "$16.8T
    -- trade" of https://github.com/daniel3303/Equibles/pull/3502).
    CASE WHEN NOT t.is_derivative THEN t.transaction_price_per_share END AS price,
    CASE WHEN NOT t.is_derivative
         THEN t.transaction_shares * t.transaction_price_per_share END AS value,
    t.shares_owned_following_transaction AS shares_owned_after,
    t.value_owned_following_transaction AS value_owned_after,
    t.direct_or_indirect_ownership AS direct_or_indirect,
    t.nature_of_ownership,
    f.aff10b5_one,
    CASE WHEN t.is_derivative THEN t.transaction_price_per_share END AS derivative_price,
    CASE WHEN t.is_derivative
         THEN t.transaction_shares * t.transaction_price_per_share END AS derivative_value,
    t.transaction_total_value,
    t.conversion_or_exercise_price,
    t.exercise_date,
    t.expiration_date,
    t.underlying_security_title,
    t.underlying_security_shares,
    t.underlying_security_value,
    business_days_between(t.transaction_date, f.filed_date) AS filed_business_days_after,
    coalesce((
        SELECT array_agg(x.footnote_id ORDER BY x.n, x.footnote_id)
        FROM (SELECT DISTINCT r.footnote_id,
                     nullif(regexp_replace(r.footnote_id, '[^0-9]', '', 'g'), '')::int AS n
              FROM footnote_references r
              WHERE r.accession_number = t.accession_number
                AND r.table_name = t.table_name AND r.sequence = t.sequence) x
    ), '{{}}'::text[]) AS footnote_ids,
    coalesce((
        SELECT array_agg(fn.text ORDER BY x.n, x.footnote_id)
        FROM (SELECT DISTINCT r.footnote_id,
                     nullif(regexp_replace(r.footnote_id, '[^0-9]', '', 'g'), '')::int AS n
              FROM footnote_references r
              WHERE r.accession_number = t.accession_number
                AND r.table_name = t.table_name AND r.sequence = t.sequence) x
        LEFT JOIN footnotes fn
          ON fn.accession_number = t.accession_number AND fn.footnote_id = x.footnote_id
    ), '{{}}'::text[]) AS footnotes,
    {_is_amendment('f')} AS is_amendment,
    {_AMENDS} AS amends_accession,
    {_AMENDMENT_RULE} AS amendment_match_rule,
    {_IS_SUPERSEDED} AS is_superseded,
    {_SUPERSEDED_BY} AS superseded_by
FROM (
    {_TRANSACTIONS}
) t
JOIN filings f ON f.accession_number = t.accession_number
LEFT JOIN transaction_codes tc ON tc.code = t.transaction_code
"""

INSIDER_TRADES_SQL = """
CREATE VIEW insider_trades AS
SELECT * FROM insider_trades_all WHERE NOT is_superseded
"""

COMMENTS = {
    "TABLE transaction_codes": "SEC Form 4 transaction codes (General Instructions 8). K and V "
    "are derived by EDGAR (equitySwapInvolved, transactionTimeliness = E), never filed as codes.",
    "VIEW filing_amendments": "Each 3/A, 4/A, 5/A linked to the filing it amends: same issuer, "
    "same set of reporting owner CIKs, same base form, filed before it; filed_date = "
    "date_of_original_submission (match_rule date_of_original_submission), else same "
    "period_of_report (match_rule period_of_report); the latest such filing.",
    "VIEW insider_trades_all": "One row per transaction row as filed (accession, table_name, "
    "sequence), joint filers aggregated. value = shares x price of non-derivative rows only.",
    "VIEW insider_trades": "insider_trades_all without rows superseded by a later amendment "
    "that has transactions.",
}


def upgrade() -> None:
    op.create_table(
        "transaction_codes",
        sa.Column("code", sa.Text(), primary_key=True),
        sa.Column("meaning", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("is_open_market", sa.Boolean(), nullable=False),
        sa.Column("in_xml", sa.Boolean(), nullable=False),
        sa.Column("derived_from", sa.Text()),
    )
    codes = sa.table(
        "transaction_codes",
        sa.column("code", sa.Text()),
        sa.column("meaning", sa.Text()),
        sa.column("category", sa.Text()),
        sa.column("is_open_market", sa.Boolean()),
        sa.column("in_xml", sa.Boolean()),
        sa.column("derived_from", sa.Text()),
    )
    op.bulk_insert(
        codes,
        [
            dict(zip(("code", "meaning", "category", "is_open_market", "in_xml", "derived_from"),
                     row, strict=True))
            for row in TRANSACTION_CODES
        ],
    )

    for table in ("non_derivative_transactions", "derivative_transactions"):
        op.create_index(f"ix_{table}_code_date", table, ["transaction_code", "transaction_date"])
    op.create_index("ix_filings_issuer_filed_date", "filings", ["issuer_cik", "filed_date"])
    op.create_index("ix_filings_issuer_period", "filings", ["issuer_cik", "period_of_report"])
    op.create_index(
        "ix_filings_amendments_issuer_original_submission",
        "filings",
        ["issuer_cik", "date_of_original_submission"],
        postgresql_where=sa.text(_is_amendment("filings")),
    )
    op.create_index(
        "ix_filings_amendments_issuer_period",
        "filings",
        ["issuer_cik", "period_of_report"],
        postgresql_where=sa.text(_is_amendment("filings")),
    )
    op.create_index(
        "ix_footnote_references_row",
        "footnote_references",
        ["accession_number", "table_name", "sequence"],
    )
    op.create_index(
        "ix_filing_owners_cik_accession", "filing_owners", ["rpt_owner_cik", "accession_number"]
    )

    op.execute(BUSINESS_DAYS_SQL)
    op.execute(AMENDMENT_LINK_SQL)
    op.execute(FILING_AMENDMENTS_SQL)
    op.execute(SUPERSEDED_BY_SQL)
    op.execute(INSIDER_TRADES_ALL_SQL)
    op.execute(INSIDER_TRADES_SQL)
    for target, text in COMMENTS.items():
        literal = "'" + text.replace("'", "''") + "'"
        op.execute(f"COMMENT ON {target} IS {literal}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS insider_trades")
    op.execute("DROP VIEW IF EXISTS insider_trades_all")
    op.execute("DROP FUNCTION IF EXISTS filing_superseded_by(text)")
    op.execute("DROP VIEW IF EXISTS filing_amendments")
    op.execute("DROP FUNCTION IF EXISTS filing_amendment_link(text)")
    op.execute("DROP FUNCTION IF EXISTS business_days_between(date, date)")
    op.drop_index("ix_filing_owners_cik_accession", table_name="filing_owners")
    op.drop_index("ix_footnote_references_row", table_name="footnote_references")
    op.drop_index("ix_filings_amendments_issuer_period", table_name="filings")
    op.drop_index("ix_filings_amendments_issuer_original_submission", table_name="filings")
    op.drop_index("ix_filings_issuer_period", table_name="filings")
    op.drop_index("ix_filings_issuer_filed_date", table_name="filings")
    for table in ("non_derivative_transactions", "derivative_transactions"):
        op.drop_index(f"ix_{table}_code_date", table_name=table)
    op.drop_table("transaction_codes")
