"""What ``edgar-insider status`` reports: gathered once as plain data, then printed.

:func:`collect` reads the database into a dict (the same facts whatever the output), and
:func:`render` prints it for people. Everything said about the future is what the next run
really does: retries come from the queue's own schedule (``ingest/workqueue.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from . import db, workqueue
from .records import NOTHING_TO_PARSE, PARSER_VERSION, XML_MANDATORY_FROM
from .sgml import EASTERN

# Above this many rows (planner estimate) a table's count is the estimate: an exact
# count(*) of tens of millions of rows takes seconds per table.
EXACT_COUNT_LIMIT = 1_000_000
PROBLEMS_SHOWN = 50
ERRORS_SHOWN = 10


def collect(conn: psycopg.Connection, target: db.DatabaseTarget) -> dict[str, Any]:
    queue = workqueue.summarize(conn)
    tables = table_counts(conn)
    return {
        "database": target.display,
        "schema_revision": db.current_revision(target.url),
        "schema_head": db.head_revision(),
        "parser_version": PARSER_VERSION,
        "tables": tables,
        "newest_filing": _newest_filing(conn),
        "last_daily_index": workqueue.last_discovered_day(conn),
        "queue": {
            "by_status": {s: queue.by_status.get(s, 0) for s in _QUEUE_STATES},
            "retry_due": queue.retry_due,
            "retry_scheduled": queue.retry_later,
            "next_retry_at": queue.next_retry,
            "given_up": queue.given_up,
        },
        "not_loaded": _not_loaded(conn),
        "unparsed_filings": int(conn.execute(
            "SELECT count(*) FROM filings WHERE NOT parsed AND parse_error IS NOT NULL"
            " AND NOT (parse_error = ANY(%s) AND filed_date < %s)",
            (sorted(NOTHING_TO_PARSE), XML_MANDATORY_FROM)).fetchone()[0]),
        "errors_total": next((t["rows"] for t in tables if t["table"] == "ingest_errors"), 0),
        "recent_errors": _recent_errors(conn),
    }


_QUEUE_STATES = (workqueue.PENDING, workqueue.DONE, workqueue.FAILED, workqueue.MISSING)


def table_counts(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Rows of every table of the public schema but Alembic's (estimated when huge)."""
    tables = conn.execute(
        "SELECT c.relname, c.reltuples::bigint FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
        "AND c.relname <> 'alembic_version' ORDER BY c.relname"
    ).fetchall()
    out = []
    for name, estimate in tables:
        if estimate > EXACT_COUNT_LIMIT:
            out.append({"table": name, "rows": int(estimate), "estimated": True})
        else:
            count = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            out.append({"table": name, "rows": int(count), "estimated": False})
    return out


def _newest_filing(conn: psycopg.Connection) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT accession_number, form_type, issuer_name, filed_date, accepted_at "
        "FROM filings ORDER BY filed_date DESC NULLS LAST, accepted_at DESC NULLS LAST, "
        "accession_number DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    acc, form, issuer, filed, accepted = row
    return {"accession_number": acc, "form_type": form, "issuer_name": issuer, "filed_date": filed,
            # EDGAR's clock is New York time: acceptance as filers and SEC see it.
            "accepted_at": accepted.astimezone(EASTERN) if accepted else None}


def _not_loaded(conn: psycopg.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT accession_number, status, attempts, filed_date, path, last_error, next_attempt_at"
        " FROM fetch_queue WHERE status IN ('failed', 'missing')"
        " ORDER BY filed_date DESC, accession_number LIMIT %s", (PROBLEMS_SHOWN,)
    ).fetchall()
    keys = ("accession_number", "status", "attempts", "filed_date", "path", "last_error", "next_attempt_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _recent_errors(conn: psycopg.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT occurred_at, stage, accession_number, source_name, message "
        "FROM ingest_errors ORDER BY id DESC LIMIT %s", (ERRORS_SHOWN,)
    ).fetchall()
    keys = ("occurred_at", "stage", "accession_number", "source_name", "message")
    return [dict(zip(keys, row, strict=True)) for row in rows]


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def render(status: dict[str, Any]) -> list[str]:
    lines = [
        f"database: {status['database']}",
        f"schema revision: {status['schema_revision']} (head {status['schema_head']})",
        f"parser version: {status['parser_version']}",
        "rows:",
    ]
    for table in status["tables"]:
        mark = "~" if table["estimated"] else " "
        lines.append(f"  {table['table']:<30} {mark}{table['rows']:>12,}")
    lines.append(_newest_line(status["newest_filing"]))
    if status["unparsed_filings"]:
        lines.append(
            f"stored unparsed: {status['unparsed_filings']:,} filing(s) have parsed = false and a "
            "parse_error (their rows are incomplete; `reparse` redoes them after a parser fix)"
        )
    lines += _queue_lines(status)
    lines += _error_lines(status)
    return lines


def _newest_line(newest: dict[str, Any] | None) -> str:
    if newest is None:
        return "newest filing: none yet"
    when = newest["accepted_at"].isoformat() if newest["accepted_at"] else str(newest["filed_date"] or "?")
    text = f"newest filing: {newest['accession_number']} form {newest['form_type'] or '?'} "
    return f"{text}{newest['issuer_name'] or ''} ({when})".replace("  (", " (")


def _queue_lines(status: dict[str, Any]) -> list[str]:
    queue = status["queue"]
    by_status = queue["by_status"]
    if not any(by_status.values()):
        return ["fetch queue: empty"]
    lines = ["fetch queue: " + ", ".join(f"{s} {n:,}" for s, n in by_status.items())]
    if status["last_daily_index"]:
        lines.append(f"last daily index read: {status['last_daily_index']}")
    if by_status[workqueue.FAILED] or by_status[workqueue.MISSING]:
        next_at = f" (next at {_when(queue['next_retry_at'])})" if queue["next_retry_at"] else ""
        lines.append(
            f"retries: {queue['retry_due']:,} due (the next sync retries them), "
            f"{queue['retry_scheduled']:,} scheduled{next_at}, {queue['given_up']:,} given up after "
            f"{workqueue.RETRY_FOR.days} days (`sync --date D` or `backfill --from D --to D` tries "
            "their day again)"
        )
        lines.append("filings not loaded:")
    for row in status["not_loaded"]:
        retry = f"retry at {_when(row['next_attempt_at'])}" if row["next_attempt_at"] else "given up"
        lines.append(
            f"  {row['accession_number']} {row['status']} after {row['attempts']} attempt(s), "
            f"filed {row['filed_date']}, {retry}: {row['path']}: {_one_line(row['last_error'])}"
        )
    return lines


def _error_lines(status: dict[str, Any]) -> list[str]:
    errors = status["recent_errors"]
    if not errors:
        return ["recent errors: none"]
    lines = [f"recent errors ({status['errors_total']:,} in all):"]
    for error in errors:
        what = error["accession_number"] or error["source_name"] or "?"
        lines.append(f"  {error['occurred_at']:%Y-%m-%d %H:%M:%S} [{error['stage']}] {what}: "
                     f"{_one_line(error['message'])}")
    return lines


def _when(moment: datetime) -> str:
    return moment.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M %Z")


def _one_line(text: str | None, limit: int = 160) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
