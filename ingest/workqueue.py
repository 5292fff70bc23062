"""The fetch work queue (table ``fetch_queue``) and the log of discovered index sources.

Every discovered ownership filing is written here *before* it is fetched. Its status moves
pending -> done | failed | missing in the same transaction that loads it (or records why
not: ``ingest.pipeline`` calls :func:`mark` inside the loader's batch transaction). A run
killed at any moment leaves rows pending, and the next run picks them up: nothing fetched
twice that is loaded, nothing lost.

Retries. EDGAR lists filings before it serves their documents, and outages happen, so a
filing that failed or was missing is tried again by later runs, on a backoff: the wait
before the next try is as long as the failure has lasted, between 1 hour and 1 day
(1 h, 1 h, 2 h, 4 h, 8 h, 16 h, then daily), for :data:`RETRY_FOR` (14 days) after its first
failure. After that it is *given up*: ``status`` lists it, and an explicit run over its day
(``sync --date D``, ``backfill --from D --to D``) tries it again whatever its schedule.

Claims. A run takes the rows it is about to fetch (``claimed_by``/``claimed_until``, renewed
with its lock's lease): ``watch`` and ``sync`` running at once never fetch the same filing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from .discover import IndexEntry
from .records import ACCESSION, ACCESSION_PLAIN

log = logging.getLogger(__name__)

RETRY_FOR = timedelta(days=14)
RETRY_MIN = timedelta(hours=1)
RETRY_MAX = timedelta(days=1)

PENDING, DONE, FAILED, MISSING = "pending", "done", "failed", "missing"


@dataclass(frozen=True, slots=True)
class QueueItem:
    accession_number: str
    path: str
    form_type: str
    filed_date: date
    attempts: int


@dataclass(frozen=True, slots=True)
class Scope:
    """Which queued filings a run works on.

    ``first_day``..``last_day`` and ``accessions`` are explicit: every filing there not yet
    done, whatever its retry schedule (given-up ones included). ``leftovers_of`` adds what a
    recurring run owes: the filings an earlier run of that origin (``sync``, ``watch``) queued
    and did not finish, and every failed or missing filing whose retry is due, whichever run
    queued it. A backfill's own pending range stays the backfill's: a nightly sync never
    inherits a week-long backfill.
    """

    first_day: date | None = None
    last_day: date | None = None
    leftovers_of: str | None = None
    accessions: tuple[str, ...] | None = None
    newest_first: bool = False  # by filed date, newest first (else by accession)
    dataset_only: bool = False  # only filings stored so far from a data set (to make them exact)


# What a queued filing may be: an ASCII accession number, fetched from one filer's folder of
# EDGAR's archive under that accession's own name (dashed, or the 18 digits of old indexes).
# Index rows and submissions JSON are remote input: a path with "../" or "%2e%2e" in it would
# make the fetcher ask for another URL and file what it got under this accession.
_ACCESSION = re.compile(ACCESSION)
_ARCHIVE_PATH = re.compile(
    rf"/Archives/edgar/data/[0-9]{{1,10}}/(?:[0-9]{{18}}/)?({ACCESSION}|{ACCESSION_PLAIN})\.txt"
)


def archive_path(cik: int, accession: str) -> str:
    """Where EDGAR serves a filing's full submission under one of its filers."""
    return f"/Archives/edgar/data/{cik}/{accession}.txt"


def is_safe_entry(entry: IndexEntry) -> bool:
    """True when the accession is well-formed and the path is that accession's archive file."""
    if not _ACCESSION.fullmatch(entry.accession_number):
        return False
    match = _ARCHIVE_PATH.fullmatch(entry.path)
    return match is not None and match.group(1).replace("-", "") == entry.accession_number.replace("-", "")


def enqueue(conn: psycopg.Connection, entries: Iterable[IndexEntry], origin: str) -> int:
    """Queue filings not queued yet; returns how many were new.

    An entry whose accession or path is not well-formed (see ``is_safe_entry``) is never
    queued, so never fetched: it is logged as a warning instead.
    """
    rows = []
    for e in entries:
        if not is_safe_entry(e):
            log.warning("not queued: accession %r with archive path %r is not well-formed",
                        e.accession_number, e.path)
            continue
        rows.append((e.accession_number, e.path, e.form_type, e.cik, e.company_name, e.filed_date, origin))
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS queue_incoming (LIKE fetch_queue INCLUDING DEFAULTS)"
            " ON COMMIT DELETE ROWS"
        )
        with cur.copy(
            "COPY queue_incoming (accession_number, path, form_type, cik, company_name,"
            " filed_date, origin) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            "INSERT INTO fetch_queue (accession_number, path, form_type, cik, company_name,"
            " filed_date, origin)"
            " SELECT DISTINCT ON (accession_number) accession_number, path, form_type, cik,"
            " company_name, filed_date, origin FROM queue_incoming"
            " ORDER BY accession_number"
            " ON CONFLICT (accession_number) DO NOTHING"
        )
        inserted = cur.rowcount
        cur.execute("DELETE FROM queue_incoming")
    return inserted


def enqueue_dataset_only(conn: psycopg.Connection, first: date | None, last: date | None) -> int:
    """Queue every filing of ``first``..``last`` (filed dates; None: open) stored so far only
    from a quarterly data set, under its issuer's archive folder; returns how many were new.
    Set-based: all of history is millions of rows."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO fetch_queue (accession_number, path, form_type, cik, company_name,"
            " filed_date, origin)"
            " SELECT accession_number, '/Archives/edgar/data/' || issuer_cik || '/'"
            "        || accession_number || '.txt', coalesce(document_type, form_type, '4'),"
            "        issuer_cik, issuer_name, filed_date, 'backfill'"
            " FROM filings WHERE source_kind = 'dataset' AND issuer_cik IS NOT NULL"
            " AND filed_date BETWEEN coalesce(%s, '-infinity'::date) AND coalesce(%s, 'infinity'::date)"
            " ON CONFLICT (accession_number) DO NOTHING",
            (first, last),
        )
        return cur.rowcount


def record_source(
    conn: psycopg.Connection,
    source: str,
    kind: str,
    *,
    day: date | None,
    found: bool,
    ownership_filings: int,
) -> None:
    conn.execute(
        "INSERT INTO discovered_sources (source, kind, day, found, ownership_filings)"
        " VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (source) DO UPDATE SET found = EXCLUDED.found,"
        " ownership_filings = EXCLUDED.ownership_filings, completed_at = now()",
        (source, kind, day, found, ownership_filings),
    )


def last_discovered_day(conn: psycopg.Connection) -> date | None:
    row = conn.execute("SELECT max(day) FROM discovered_sources WHERE kind = 'daily' AND found").fetchone()
    return row[0] if row else None


_SCOPE_SQL = """
    status <> 'done'
    AND (NOT %(dataset_only)s OR EXISTS (
        SELECT 1 FROM filings f
        WHERE f.accession_number = fetch_queue.accession_number AND f.source_kind = 'dataset'))
    AND (
        (%(first_day)s::date IS NOT NULL AND filed_date BETWEEN %(first_day)s AND %(last_day)s)
        OR (%(accessions)s::text[] IS NOT NULL AND accession_number = ANY(%(accessions)s))
        OR (status = 'pending' AND origin = %(leftovers_of)s)
        OR (%(leftovers_of)s::text IS NOT NULL AND status IN ('failed', 'missing')
            AND next_attempt_at <= now())
    )
"""


def _scope_params(scope: Scope) -> dict[str, object]:
    return {
        "first_day": scope.first_day,
        "last_day": scope.last_day or scope.first_day,
        "leftovers_of": scope.leftovers_of,
        "accessions": list(scope.accessions) if scope.accessions is not None else None,
        "dataset_only": scope.dataset_only,
    }


def count_pending(conn: psycopg.Connection, scope: Scope) -> int:
    row = conn.execute(f"SELECT count(*) FROM fetch_queue WHERE {_SCOPE_SQL}", _scope_params(scope))
    return int(row.fetchone()[0])


def iter_pending(conn: psycopg.Connection, scope: Scope, page_size: int = 2000) -> Iterator[QueueItem]:
    """Work in scope, a page at a time (flat memory for millions): by accession, or newest
    first by filed date when the scope asks (keyset paging either way)."""
    params = _scope_params(scope)
    if scope.newest_first:
        order = "filed_date DESC, accession_number DESC"
        after = "(filed_date, accession_number) < (%(day)s, %(after)s)"
        params.update(day=date.max, after="~")
    else:
        order, after = "accession_number", "accession_number > %(after)s"
        params.update(after="")
    while True:
        rows = conn.execute(
            "SELECT accession_number, path, form_type, filed_date, attempts FROM fetch_queue"
            f" WHERE {_SCOPE_SQL} AND {after} ORDER BY {order} LIMIT %(limit)s",
            {**params, "limit": page_size},
        ).fetchall()
        if not rows:
            return
        for row in rows:
            yield QueueItem(*row)
        params.update(after=rows[-1][0], day=rows[-1][3])


def claim(conn: psycopg.Connection, accessions: Sequence[str], holder: str) -> set[str]:
    """Take these filings for this run until its lease ends; returns those it got.

    Not taken: done ones, and those another run holds: its claim not expired and its lease
    still in ``run_locks`` (a run that was killed, or replaced, holds nothing)."""
    rows = conn.execute(
        "UPDATE fetch_queue q SET claimed_by = %(holder)s, claimed_until = l.expires_at"
        " FROM run_locks l WHERE l.holder = %(holder)s"
        " AND q.accession_number = ANY(%(accs)s) AND q.status <> 'done'"
        " AND (q.claimed_by IS NULL OR q.claimed_by = %(holder)s OR q.claimed_until < now()"
        "      OR NOT EXISTS (SELECT 1 FROM run_locks o WHERE o.holder = q.claimed_by))"
        " RETURNING q.accession_number",
        {"holder": holder, "accs": list(accessions)},
    ).fetchall()
    return {row[0] for row in rows}


# The retry schedule of a filing that failed or was missing, as SQL over ``q`` (the queue row
# before this attempt) and ``v.status`` (this attempt's result): see the module docstring.
_FIRST_FAILED = "coalesce(q.first_failed_at, now())"
_NEXT_ATTEMPT = (
    f"CASE WHEN now() >= {_FIRST_FAILED} + %(retry_for)s THEN NULL"
    f" ELSE now() + least(greatest(now() - {_FIRST_FAILED}, %(retry_min)s), %(retry_max)s) END"
)
_MARK = f"""
UPDATE fetch_queue q SET
    status = v.status,
    last_error = v.error,
    attempts = q.attempts + 1,
    updated_at = now(),
    first_failed_at = CASE WHEN v.status IN ('failed', 'missing') THEN {_FIRST_FAILED} END,
    next_attempt_at = CASE WHEN v.status IN ('failed', 'missing') THEN {_NEXT_ATTEMPT} END,
    claimed_by = NULL,
    claimed_until = NULL
FROM unnest(%(accs)s::text[], %(statuses)s::text[], %(errors)s::text[]) AS v(accession, status, error)
WHERE q.accession_number = v.accession
"""


def mark(conn: psycopg.Connection | psycopg.Cursor, outcomes: Iterable[tuple[str, str, str | None]]) -> None:
    """Set (accession, status, error) for each outcome, in the caller's transaction;
    attempts count every try, and a failure schedules its retry."""
    rows = list(outcomes)
    if not rows:
        return
    accs, statuses, errors = (list(col) for col in zip(*rows, strict=True))
    conn.execute(_MARK, {
        "accs": accs, "statuses": statuses, "errors": errors,
        "retry_for": RETRY_FOR, "retry_min": RETRY_MIN, "retry_max": RETRY_MAX,
    })


def loaded_accessions(conn: psycopg.Connection, accessions: list[str]) -> set[str]:
    """Which of these accessions are already stored from the filing itself (no need to fetch
    them). A filing known only from a quarterly data set is fetched: its own bytes make it exact."""
    if not accessions:
        return set()
    rows = conn.execute(
        "SELECT accession_number FROM filings WHERE accession_number = ANY(%s)"
        " AND source_kind <> 'dataset'", (accessions,)
    ).fetchall()
    return {row[0] for row in rows}


def known_accessions(conn: psycopg.Connection, accessions: list[str]) -> set[str]:
    """Which of these accessions this database already has: queued, or stored from the filing
    (the latest-filings feed need not queue them again)."""
    if not accessions:
        return set()
    queued = conn.execute(
        "SELECT accession_number FROM fetch_queue WHERE accession_number = ANY(%s)", (accessions,)
    ).fetchall()
    return {row[0] for row in queued} | loaded_accessions(conn, accessions)


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """What the queue holds and what the next runs will do with it (for ``status``)."""

    by_status: dict[str, int]
    retry_due: int  # failed/missing whose retry is due: the next run takes them
    retry_later: int  # failed/missing waiting for their retry time
    next_retry: object  # datetime of the earliest scheduled retry, or None
    given_up: int  # failed/missing past RETRY_FOR: only an explicit run over their day


def summarize(conn: psycopg.Connection) -> QueueSummary:
    by_status = dict(conn.execute("SELECT status, count(*) FROM fetch_queue GROUP BY status").fetchall())
    due, later, next_retry, given_up = conn.execute(
        "SELECT count(*) FILTER (WHERE next_attempt_at <= now()),"
        " count(*) FILTER (WHERE next_attempt_at > now()),"
        " min(next_attempt_at) FILTER (WHERE next_attempt_at > now()),"
        " count(*) FILTER (WHERE next_attempt_at IS NULL)"
        " FROM fetch_queue WHERE status IN ('failed', 'missing')"
    ).fetchone()
    return QueueSummary({k: int(v) for k, v in by_status.items()}, int(due), int(later), next_retry,
                        int(given_up))
