"""Time every analyst query on an existing database: ``python -m benchmarks.bench_analyst``.

    python -m benchmarks.bench_analyst --url postgresql://postgres@127.0.0.1:5432/edgar_bench_x \\
        [--plans plans.txt] [--explain-over 1.0] [--only "0.,7.,count"]

Runs every ```` ```sql ```` block of docs/queries.md (exactly as documented) and the day-one
questions below, each twice, and prints a Markdown table of the second run's wall time and
row count (the first run warms the cache). Queries slower than ``--explain-over`` seconds
get ``EXPLAIN (ANALYZE, BUFFERS)`` written to ``--plans``. Build the database first, e.g.
with ``python -m benchmarks.generate_million --keep``. Figures are reported, never judged
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import TextIO

import psycopg

from ingest import db
from ingest.analyst import documented_queries

# The example owner and issuer of docs/queries.md (Elon Musk, Tesla): the generator makes
# them file about once in 50,000 filings.
EXAMPLE_OWNER = 1494730
EXAMPLE_ISSUER = 1318605


@dataclass(frozen=True, slots=True)
class Question:
    title: str
    sql: str


# What an analyst asks on day one besides the documented questions (issue 12's table).
DAY_ONE: tuple[Question, ...] = (
    Question("count(*) insider_trades", "SELECT count(*) FROM insider_trades"),
    Question("count(*) insider_trades_all", "SELECT count(*) FROM insider_trades_all"),
    Question(
        "open-market purchase value per year",
        "SELECT extract(year FROM transaction_date)::int AS year, count(*) AS purchases, "
        "round(sum(value), 2) AS value FROM insider_trades "
        "WHERE transaction_code = 'P' AND NOT is_derivative GROUP BY 1 ORDER BY 1",
    ),
    Question(
        "top 20 issuers by distinct buyers, last 365 days",
        "SELECT t.issuer_cik, count(DISTINCT o.cik) AS buyers "
        "FROM insider_trades t CROSS JOIN LATERAL unnest(t.owner_ciks) AS o(cik) "
        "WHERE t.transaction_code = 'P' AND NOT t.is_derivative "
        "AND t.transaction_date > (SELECT max(transaction_date) FROM insider_trades) - 365 "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
    ),
    Question(
        "one owner's trades via = ANY(owner_ciks)",
        f"SELECT count(*), sum(shares) FROM insider_trades WHERE {EXAMPLE_OWNER} = ANY(owner_ciks)",
    ),
    Question(
        "one owner's trades via owner_ciks @> ARRAY[cik]",
        "SELECT count(*), sum(shares) FROM insider_trades "
        f"WHERE owner_ciks @> ARRAY[{EXAMPLE_OWNER}::bigint]",
    ),
    Question(
        "one issuer's history",
        f"SELECT * FROM insider_trades WHERE issuer_cik = {EXAMPLE_ISSUER} "
        "ORDER BY transaction_date, accession_number, table_name, sequence",
    ),
    Question(
        "one accession",
        "SELECT * FROM insider_trades_all WHERE accession_number = "
        "(SELECT max(accession_number) FROM filings WHERE coalesce(document_type, form_type) = '4/A')",
    ),
    Question(
        "top 20 sales of the last 30 days",
        "SELECT accession_number, issuer_cik, transaction_date, shares, price, value "
        "FROM insider_trades WHERE transaction_code = 'S' AND NOT is_derivative "
        "AND transaction_date > (SELECT max(transaction_date) FROM insider_trades) - 30 "
        "ORDER BY value DESC NULLS LAST LIMIT 20",
    ),
)


def questions() -> list[Question]:
    documented = [Question(q.title, q.sql) for q in documented_queries()]
    return documented + list(DAY_ONE)


def _timed(conn: psycopg.Connection, statement: str) -> tuple[float, int]:
    started = time.monotonic()
    rows = conn.execute(statement).fetchall()
    return time.monotonic() - started, len(rows)


def run(
    url: str,
    *,
    only: list[str] | None = None,
    explain_over: float = 1.0,
    plans: TextIO | None = None,
    out: TextIO = sys.stdout,
) -> list[tuple[str, float, int]]:
    """Time each question (second of two runs); EXPLAIN the slow ones into ``plans``."""
    results: list[tuple[str, float, int]] = []
    with psycopg.connect(db.libpq_conninfo(db.normalize_url(url)), autocommit=True) as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
        print(f"database size {size[0]}\n", file=out)
        print("| question | seconds | rows |\n|---|---|---|", file=out)
        for question in questions():
            if only and not any(question.title.startswith(prefix) for prefix in only):
                continue
            _timed(conn, question.sql)
            seconds, count = _timed(conn, question.sql)
            results.append((question.title, seconds, count))
            print(f"| {question.title} | {seconds:.3f} | {count} |", file=out, flush=True)
            if plans is not None and seconds > explain_over:
                plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + question.sql).fetchall()
                print(f"\n## {question.title}: {seconds:.2f} s\n", file=plans)
                print("\n".join(line for (line,) in plan), file=plans, flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the database to query")
    parser.add_argument("--plans", help="write EXPLAIN (ANALYZE, BUFFERS) of slow queries here")
    parser.add_argument("--explain-over", type=float, default=1.0, help="seconds (default 1)")
    parser.add_argument("--only", help="comma-separated title prefixes to run")
    args = parser.parse_args(argv)
    only = [p.strip() for p in args.only.split(",")] if args.only else None
    if args.plans:
        with open(args.plans, "w", encoding="utf-8") as plans:
            run(args.url, only=only, explain_over=args.explain_over, plans=plans)
    else:
        run(args.url, only=only, explain_over=args.explain_over)


if __name__ == "__main__":
    main()
