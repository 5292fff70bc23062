"""The fetch work queue (table ``fetch_queue``) and the log of discovered index sources.

Every discovered ownership filing is written here *before* it is fetched; its status
moves pending -> done | failed | missing in the same transaction that loads it (or
records why not). A run killed at any moment leaves rows pending, and the next run
picks them up: nothing fetched twice that is loaded, nothing lost.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import psycopg

from .discover import IndexEntry

log = logging.getLogger(__name__)

# A filing whose fetch failed is tried again by later runs, up to this many attempts
# in all; after that it stays 'failed' (listed by `status`, retried by --retry-failed).
MAX_ATTEMPTS = 3

# pg_try_advisory_lock key: one sync/backfill per database ("EDGARINS" as bytes).
ADVISORY_LOCK_KEY = 0x4544474152494E53


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

    ``sync`` also takes every pending row a previous sync left behind (killed runs);
    a backfill takes only its own date range or its own accessions, so a nightly sync
    never inherits a week-long backfill.
    """

    first_day: date | None = None
    last_day: date | None = None
    include_sync_leftovers: bool = False
    accessions: tuple[str, ...] | None = None
    max_attempts: int = MAX_ATTEMPTS


def try_lock(conn: psycopg.Connection) -> bool:
    """Take the per-database run lock on this (session) connection; False if held."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()
    return bool(row and row[0])


# What a queued filing may be: an ASCII accession number, fetched from one filer's folder of
# EDGAR's archive under that accession's own name (dashed, or the 18 digits of old indexes).
# Index rows and submissions JSON are remote input: a path with "../" or "%2e%2e" in it would
# make the fetcher ask for another URL and file what it got under this accession.
_ACCESSION = re.compile(r"[0-9]{10}-[0-9]{2}-[0-9]{6}")
_ARCHIVE_PATH = re.compile(
    r"/Archives/edgar/data/[0-9]{1,10}/(?:[0-9]{18}/)?([0-9]{10}-[0-9]{2}-[0-9]{6}|[0-9]{18})\.txt"
)


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
    (status = 'pending' OR (status = 'failed' AND attempts < %(max_attempts)s))
    AND (
        (%(first_day)s::date IS NOT NULL AND filed_date BETWEEN %(first_day)s AND %(last_day)s)
        OR (%(sync)s AND origin = 'sync')
        OR (%(accessions)s::text[] IS NOT NULL AND accession_number = ANY(%(accessions)s))
    )
"""


def _scope_params(scope: Scope) -> dict[str, object]:
    return {
        "max_attempts": scope.max_attempts,
        "first_day": scope.first_day,
        "last_day": scope.last_day or scope.first_day,
        "sync": scope.include_sync_leftovers,
        "accessions": list(scope.accessions) if scope.accessions is not None else None,
    }


def count_pending(conn: psycopg.Connection, scope: Scope) -> int:
    row = conn.execute(f"SELECT count(*) FROM fetch_queue WHERE {_SCOPE_SQL}", _scope_params(scope))
    return int(row.fetchone()[0])


def iter_pending(conn: psycopg.Connection, scope: Scope, page_size: int = 2000) -> Iterator[QueueItem]:
    """Pending work in accession order, a page at a time (flat memory for millions)."""
    params = _scope_params(scope)
    after = ""
    while True:
        params["after"] = after
        rows = conn.execute(
            "SELECT accession_number, path, form_type, filed_date, attempts FROM fetch_queue"
            f" WHERE {_SCOPE_SQL} AND accession_number > %(after)s"
            " ORDER BY accession_number LIMIT %(limit)s",
            {**params, "limit": page_size},
        ).fetchall()
        conn.commit()  # don't hold a snapshot open between pages
        if not rows:
            return
        for row in rows:
            yield QueueItem(*row)
        after = rows[-1][0]


def mark(
    conn: psycopg.Connection,
    outcomes: Iterable[tuple[str, str, str | None]],
) -> None:
    """Set (accession, status, error) for each outcome; attempts count every try."""
    rows = list(outcomes)
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE fetch_queue SET status = %s, last_error = %s, attempts = attempts + 1,"
            " updated_at = now() WHERE accession_number = %s",
            [(status, error, accession) for accession, status, error in rows],
        )


def loaded_accessions(conn: psycopg.Connection, accessions: list[str]) -> set[str]:
    """Which of these accessions are already in ``filings`` (no need to fetch them). A filing
    known only from SEC's data sets (source_kind 'dataset') still needs fetching: its filing
    replaces those rows."""
    if not accessions:
        return set()
    rows = conn.execute(
        "SELECT accession_number FROM filings WHERE accession_number = ANY(%s)"
        " AND source_kind <> 'dataset'", (accessions,)
    ).fetchall()
    return {row[0] for row in rows}


def status_counts(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) FROM fetch_queue GROUP BY status").fetchall()
    return {status: int(count) for status, count in rows}
