"""Generate a scratch database of N transactions and EXPLAIN two documented queries on it.

    python -m benchmarks.generate_million --url postgresql://postgres@127.0.0.1:5432/postgres \\
        --transactions 1000000

Creates a new database on that server (``edgar_bench_<random>``), migrates it to head,
fills it with ``INSERT ... SELECT generate_series`` (no Python loop over rows), ANALYZEs,
prints ``EXPLAIN (ANALYZE, BUFFERS)`` of two queries of docs/queries.md (run exactly as
documented) and drops the database (``--keep`` leaves it).

Shape of the data (deterministic): one filing per 3 transactions (2 non-derivative, 1
derivative), 5,000 issuers, 50,000 reporting owners whose CIK range includes the example
CIKs used in docs/queries.md, one joint filing in 10 (3 owners), transaction dates over
2010-2025, codes S 35%, A 20%, M 15%, F 15%, P 5%, G 3%, others; one filing in 70 is a 4/A
of an earlier filing (same issuer and owners, date of original submission = its filed
date), one in 5 of those without transactions (holdings only); one footnote per filing,
referenced by its first transaction. Elon Musk (1494730) files for Tesla (1318605) about
once in 50,000 filings, as the example owner/issuer of docs/queries.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

import psycopg
from psycopg import sql

from ingest import db
from ingest.analyst import documented_queries

# The two documented queries to EXPLAIN (headings of docs/queries.md, matched by prefix).
EXPLAINED = ("1. Open-market purchases", "5. One owner's holdings over time")

AMENDMENT_EVERY = 70  # filing i with i % 70 == 0 amends filing i - 35
HOLDINGS_ONLY_EVERY = 350  # ... and has no transactions when i % 350 == 0
ISSUERS = 5000
OWNERS = 50000
# CIK ranges chosen so that docs/queries.md's example owner (Elon Musk, 1494730) files for its
# example issuer (Tesla, 1318605) here too: owner offset 730 happens for base(i) = 14390 mod
# 50000 (7 x 14390 = 730 mod 50000), whose issuer offset is 14390 mod 5000 = 4390.
ISSUER_CIK_BASE = 1318605 - 4390
OWNER_CIK_BASE = 1494730 - 730

# Every value below is a function of the filing number i and of base(i): the filing whose
# issuer, owners and dates filing i shares (itself, or the original it amends).
_ACC = (
    "('0000999999-' || lpad((10 + {i} / 1000000)::text, 2, '0') || '-' "
    "|| lpad(({i} % 1000000)::text, 6, '0'))"
)
_TX_DATE = "(date '2010-01-01' + (({b}::bigint * 7919) % 5840)::int)"


def acc(expr: str) -> str:
    return _ACC.format(i=expr)


def tx_date(expr: str) -> str:
    return _TX_DATE.format(b=expr)


def fill_sql(filings: int) -> list[tuple[str, str]]:
    """(description, statement) pairs that fill an empty migrated database."""
    is_amend = f"(i % {AMENDMENT_EVERY} = 0 AND i > {AMENDMENT_EVERY})"
    base = f"(CASE WHEN {is_amend} THEN i - 35 ELSE i END)"
    has_tx = f"(NOT ({is_amend} AND i % {HOLDINGS_ONLY_EVERY} = 0))"
    filed = f"({tx_date(base)} + ({base} % 3))"
    code = (
        "(CASE WHEN h < 35 THEN 'S' WHEN h < 55 THEN 'A' WHEN h < 70 THEN 'M' WHEN h < 85 THEN 'F' "
        "WHEN h < 90 THEN 'P' WHEN h < 93 THEN 'G' WHEN h < 95 THEN 'D' WHEN h < 97 THEN 'J' "
        "WHEN h < 98 THEN 'X' WHEN h < 99 THEN 'C' ELSE 'I' END)"
    )
    return [
        (
            "filings",
            f"""
            INSERT INTO filings (accession_number, form_type, schema_version, document_type,
                period_of_report, date_of_original_submission, aff10b5_one, issuer_cik,
                issuer_name, issuer_trading_symbol, filed_date, accepted_at, header_period,
                filer_ciks, parsed, source_kind, raw_sha256, parser_version)
            SELECT {acc('i')},
                   CASE WHEN {is_amend} THEN '4/A' ELSE '4' END,
                   'X0508',
                   CASE WHEN {is_amend} THEN '4/A' ELSE '4' END,
                   {tx_date(base)},
                   CASE WHEN {is_amend} THEN {filed} END,
                   CASE WHEN {tx_date(base)} >= date '2023-04-01' THEN i % 4 = 0 END,
                   {ISSUER_CIK_BASE} + {base} % {ISSUERS},
                   'ISSUER ' || ({ISSUER_CIK_BASE} + {base} % {ISSUERS}),
                   'T' || ({base} % {ISSUERS}),
                   CASE WHEN {is_amend} THEN {filed} + 10 ELSE {filed} END,
                   (CASE WHEN {is_amend} THEN {filed} + 10 ELSE {filed} END)
                       + time '17:30' + make_interval(secs => i % 3600),
                   {tx_date(base)},
                   ARRAY[{ISSUER_CIK_BASE} + {base} % {ISSUERS}]::bigint[],
                   true, 'submission', md5(i::text), 1
            FROM generate_series(1, {filings}) i
            """,
        ),
        (
            "filing_owners",
            f"""
            INSERT INTO filing_owners (accession_number, sequence, rpt_owner_cik, rpt_owner_name,
                is_director, is_officer, is_ten_percent_owner, is_other, officer_title)
            SELECT {acc('i')}, s,
                   {OWNER_CIK_BASE} + ({base} * 7 + s - 1) % {OWNERS},
                   'OWNER ' || ({OWNER_CIK_BASE} + ({base} * 7 + s - 1) % {OWNERS}),
                   {base} % 5 = 0, {base} % 5 IN (1, 2), s > 1, false,
                   CASE WHEN {base} % 5 = 1 THEN 'CEO' WHEN {base} % 5 = 2 THEN 'CFO' END
            FROM generate_series(1, {filings}) i
            CROSS JOIN LATERAL generate_series(1, CASE WHEN {base} % 10 = 3 THEN 3 ELSE 1 END) s
            """,
        ),
        (
            "non_derivative_transactions",
            f"""
            INSERT INTO non_derivative_transactions (accession_number, sequence, security_title,
                transaction_date, transaction_form_type, transaction_code, equity_swap_involved,
                transaction_timeliness, transaction_shares, transaction_price_per_share,
                transaction_acquired_disposed_code, shares_owned_following_transaction,
                direct_or_indirect_ownership)
            SELECT {acc('i')}, s, 'Common Stock',
                   {tx_date(base)}, '4', {code}, false,
                   CASE WHEN h % 50 = 7 THEN 'L' END,
                   100 + (i * 37 + s * 11) % 50000,
                   round((5 + (i * 13 + s) % 500)::numeric + (i % 100) / 100.0, 2),
                   CASE WHEN {code} IN ('S', 'F', 'G', 'D') THEN 'D' ELSE 'A' END,
                   10000 + (i * 31) % 1000000,
                   CASE WHEN s = 2 AND i % 4 = 0 THEN 'I' ELSE 'D' END
            FROM generate_series(1, {filings}) i
            CROSS JOIN LATERAL generate_series(1, 2) s
            CROSS JOIN LATERAL (SELECT ((i * 7 + s * 3) * 2654435761) % 100 AS h) hh
            WHERE {has_tx}
            """,
        ),
        (
            "derivative_transactions",
            f"""
            INSERT INTO derivative_transactions (accession_number, sequence, security_title,
                conversion_or_exercise_price, transaction_date, transaction_form_type,
                transaction_code, equity_swap_involved, transaction_shares,
                transaction_price_per_share, transaction_acquired_disposed_code, exercise_date,
                expiration_date, underlying_security_title, underlying_security_shares,
                shares_owned_following_transaction, direct_or_indirect_ownership)
            SELECT {acc('i')}, 1, 'Stock Option (right to buy)',
                   round((1 + i % 300)::numeric, 2), {tx_date(base)}, '4',
                   CASE WHEN i % 2 = 0 THEN 'M' ELSE 'A' END, false,
                   100 + (i * 17) % 20000, 0,
                   CASE WHEN i % 2 = 0 THEN 'D' ELSE 'A' END,
                   {tx_date(base)} - 365, {tx_date(base)} + 3650, 'Common Stock',
                   100 + (i * 17) % 20000, (i * 19) % 100000, 'D'
            FROM generate_series(1, {filings}) i
            WHERE {has_tx}
            """,
        ),
        (
            "non_derivative_holdings",
            f"""
            INSERT INTO non_derivative_holdings (accession_number, sequence, security_title,
                shares_owned_following_transaction, direct_or_indirect_ownership,
                nature_of_ownership)
            SELECT {acc('i')}, 1, 'Common Stock', 1000 + i % 5000, 'I', 'By Trust'
            FROM generate_series(1, {filings}) i
            WHERE NOT {has_tx} OR i % 9 = 0
            """,
        ),
        (
            "footnotes",
            f"""
            INSERT INTO footnotes (accession_number, footnote_id, text)
            SELECT {acc('i')}, 'F1', 'Weighted average price; range ' || (i % 100) || ' cents.'
            FROM generate_series(1, {filings}) i
            """,
        ),
        (
            "footnote_references",
            f"""
            INSERT INTO footnote_references (accession_number, footnote_id, table_name, sequence,
                column_name)
            SELECT {acc('i')}, 'F1', 'non_derivative_transactions', 1, 'transaction_price_per_share'
            FROM generate_series(1, {filings}) i
            WHERE {has_tx}
            """,
        ),
    ]


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(db.libpq_conninfo(db.normalize_url(url)), autocommit=True)


def _database_url(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db.normalize_url(url)).set(database=name).render_as_string(hide_password=False)


def run(url: str, transactions: int, keep: bool, out=sys.stdout) -> None:
    name = f"edgar_bench_{uuid.uuid4().hex[:10]}"
    filings = max(1, transactions // 3)
    with _admin(url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = _database_url(url, name)
    print(f"database {name}: migrating", file=out)
    try:
        db.upgrade(target)
        db.dispose_engines()
        with psycopg.connect(db.libpq_conninfo(target), autocommit=True) as conn:
            for what, statement in fill_sql(filings):
                started = time.monotonic()
                count = conn.execute(statement).rowcount
                print(f"  {what}: {count:,} rows in {time.monotonic() - started:.1f}s", file=out)
            started = time.monotonic()
            conn.execute("SELECT rebuild_analyst_rows()")  # what the loader stores per batch
            print(f"  rebuild_analyst_rows: {time.monotonic() - started:.1f}s", file=out)
            started = time.monotonic()
            conn.execute("VACUUM ANALYZE")
            print(f"  vacuum analyze: {time.monotonic() - started:.1f}s", file=out)
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM non_derivative_transactions) "
                "+ (SELECT count(*) FROM derivative_transactions), (SELECT count(*) FROM filings), "
                "(SELECT count(*) FROM filing_amendments)"
            ).fetchone()
            print(
                f"transactions {counts[0]:,}; filings {counts[1]:,}; linked amendments {counts[2]:,}",
                file=out,
            )
            queries = {q.title: q for q in documented_queries()}
            for prefix in EXPLAINED:
                query = next(q for title, q in queries.items() if title.startswith(prefix))
                started = time.monotonic()
                rows = conn.execute(query.sql).fetchall()
                elapsed = time.monotonic() - started
                plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query.sql).fetchall()
                print(f"\n## {query.title}: {len(rows)} rows, {elapsed * 1000:.0f} ms\n", file=out)
                for (line,) in plan:
                    print(line, file=out)
    finally:
        db.dispose_engines()
        if keep:
            print(f"kept database {name}", file=out)
        else:
            with _admin(url) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            print(f"dropped database {name}", file=out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="server URL (any database of it)")
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="do not drop the scratch database")
    args = parser.parse_args(argv)
    run(args.url, args.transactions, args.keep)


if __name__ == "__main__":
    main()
