"""Time analysts' queries on an existing database: every block of docs/queries.md, exactly as
documented, and the day-one questions of issue 12 (``DAY_ONE``).

    python -m benchmarks.bench_queries --url postgresql://postgres@127.0.0.1:5432/edgar_bench_x
        [--out DIR] [--only TEXT] [--statement-timeout SECONDS]

Each query runs twice on one connection and the second run is reported (the first warms
the cache). A query whose second run takes over ``EXPLAIN_OVER_SECONDS`` is run a third time
as ``EXPLAIN (ANALYZE, BUFFERS)`` and the plan saved under ``DIR/plans/``. Prints a table
(query, rows, seconds, selective or not, target, met) and writes ``DIR/results.json``.

Targets (issue 12): every query under ``TARGET_SECONDS``; selective ones (one issuer, one
owner, one accession, top-N of a recent window) under ``SELECTIVE_TARGET_SECONDS``. The
day-one questions take their owner and issuer from docs/queries.md's examples, their
accession from those it quotes (the newest filing when none is in the database), and "now"
from the newest filed date in the database. Figures are reported, never judged here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import psycopg
from psycopg import sql

from benchmarks.__main__ import commit
from benchmarks.generate_million import documented_examples
from ingest import db
from ingest.analyst import documented_queries

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 5.0
SELECTIVE_TARGET_SECONDS = 0.1
EXPLAIN_OVER_SECONDS = 1.0


@dataclass(frozen=True)
class Question:
    name: str
    sql: str  # a psycopg sql.SQL template: {owner_cik}, {issuer_cik}, {accession}, {as_of}
    selective: str | None = None  # what makes it selective, if it is


# The questions an analyst asks on day one (issue 12's table), in one place.
DAY_ONE = (
    Question("count(*) from insider_trades", "SELECT count(*) FROM insider_trades"),
    Question(
        "open-market purchase value per year",
        "SELECT extract(year FROM transaction_date)::int AS year, count(*) AS purchases, "
        "round(sum(value), 2) AS value FROM insider_trades "
        "WHERE transaction_code = 'P' AND NOT is_derivative GROUP BY 1 ORDER BY 1",
    ),
    Question(
        "top 20 issuers by distinct buyers, last 365 days",
        "WITH params AS (SELECT {as_of}::date AS as_of) "
        "SELECT t.issuer_cik, max(t.issuer_ticker) AS ticker, count(DISTINCT o.cik) AS buyers "
        "FROM insider_trades t CROSS JOIN LATERAL unnest(t.owner_ciks) AS o(cik), params p "
        "WHERE t.transaction_code = 'P' AND NOT t.is_derivative "
        "AND t.transaction_date > p.as_of - 365 AND t.transaction_date <= p.as_of "
        "GROUP BY t.issuer_cik ORDER BY buyers DESC, t.issuer_cik LIMIT 20",
    ),
    Question(
        "one owner's trades (= ANY(owner_ciks))",
        "SELECT * FROM insider_trades WHERE {owner_cik} = ANY(owner_ciks) "
        "ORDER BY transaction_date, accession_number, table_name, sequence",
        selective="one owner",
    ),
    Question(
        "one owner's trades (cik::bigint = ANY(owner_ciks))",
        "SELECT * FROM insider_trades WHERE {owner_cik}::bigint = ANY(owner_ciks) "
        "ORDER BY transaction_date, accession_number, table_name, sequence",
        selective="one owner",
    ),
    Question(
        "one owner's trades (owner_ciks @> ARRAY[cik], the indexed way in)",
        "SELECT * FROM insider_trades WHERE owner_ciks @> ARRAY[{owner_cik}::bigint] "
        "ORDER BY transaction_date, accession_number, table_name, sequence",
        selective="one owner",
    ),
    Question(
        "one issuer's history",
        "SELECT * FROM insider_trades WHERE issuer_cik = {issuer_cik} "
        "ORDER BY transaction_date, accession_number, table_name, sequence",
        selective="one issuer",
    ),
    Question(
        "one accession",
        "SELECT * FROM insider_trades WHERE accession_number = {accession} "
        "ORDER BY table_name, sequence",
        selective="one accession",
    ),
    Question(
        "top 20 open-market trades of the last 30 days",
        "WITH params AS (SELECT {as_of}::date AS as_of) "
        "SELECT transaction_date, issuer_ticker, owners, transaction_code, shares, price, "
        "round(value, 2) AS value, accession_number FROM insider_trades, params p "
        "WHERE transaction_code IN ('P', 'S') AND NOT is_derivative "
        "AND transaction_date > p.as_of - 30 AND transaction_date <= p.as_of "
        "ORDER BY value DESC NULLS LAST, accession_number, sequence LIMIT 20",
        selective="top-N of a recent window",
    ),
)

# docs/queries.md sections (by their number) that are selective, and why.
SELECTIVE_DOCUMENTED = {
    "1": "top-N of a recent window",
    "5": "one owner in one issuer",
    "12": "one accession",
    "14": "two accessions",
    "15": "one owner",
}
_SECTION_NUMBER = re.compile(r"^(\d+)[a-z]?\.\s")


@dataclass
class Timing:
    name: str
    source: str  # 'docs/queries.md' or 'day one'
    selective: str | None
    target_seconds: float
    seconds: float | None = None  # second run
    first_seconds: float | None = None
    rows: int | None = None
    plan_file: str | None = None
    error: str | None = None

    @property
    def met(self) -> bool | None:
        return None if self.seconds is None else self.seconds < self.target_seconds


def _selective_documented(title: str) -> str | None:
    match = _SECTION_NUMBER.match(title)
    return SELECTIVE_DOCUMENTED.get(match.group(1)) if match else None


def resolve_parameters(conn: psycopg.Connection) -> dict[str, Any]:
    """The day-one questions' owner, issuer, accession and 'now' for this database."""
    examples = documented_examples()
    present = conn.execute(
        "SELECT accession_number FROM filings WHERE accession_number = ANY(%s) "
        "ORDER BY array_position(%s, accession_number) LIMIT 1",
        (list(examples.accessions), list(examples.accessions)),
    ).fetchone()
    newest = conn.execute(
        "SELECT accession_number, filed_date FROM filings WHERE filed_date IS NOT NULL "
        "ORDER BY filed_date DESC, accession_number DESC LIMIT 1"
    ).fetchone()
    return {
        "owner_cik": examples.owners[0],
        "issuer_cik": examples.issuers[0],
        "accession": present[0] if present else (newest[0] if newest else ""),
        "as_of": newest[1] if newest else date.today(),
    }


def questions(conn: psycopg.Connection, parameters: dict[str, Any]) -> list[tuple[Timing, str]]:
    """(timing record, SQL text) for every documented query, then every day-one question."""
    out = []
    for query in documented_queries():
        selective = _selective_documented(query.title)
        out.append((_timing(query.title, "docs/queries.md", selective), query.sql))
    literals = {k: sql.Literal(v) for k, v in parameters.items()}
    for question in DAY_ONE:
        text = sql.SQL(question.sql).format(**literals).as_string(conn)
        out.append((_timing(question.name, "day one", question.selective), text))
    return out


def _timing(name: str, source: str, selective: str | None) -> Timing:
    target = SELECTIVE_TARGET_SECONDS if selective else TARGET_SECONDS
    return Timing(name=name, source=source, selective=selective, target_seconds=target)


def _timed(conn: psycopg.Connection, text: str) -> tuple[float, int]:
    started = time.perf_counter()
    rows = len(conn.execute(text).fetchall())
    return time.perf_counter() - started, rows


def _slug(number: int, name: str) -> str:
    return f"{number:02d}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


def measure(conn: psycopg.Connection, timing: Timing, text: str, number: int,
            plans: Path | None) -> None:
    try:
        timing.first_seconds, _ = _timed(conn, text)
        timing.seconds, timing.rows = _timed(conn, text)
        if plans is not None and timing.seconds > EXPLAIN_OVER_SECONDS:
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + text).fetchall()
            path = plans / f"{_slug(number, timing.name)}.txt"
            path.write_text(f"-- {timing.name} ({timing.source}): second run "
                            f"{timing.seconds:.3f} s\n{text}\n\n"
                            + "\n".join(line for (line,) in plan) + "\n")
            timing.plan_file = str(path.relative_to(plans.parent))
    except psycopg.Error as exc:
        timing.error = str(exc).strip().splitlines()[0]


def database_facts(conn: psycopg.Connection) -> dict[str, Any]:
    settings = dict(conn.execute(
        "SELECT name, current_setting(name) FROM pg_settings "
        "WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'jit', "
        "'max_parallel_workers_per_gather', 'random_page_cost')"
    ).fetchall())
    estimates = dict(conn.execute(
        "SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r' "
        "AND relnamespace = 'public'::regnamespace AND relname IN ('filings', "
        "'non_derivative_transactions', 'derivative_transactions', 'raw_submissions')"
    ).fetchall())
    return {
        "database": conn.execute("SELECT current_database()").fetchone()[0],
        "server": conn.execute("SHOW server_version").fetchone()[0],
        "size_bytes": conn.execute("SELECT pg_database_size(current_database())").fetchone()[0],
        "alembic_revision": _revision(conn),
        "rows_estimated": estimates,
        "settings": settings,
    }


def _revision(conn: psycopg.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


def run(url: str, out_dir: Path | None = None, only: str | None = None,
        statement_timeout: float | None = None, stream: TextIO = sys.stdout) -> dict[str, Any]:
    """Measure every question on the database at ``url``; results as a dict (also written
    to ``out_dir/results.json``, with the plans of the slow ones under ``out_dir/plans``)."""
    if out_dir is None:
        out_dir = REPO / "benchmarks" / "runs" / datetime.now().strftime("queries-%Y%m%d-%H%M%S")
    plans = out_dir / "plans"
    plans.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(db.libpq_conninfo(db.normalize_url(url)), autocommit=True) as conn:
        if statement_timeout:
            conn.execute(f"SET statement_timeout = {int(statement_timeout * 1000)}")
        parameters = resolve_parameters(conn)
        result = {
            "commit": commit(),
            "measured_at": datetime.now().isoformat(timespec="seconds"),
            "parameters": {k: str(v) for k, v in parameters.items()},
            **database_facts(conn),
            "queries": [],
        }
        timings = []
        for number, (timing, text) in enumerate(questions(conn, parameters), start=1):
            if only and only.lower() not in timing.name.lower():
                continue
            print(f"[bench_queries] {timing.name} ...", file=sys.stderr, flush=True)
            measure(conn, timing, text, number, plans)
            timings.append(timing)
            result["queries"].append({**asdict(timing), "met": timing.met})
            # written after every query: a long run stopped half-way keeps what it measured
            (out_dir / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(format_table(timings), file=stream)
    print(f"database {result['database']}, {result['size_bytes'] / 2**30:.2f} GiB; "
          f"results in {out_dir}", file=stream)
    return result


def format_table(timings: list[Timing]) -> str:
    lines = ["| query | source | rows | seconds | selective | target | met |",
             "|---|---|---:|---:|---|---:|---|"]
    for t in timings:
        seconds = f"{t.seconds:.3f}" if t.seconds is not None else f"error: {t.error}"
        rows = f"{t.rows:,}" if t.rows is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[t.met]
        lines.append(f"| {t.name} | {t.source} | {rows} | {seconds} | {t.selective or 'no'} "
                     f"| < {t.target_seconds:g} s | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the database to measure")
    parser.add_argument("--out", type=Path, help="folder for results.json and plans/ "
                        "[default: benchmarks/runs/queries-<time>]")
    parser.add_argument("--only", help="only the queries whose name contains this text")
    parser.add_argument("--statement-timeout", type=float, help="seconds; a query over it "
                        "is reported as an error")
    args = parser.parse_args(argv)
    run(args.url, args.out, args.only, args.statement_timeout)


if __name__ == "__main__":
    main()
