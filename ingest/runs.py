"""What each command does, as library functions over the one pipeline.

The CLI (``ingest/cli.py``) parses options and calls one of these; each returns what it did
(a :class:`~ingest.pipeline.RunReport`, or the days :func:`verify_days` checked) or raises an
``ingest.errors.Stop``. Which source and step each command feeds the one loop with:
docs/architecture.md, "The one run loop".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import psycopg

from . import db, workqueue
from .dataset_load import QuarterReport, load_quarter, loaded_quarters
from .datasets import DatasetError, dataset_path
from .datasets import quarter_bounds as dataset_quarter_bounds
from .datasets import quarters_between as dataset_quarters
from .discover import (
    IndexEntry,
    IndexFormatError,
    discover_cik,
    discover_day,
    discover_quarter,
    filter_ownership,
    quarter_bounds,
    quarters_between,
)
from .discover import days_between as days_between
from .errors import ExitCode, RunStopped, as_stop, exit_code_for
from .feed import FeedPoller
from .fetch import EdgarClient, FetchFailed, Unavailable
from .pipeline import (
    FileSource,
    Pipeline,
    PollReport,
    QueueSource,
    RunReport,
    StoredSource,
    WatchSource,
    fetch_step,
)
from .runlock import RunLock
from .sgml import EASTERN
from .worker import read_file, reparse_stored

log = logging.getLogger(__name__)

FETCH_WORKERS = 4
FETCH_BATCH_SIZE = 200
# A data-set quarter loads in one transaction of up to a minute, during which the lease is
# not renewed: the data-set backfill takes a longer lease (it fetches one zip per quarter).
DATASET_LEASE_SECONDS = 900.0


def yesterday_eastern(now: datetime | None = None) -> date:
    """EDGAR's days are US Eastern days; a day's index is built from about 10 pm ET."""
    current = (now or datetime.now(tz=EASTERN)).astimezone(EASTERN)
    return current.date() - timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# sync and backfill: a run holding the database's sync lock
# ---------------------------------------------------------------------------------------------


class Run:
    """One sync or backfill: its working connection (which holds the run lock), the EDGAR
    client, the pipeline and the report. A context manager."""

    def __init__(
        self,
        database_url: str,
        client: EdgarClient,
        *,
        workers: int = FETCH_WORKERS,
        batch_size: int = FETCH_BATCH_SIZE,
        progress_stream: TextIO | None = None,
        interactive: bool | None = None,
        command: str = "sync",
        lease_seconds: float | None = None,
    ) -> None:
        self.database_url = database_url
        self.client = client
        self.workers = max(1, workers)
        self.batch_size = max(1, batch_size)
        self.progress_stream = progress_stream
        self.interactive = interactive
        self.command = command
        self.lease_seconds = lease_seconds
        self.report = RunReport()
        self._conn: psycopg.Connection | None = None
        self._lock: RunLock | None = None
        self._started = time.monotonic()
        self._started_at = datetime.now().astimezone()
        self._days: tuple[date | None, date | None] = (None, None)
        self._requests_at_start = client.stats.requests

    def __enter__(self) -> Run:
        self._conn = db.connect(self.database_url, autocommit=True)
        try:
            lease = {} if self.lease_seconds is None else {"lease_seconds": self.lease_seconds}
            self._lock = RunLock(self._conn, "sync", self.command, **lease)
            self._lock.acquire()
        except BaseException:
            self._conn.close()
            raise
        self.pipeline = Pipeline(
            self._conn, self.report, batch_size=self.batch_size, lock=self._lock,
            progress_stream=self.progress_stream, interactive=self.interactive,
            requests=lambda: self.client.stats.requests,
        )
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.finish()
        if self._conn is not None:
            record_run(self._conn, self.command, self._started_at, self.report, _exit_code(exc),
                       *self._days)
        if self._lock is not None:
            self._lock.release()
        if self._conn is not None and not self._conn.closed:
            self._conn.close()

    def finish(self) -> RunReport:
        """Time and requests so far, into the report (every request: indexes included)."""
        self.report.seconds = time.monotonic() - self._started
        self.report.requests = self.client.stats.requests - self._requests_at_start
        return self.report

    @property
    def conn(self) -> psycopg.Connection:
        assert self._conn is not None, "use Run as a context manager"
        return self._conn

    # -- discovery ------------------------------------------------------------------------

    def default_sync_days(self, yesterday: date | None = None) -> list[date]:
        """From the day after the last daily index read through yesterday (ET)."""
        last = yesterday or yesterday_eastern()
        previous = workqueue.last_discovered_day(self.conn)
        first = previous + timedelta(days=1) if previous else last
        return days_between(first, last) if first <= last else []

    def discover_days(self, days: Iterable[date]) -> None:
        for day in days:
            self._lock_check()
            entries = self._index(f"daily index {day}", lambda d=day: discover_day(
                self.client, d, not_found=Unavailable))
            if entries is False:
                continue
            found = entries is not None
            ownership = filter_ownership(entries or [])
            with self.conn.transaction():
                self.report.newly_queued += workqueue.enqueue(self.conn, ownership, "sync")
                workqueue.record_source(
                    self.conn, f"daily:{day.isoformat()}", "daily",
                    day=day, found=found, ownership_filings=len(ownership),
                )
            self.report.index_sources += int(found)
            self.report.days_without_index += int(not found)
            log.info("daily index %s: %s", day, f"{len(ownership)} ownership filings" if found else "none")

    def _index(self, what: str, read: Any) -> list[IndexEntry] | None | bool:
        """An index's entries (None: EDGAR has none), or False when it could not be read: the
        error is recorded and counted (exit 1), the other days go on; the day is read again
        by the next run."""
        try:
            return read()
        except (FetchFailed, IndexFormatError) as exc:
            message = f"{what}: {exc}"
            log.error("%s", message)
            self.conn.execute(
                "INSERT INTO ingest_errors (source_name, stage, message) VALUES (%s, 'discover', %s)",
                (what, message),
            )
            self.report.source_failures += 1
            self.report.failures.append((what, str(exc)))
            return False

    def _lock_check(self) -> None:
        assert self._lock is not None
        self._lock.renew_if_due()
        self._lock.check()

    def _enqueue_source(self, entries: list[IndexEntry], origin: str, source: str, kind: str) -> None:
        with self.conn.transaction():
            self.report.newly_queued += workqueue.enqueue(self.conn, entries, origin)
            workqueue.record_source(
                self.conn, source, kind, day=None, found=True, ownership_filings=len(entries)
            )
        self.report.index_sources += 1

    # -- commands -------------------------------------------------------------------------

    def sync(self, days: Sequence[date]) -> RunReport:
        """The nightly job: discover these days, then fetch them and whatever is owed."""
        self._days = (min(days), max(days)) if days else (None, None)
        self.discover_days(days)
        scope = workqueue.Scope(
            first_day=min(days) if days else None, last_day=max(days) if days else None,
            leftovers_of="sync",
        )
        return self.process(scope, "sync")

    def backfill_dates(self, first: date, last: date) -> RunReport:
        self._days = (first, last)
        for year, quarter in quarters_between(first, last):
            self._lock_check()
            entries = self._index(f"full index {year}Q{quarter}", lambda y=year, q=quarter: (
                discover_quarter(self.client, y, q, not_found=Unavailable)))
            if entries is not False:
                ownership = [e for e in filter_ownership(entries or []) if first <= e.filed_date <= last]
                self._enqueue_source(ownership, "backfill", f"full:{year}Q{quarter}", "full")
            quarter_first, quarter_last = _clip_quarter(year, quarter, first, last)
            self.process(workqueue.Scope(first_day=quarter_first, last_day=quarter_last),
                         f"backfill {year}Q{quarter}")
        return self.finish()

    def backfill_cik(self, cik: int) -> RunReport:
        entries = self._index(f"submissions of CIK {cik}", lambda: discover_cik(
            self.client, cik, not_found=Unavailable))
        if entries is False:
            return self.finish()
        ownership = filter_ownership(entries or [])
        self._enqueue_source(ownership, "backfill", f"cik:{cik}", "cik")
        accessions = tuple(e.accession_number for e in ownership)
        return self.process(workqueue.Scope(accessions=accessions), f"backfill CIK {cik}")

    def backfill_datasets(self, first: str, last: str, *, refresh: bool = False) -> RunReport:
        """History from SEC's quarterly data sets: one request per quarter, each a resumable
        unit (``ingest/dataset_load.py``). A quarter loaded before is not fetched again unless
        ``refresh``; one that cannot be fetched or read is recorded and the others go on."""
        self._days = (dataset_quarter_bounds(first)[0], dataset_quarter_bounds(last)[1])
        done = loaded_quarters(self.conn)
        for quarter in dataset_quarters(first, last):
            self._lock_check()
            if quarter in done and not refresh:
                log.info("data set %s: loaded before, not fetched again", quarter)
                continue
            data = self._index(f"data set {quarter}", lambda q=quarter: self._fetch_quarter(q))
            if data is False:
                continue
            if data is None:
                log.info("data set %s: not published (yet)", quarter)
                self.report.days_without_index += 1
                continue
            try:
                loaded = load_quarter(self.conn, data, quarter=quarter)
            except DatasetError as exc:  # recorded in ingest_errors by load_quarter
                self.report.source_failures += 1
                self.report.failures.append((quarter, str(exc)))
                continue
            _add_quarter(self.report, loaded)
            how = ("mapped by the server" if loaded.read_by == "server" else
                   f"read in Python: {loaded.not_on_server}" if loaded.not_on_server else "")
            log.info("data set %s: %s filings, %s rows in %.1f s%s", quarter,
                     f"{loaded.filings:,}", f"{loaded.rows:,}", loaded.seconds,
                     f" ({how})" if how else "")
        return self.finish()

    def _fetch_quarter(self, quarter: str) -> bytes | None:
        try:
            return self.client.get(dataset_path(quarter))
        except Unavailable:
            return None

    def fetch_dataset_only(self, first: date, last: date) -> RunReport:
        """Fetch the filings of ``first``..``last`` stored so far only from a data set, newest
        first: their own bytes replace the data set's rounded rows (history made exact)."""
        with self.conn.transaction():
            self.report.newly_queued += workqueue.enqueue_dataset_only(self.conn, first, last)
        scope = workqueue.Scope(first_day=first, last_day=last, newest_first=True, dataset_only=True)
        return self.process(scope, "exact from the filings")

    def process(self, scope: workqueue.Scope, label: str) -> RunReport:
        assert self._lock is not None
        source = QueueSource(self.conn, scope, self._lock, label)
        self.pipeline.run(source, fetch_step(self.client, self._lock), pool="threads",
                          workers=self.workers)
        return self.finish()


def _add_quarter(report: RunReport, quarter: QuarterReport) -> None:
    report.index_sources += 1
    report.to_process += quarter.filings
    report.loaded += quarter.loaded
    report.replaced += quarter.replaced
    report.unchanged += quarter.unchanged + quarter.kept_filing
    report.failed += quarter.failed


def _clip_quarter(year: int, quarter: int, first: date, last: date) -> tuple[date, date]:
    start, end = quarter_bounds(year, quarter)
    return max(start, first), min(end, last)


# ---------------------------------------------------------------------------------------------
# watch: the latest-filings feed, for months
# ---------------------------------------------------------------------------------------------

# How long watch waits after an outage (database, EDGAR, a lost lease) before trying again:
# doubling from the first to the last, reset once a session has run for a while.
WATCH_BACKOFF = (5.0, 300.0)
_WATCH_SETTLED = 300.0  # a session that ran this long resets the backoff


class Watch:
    """``edgar-insider watch``: poll the feed every ``interval`` seconds, queue, fetch and load
    through the same loop as sync, until ``stop`` is set (SIGTERM/SIGINT). Outages (the
    database restarting, EDGAR unreachable, the lease lost with its session) are waited out
    with backoff and the watch goes on; only a second watch (RunLocked) or a configuration
    error ends it."""

    def __init__(self, database_url: str, client: EdgarClient, poll_client: EdgarClient, *,
                 interval: float, workers: int, batch_size: int, stop: Any, say: Any) -> None:
        self.database_url, self.client = database_url, client
        self.interval, self.workers, self.batch_size = interval, workers, batch_size
        self.stop, self.say = stop, say
        self._conn: psycopg.Connection | None = None
        # One poller for the life of the watch: its floors survive a reconnect.
        self.poller = FeedPoller(poll_client, known=self._known)

    def _known(self, accessions: Sequence[str]) -> set[str]:
        assert self._conn is not None
        return workqueue.known_accessions(self._conn, list(accessions))

    def run(self) -> None:
        delay = WATCH_BACKOFF[0]
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self._session()
            except Exception as exc:  # noqa: BLE001 - outages are waited out, the rest raised
                stop = as_stop(exc)
                if not isinstance(stop, RunStopped):
                    raise
                if time.monotonic() - started > _WATCH_SETTLED:
                    delay = WATCH_BACKOFF[0]
                self.say(f"waiting {delay:.0f} s, then going on: {stop}")
                self.stop.wait(delay)
                delay = min(delay * 2, WATCH_BACKOFF[1])

    def _session(self) -> None:
        report = RunReport()
        started_at = datetime.now().astimezone()
        with db.connect(self.database_url, autocommit=True) as conn:
            self._conn = conn
            with RunLock(conn, "watch", "watch") as lock:
                pipeline = Pipeline(conn, report, batch_size=self.batch_size, lock=lock,
                                    progress=False, stop=self.stop,
                                    requests=lambda: self.client.stats.requests)

                def on_poll(poll: PollReport) -> None:
                    self.say(poll)
                    report.failures.clear()  # said with the poll: memory stays flat for months
                    report.unparsed_filings.clear()

                source = WatchSource(conn, lock, self.poller, self.interval, self.stop, on_poll)
                try:
                    pipeline.run(source, fetch_step(self.client, lock), pool="threads",
                                 workers=self.workers)
                finally:
                    record_run(conn, "watch", started_at, report, None)


# ---------------------------------------------------------------------------------------------
# ingest and reparse: local work, parsed in processes
# ---------------------------------------------------------------------------------------------


def ingest_files(
    database_url: str, paths: Sequence[Path], accession: str | None, *,
    workers: int | None, batch_size: int, progress_stream: TextIO | None = None,
) -> RunReport:
    """Load local files and folders (``edgar-insider ingest``)."""
    return _local_run("ingest", database_url, lambda conn: FileSource(paths, accession), read_file,
                      workers=workers, batch_size=batch_size, progress_stream=progress_stream)


def reparse_filings(
    database_url: str, everything: bool, *,
    workers: int | None, batch_size: int, progress_stream: TextIO | None = None,
) -> RunReport:
    """Rebuild filings from their stored raw bytes (``edgar-insider reparse``): those stored by
    another parser version, or every one."""
    return _local_run("reparse", database_url, lambda conn: StoredSource(conn, everything, batch_size),
                      reparse_stored, workers=workers, batch_size=batch_size,
                      progress_stream=progress_stream, force=everything)


def _local_run(command: str, database_url: str, make_source: Any, step: Any, *,
               workers: int | None, batch_size: int, progress_stream: TextIO | None,
               force: bool = False) -> RunReport:
    report = RunReport()
    started, started_at = time.monotonic(), datetime.now().astimezone()
    with db.connect(database_url, autocommit=True) as conn:
        pipeline = Pipeline(conn, report, batch_size=batch_size, progress_stream=progress_stream)
        try:
            pipeline.run(make_source(conn), step, pool="processes", workers=workers, force=force)
        except BaseException as exc:
            report.seconds = time.monotonic() - started
            record_run(conn, command, started_at, report, _exit_code(exc))
            raise
        report.seconds = time.monotonic() - started
        record_run(conn, command, started_at, report, exit_code_for(report))
    return report


def _exit_code(exc: BaseException | None) -> ExitCode | None:
    if exc is None:
        return None
    stop = as_stop(exc) if isinstance(exc, Exception) else None
    return stop.exit_code if stop is not None else ExitCode.INCOMPLETE


def record_run(conn: psycopg.Connection, command: str, started_at: datetime, report: RunReport,
               exit_code: ExitCode | None, first_day: date | None = None,
               last_day: date | None = None) -> None:
    """One ``run_log`` row for a finished run (best effort: a run whose database went away
    cannot say so there, and its exit code says it already)."""
    code = exit_code_for(report) if exit_code is None else exit_code
    if conn.closed or conn.broken:
        return
    try:
        conn.execute(
            "INSERT INTO run_log (command, started_at, exit_code, first_day, last_day, processed,"
            " loaded, failed, missing, unparsed, requests, summary)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (command, started_at, int(code), first_day, last_day, report.to_process,
             report.loaded + report.replaced, report.failed, report.missing, report.unparsed,
             report.requests, report.summary()),
        )
    except psycopg.Error as exc:
        log.warning("could not record the run in run_log: %s", exc)


def filings_at_parser_version(database_url: str, version: int) -> int:
    with db.connect(database_url, autocommit=True) as conn:
        return int(conn.execute(
            "SELECT count(*) FROM filings WHERE parser_version = %s", (version,)).fetchone()[0])


# ---------------------------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayCheck:
    """One day of EDGAR's daily index compared with the database."""

    day: date
    has_index: bool
    listed: int
    missing: list[tuple[str, str, str]]  # (accession, form type, queue status)
    extra: list[str]


def verify_days(database_url: str, client: EdgarClient, days: Iterable[date]) -> list[DayCheck]:
    with db.connect(database_url, autocommit=True) as conn:
        return [_verify_day(conn, client, day) for day in days]


def _verify_day(conn: psycopg.Connection, client: EdgarClient, day: date) -> DayCheck:
    entries = discover_day(client, day, not_found=Unavailable)
    if entries is None:
        return DayCheck(day, False, 0, [], [])
    listed = {e.accession_number: e for e in filter_ownership(entries)}
    stored = dict(conn.execute(
        "SELECT accession_number, filed_date FROM filings"
        " WHERE accession_number = ANY(%s) OR filed_date = %s",
        (list(listed), day),
    ).fetchall())
    queue_status = dict(conn.execute(
        "SELECT accession_number, status FROM fetch_queue WHERE accession_number = ANY(%s)",
        (list(listed),),
    ).fetchall())
    missing = [
        (acc, listed[acc].form_type, queue_status.get(acc, "not queued"))
        for acc in sorted(set(listed) - set(stored))
    ]
    extra = sorted(acc for acc, filed in stored.items() if acc not in listed and filed == day)
    return DayCheck(day, True, len(listed), missing, extra)
