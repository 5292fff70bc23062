"""What ``edgar-insider status`` reports: gathered once as plain data, then printed.

:func:`collect` reads the database into a dict (the same facts whatever the output), and
:func:`render` prints it for people. Everything said about the future is what the next run
really does: retries come from the queue's own schedule (``ingest/workqueue.py``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from . import db, workqueue
from .dataset_load import status_by_year
from .records import NOTHING_TO_PARSE, PARSER_VERSION, XML_MANDATORY_FROM
from .sgml import EASTERN

# Above this many rows (planner estimate) a table's count is the estimate: an exact
# count(*) of tens of millions of rows takes seconds per table.
EXACT_COUNT_LIMIT = 1_000_000
PROBLEMS_SHOWN = 50
ERRORS_SHOWN = 10


# The version of the document ``status --json`` prints; bumped when a field changes meaning or
# goes away (new fields may appear in any version). docs/operations.md lists every field.
DOCUMENT_VERSION = 1
DEFAULT_MAX_AGE_HOURS = 36.0  # the nightly sync runs every 24 h; a missed night is > 36 h
DEFAULT_ERROR_DAYS = 7
LAG_WINDOW_HOURS = 24
FAILING_FOR = timedelta(days=1)  # a filing failing longer than this is worth an alert


def collect(conn: psycopg.Connection, target: db.DatabaseTarget, *,
            max_age_hours: float = DEFAULT_MAX_AGE_HOURS,
            error_days: int = DEFAULT_ERROR_DAYS) -> dict[str, Any]:
    """Every fact ``status`` reports, as JSON-ready data (see DOCUMENT_VERSION)."""
    queue = workqueue.summarize(conn)
    tables = table_counts(conn)
    revision, head = db.current_revision(target.url), db.head_revision()
    report: dict[str, Any] = {
        "document_version": DOCUMENT_VERSION,
        "generated_at": datetime.now(UTC),
        "database": {
            "url": target.display,
            "embedded": target.embedded,
            "size_bytes": int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]),
        },
        "schema": {"revision": revision, "head": head, "current": revision == head},
        "parser_version": PARSER_VERSION,
        "tables": {t["table"]: {"rows": t["rows"], "estimated": t["estimated"]} for t in tables},
        "newest_filing": _newest_filing(conn),
        "load_lag": _load_lag(conn),
        "last_daily_index": workqueue.last_discovered_day(conn),
        "last_sync": _last_run(conn, "sync", successful=False),
        "last_successful_sync": _last_run(conn, "sync", successful=True),
        "queue": {
            **{s: queue.by_status.get(s, 0) for s in _QUEUE_STATES},
            "retry_due": queue.retry_due,
            "retry_scheduled": queue.retry_later,
            "next_retry_at": queue.next_retry,
            "given_up": queue.given_up,
            "failing_over_a_day": _failing_for(conn, FAILING_FOR),
        },
        "not_loaded": _not_loaded(conn),
        "unparsed_filings": int(conn.execute(
            "SELECT count(*) FROM filings WHERE NOT parsed AND parse_error IS NOT NULL"
            " AND NOT (parse_error = ANY(%s) AND filed_date < %s)",
            (sorted(NOTHING_TO_PARSE), XML_MANDATORY_FROM)).fetchone()[0]),
        "history_by_year": [
            {"year": y.year, "exact": y.exact, "dataset_only": y.dataset_only,
             "exact_differed_from_dataset": y.exact_differed}
            for y in status_by_year(conn)
        ],
        "errors": _errors(conn, error_days),
        "recent_errors": _recent_errors(conn),
    }
    report["check"] = check(report, max_age_hours)
    return report


def check(report: dict[str, Any], max_age_hours: float) -> dict[str, Any]:
    """What a monitor should alert on: the problems, and ``ok`` when there are none."""
    problems = []
    if not report["schema"]["current"]:
        problems.append(f"the schema is at {report['schema']['revision']}, not {report['schema']['head']}:"
                        " run `edgar-insider migrate`")
    last = report["last_successful_sync"]
    if last is None:
        problems.append("no successful sync recorded yet")
    else:
        age = (datetime.now(UTC) - last["finished_at"]).total_seconds() / 3600
        if age > max_age_hours:
            problems.append(
                f"the last successful sync finished {age:.1f} h ago (more than {max_age_hours:g} h)"
            )
    queue = report["queue"]
    if queue["given_up"]:
        problems.append(
            f"{queue['given_up']} filing(s) given up after {workqueue.RETRY_FOR.days} days of retries"
        )
    if queue["failing_over_a_day"]:
        problems.append(f"{queue['failing_over_a_day']} filing(s) failing or missing for more than a day")
    return {"max_age_hours": max_age_hours, "ok": not problems, "problems": problems}


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


def _load_lag(conn: psycopg.Connection) -> dict[str, Any]:
    """Acceptance to load, for the filings EDGAR accepted in the last LAG_WINDOW_HOURS."""
    count, median, worst = conn.execute(
        "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), max(lag) FROM ("
        " SELECT extract(epoch FROM ingested_at - accepted_at) AS lag FROM filings"
        " WHERE accepted_at > now() - make_interval(hours => %s)) AS recent",
        (LAG_WINDOW_HOURS,),
    ).fetchone()
    return {"window_hours": LAG_WINDOW_HOURS, "filings": int(count),
            "median_seconds": None if median is None else round(float(median), 1),
            "max_seconds": None if worst is None else round(float(worst), 1)}


def _last_run(conn: psycopg.Connection, command: str, *, successful: bool) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT started_at, finished_at, exit_code, first_day, last_day, processed, loaded, failed,"
        " missing, unparsed FROM run_log WHERE command = %s AND (NOT %s OR exit_code = 0)"
        " ORDER BY finished_at DESC, id DESC LIMIT 1", (command, successful),
    ).fetchone()
    keys = ("started_at", "finished_at", "exit_code", "first_day", "last_day", "processed", "loaded",
            "failed", "missing", "unparsed")
    return None if row is None else dict(zip(keys, row, strict=True))


def _failing_for(conn: psycopg.Connection, longer_than: timedelta) -> int:
    return int(conn.execute(
        "SELECT count(*) FROM fetch_queue WHERE status IN ('failed', 'missing')"
        " AND next_attempt_at IS NOT NULL AND first_failed_at < now() - %s", (longer_than,),
    ).fetchone()[0])


def _errors(conn: psycopg.Connection, days: int) -> dict[str, Any]:
    by_stage = dict(conn.execute(
        "SELECT stage, count(*) FROM ingest_errors WHERE occurred_at > now() - make_interval(days => %s)"
        " GROUP BY stage", (days,),
    ).fetchall())
    total = conn.execute("SELECT count(*) FROM ingest_errors").fetchone()[0]
    return {"days": days, "count": sum(by_stage.values()), "by_stage": by_stage, "total": int(total)}


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
    schema = status["schema"]
    lines = [
        f"database: {status['database']['url']} ({status['database']['size_bytes'] / 1e9:,.2f} GB)",
        f"schema revision: {schema['revision']} (head {schema['head']})",
        f"parser version: {status['parser_version']}",
        "rows:",
    ]
    for table, count in status["tables"].items():
        mark = "~" if count["estimated"] else " "
        lines.append(f"  {table:<30} {mark}{count['rows']:>12,}")
    lines.append(_newest_line(status["newest_filing"]))
    lag = status["load_lag"]
    if lag["filings"]:
        lines.append(f"load lag (acceptance to load, last {lag['window_hours']} h, {lag['filings']:,} "
                     f"filings): median {lag['median_seconds']:,.0f} s, worst {lag['max_seconds']:,.0f} s")
    lines.append(_sync_line(status["last_sync"], status["last_successful_sync"]))
    if status["unparsed_filings"]:
        lines.append(
            f"stored unparsed: {status['unparsed_filings']:,} filing(s) have parsed = false and a "
            "parse_error (their rows are incomplete; `reparse` redoes them after a parser fix)"
        )
    lines += _history_lines(status["history_by_year"])
    lines += _queue_lines(status)
    lines += _error_lines(status)
    check = status["check"]
    lines += [f"warning: {problem}" for problem in check["problems"]]
    return lines


def _history_lines(years: list[dict[str, Any]]) -> list[str]:
    """Per year: filings exact (from the filing) and those known only from a data set."""
    if not any(y["dataset_only"] or y["exact_differed_from_dataset"] for y in years):
        return []
    lines = ["filings per year (exact: from the filing; data set only: SEC's rounded rows, "
             "until the filing replaces them):"]
    for y in years:
        differed = y["exact_differed_from_dataset"]
        note = f" ({differed:,} exact ones differed from their data-set rows)" if differed else ""
        lines.append(f"  {y['year'] or '?'}: exact {y['exact']:,}, data set only {y['dataset_only']:,}{note}")
    return lines


def _sync_line(last: dict[str, Any] | None, good: dict[str, Any] | None) -> str:
    if last is None:
        return "last sync: none recorded"
    text = f"last sync: finished {_when(last['finished_at'])}, exit {last['exit_code']}"
    if good is not None and good is not last and good["finished_at"] != last["finished_at"]:
        text += f"; last successful: {_when(good['finished_at'])}"
    return text


def _newest_line(newest: dict[str, Any] | None) -> str:
    if newest is None:
        return "newest filing: none yet"
    when = newest["accepted_at"].isoformat() if newest["accepted_at"] else str(newest["filed_date"] or "?")
    text = f"newest filing: {newest['accession_number']} form {newest['form_type'] or '?'} "
    return f"{text}{newest['issuer_name'] or ''} ({when})".replace("  (", " (")


def _queue_lines(status: dict[str, Any]) -> list[str]:
    queue = status["queue"]
    by_status = {state: queue[state] for state in _QUEUE_STATES}
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
    lines = [f"recent errors ({status['errors']['total']:,} in all):"]
    for error in errors:
        what = error["accession_number"] or error["source_name"] or "?"
        lines.append(f"  {error['occurred_at']:%Y-%m-%d %H:%M:%S} [{error['stage']}] {what}: "
                     f"{_one_line(error['message'])}")
    return lines


def to_json(status: dict[str, Any]) -> str:
    """The document, dates and times in ISO 8601 (times with their UTC offset)."""
    return json.dumps(status, indent=2, default=_iso)


def _iso(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _when(moment: datetime) -> str:
    return moment.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M %Z")


def _one_line(text: str | None, limit: int = 160) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
