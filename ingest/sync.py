"""Orchestration of sync and backfill: discover -> queue -> fetch -> parse -> load.

Threads overlap the stages so the network never waits for the database: a feeder
pages pending work out of ``fetch_queue``, ``workers`` threads fetch (the process-wide
rate limiter keeps them under SEC's limit together) and parse, and the main thread
loads batches and marks the queue. Everything a run learns is in the database before
it moves on, so a run killed at any point is finished by the next one.
"""

from __future__ import annotations

import logging
import queue as threadqueue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TextIO

import psycopg

from . import queue as workqueue
from .config import ConfigError
from .db import connect
from .discover import (
    IndexEntry,
    discover_cik,
    discover_day,
    discover_quarter,
    filter_ownership,
    quarters_between,
)
from .fetch import EdgarAccessDenied, EdgarClient, FetchFailed, Unavailable
from .load import Loader
from .parse import parse_file
from .progress import Progress
from .records import ParseError, first_line
from .sgml import EASTERN
from .worker import LoadItem, prepare

log = logging.getLogger(__name__)

_DONE = object()  # a worker's end-of-work marker on the results queue


class RunLocked(Exception):
    """Another sync/backfill holds this database's run lock."""


class RunAborted(Exception):
    """The run stopped early (database lost, EDGAR refused us); the next run resumes."""


@dataclass(slots=True)
class Outcome:
    """What happened to one queued filing in this run."""

    item: workqueue.QueueItem
    status: str  # fetched | missing | failed | already-loaded
    load_item: LoadItem | None = None
    error: str | None = None
    stage: str = "fetch"  # what failed, for ingest_errors: 'fetch' or 'parse'


@dataclass(slots=True)
class RunReport:
    index_sources: int = 0
    days_without_index: int = 0
    newly_queued: int = 0
    to_process: int = 0
    loaded: int = 0
    replaced: int = 0
    unchanged: int = 0
    already_loaded: int = 0
    failed: int = 0
    missing: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.missing else 0

    def summary(self) -> str:
        return (
            f"read {self.index_sources} index file(s) ({self.days_without_index} day(s) without one), "
            f"queued {self.newly_queued} new filing(s); processed {self.to_process}: "
            f"loaded {self.loaded}, replaced {self.replaced}, unchanged {self.unchanged}, "
            f"already loaded {self.already_loaded}, missing {self.missing}, failed {self.failed} "
            f"in {self.seconds:.1f}s, {self.requests} request(s)"
        )


def yesterday_eastern(now: datetime | None = None) -> date:
    """EDGAR's days are US Eastern days; a day's index is built from about 10 pm ET."""
    current = (now or datetime.now(tz=EASTERN)).astimezone(EASTERN)
    return current.date() - timedelta(days=1)


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Run:
    """One sync or backfill run, holding the database's run lock while it lives."""

    def __init__(
        self,
        database_url: str,
        client: EdgarClient,
        *,
        workers: int = 4,
        batch_size: int = 100,
        progress_stream: TextIO | None = None,
        interactive: bool | None = None,
        max_attempts: int = workqueue.MAX_ATTEMPTS,
    ) -> None:
        self.database_url = database_url
        self.client = client
        self.workers = max(1, workers)
        self.batch_size = max(1, batch_size)
        self.progress_stream = progress_stream
        self.interactive = interactive
        self.max_attempts = max_attempts
        self.report = RunReport()
        self._lock_conn: psycopg.Connection | None = None
        self._conn: psycopg.Connection | None = None
        self._started = time.monotonic()

    # -- lifecycle --------------------------------------------------------------

    def __enter__(self) -> Run:
        self._lock_conn = connect(self.database_url, autocommit=True)
        if not workqueue.try_lock(self._lock_conn):
            self._lock_conn.close()
            raise RunLocked(
                "another edgar-insider sync or backfill is running against this database; "
                "this one exits without doing anything"
            )
        self._conn = connect(self.database_url, autocommit=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.report.seconds = time.monotonic() - self._started
        for conn in (self._conn, self._lock_conn):  # closing the session frees the lock
            if conn is not None and not conn.closed:
                conn.close()

    @property
    def conn(self) -> psycopg.Connection:
        assert self._conn is not None, "use Run as a context manager"
        return self._conn

    # -- discovery ----------------------------------------------------------------

    def default_sync_days(self, today_yesterday: date | None = None) -> list[date]:
        """From the day after the last daily index read through yesterday (ET)."""
        last = today_yesterday or yesterday_eastern()
        previous = workqueue.last_discovered_day(self.conn)
        first = previous + timedelta(days=1) if previous else last
        return days_between(first, last) if first <= last else []

    def discover_days(self, days: Iterable[date]) -> None:
        for day in days:
            entries = discover_day(self.client, day, not_found=Unavailable)
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

    def discover_quarter(self, year: int, quarter: int, first: date, last: date) -> None:
        entries = discover_quarter(self.client, year, quarter, not_found=Unavailable) or []
        ownership = [e for e in filter_ownership(entries) if first <= e.filed_date <= last]
        self._enqueue_source(ownership, "backfill", f"full:{year}Q{quarter}", "full")

    def discover_cik(self, cik: int) -> tuple[str, ...]:
        entries = filter_ownership(discover_cik(self.client, cik, not_found=Unavailable) or [])
        self._enqueue_source(entries, "backfill", f"cik:{cik}", "cik")
        return tuple(e.accession_number for e in entries)

    def _enqueue_source(self, entries: list[IndexEntry], origin: str, source: str, kind: str) -> None:
        with self.conn.transaction():
            self.report.newly_queued += workqueue.enqueue(self.conn, entries, origin)
            workqueue.record_source(
                self.conn, source, kind, day=None, found=True, ownership_filings=len(entries)
            )
        self.report.index_sources += 1

    # -- commands ---------------------------------------------------------------

    def sync(self, days: list[date]) -> RunReport:
        self.discover_days(days)
        scope = workqueue.Scope(
            first_day=min(days) if days else None,
            last_day=max(days) if days else None,
            include_sync_leftovers=True,
            max_attempts=self.max_attempts,
        )
        return self.process(scope, "sync")

    def backfill_dates(self, first: date, last: date) -> RunReport:
        for year, quarter in quarters_between(first, last):
            self.discover_quarter(year, quarter, first, last)
            quarter_first, quarter_last = _clip_quarter(year, quarter, first, last)
            self.process(
                workqueue.Scope(first_day=quarter_first, last_day=quarter_last,
                                max_attempts=self.max_attempts),
                f"backfill {year}Q{quarter}",
            )
        return self.report

    def backfill_cik(self, cik: int) -> RunReport:
        accessions = self.discover_cik(cik)
        return self.process(
            workqueue.Scope(accessions=accessions, max_attempts=self.max_attempts), f"backfill CIK {cik}"
        )

    # -- the pipeline -----------------------------------------------------------

    def process(self, scope: workqueue.Scope, label: str) -> RunReport:
        total = workqueue.count_pending(self.conn, scope)
        self.report.to_process += total
        if total == 0:
            return self.report
        progress = Progress(
            total, label, stream=self.progress_stream, interactive=self.interactive,
            requests=lambda: self.client.stats.requests,
        )
        requests_before = self.client.stats.requests
        try:
            _Pipeline(self, scope, progress).run()
        finally:
            progress.close()
            self.report.requests += self.client.stats.requests - requests_before
        return self.report


def _clip_quarter(year: int, quarter: int, first: date, last: date) -> tuple[date, date]:
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - timedelta(days=1)
    return max(start, first), min(end, last)


class _Pipeline:
    """Feeder thread -> fetch/parse worker threads -> loader (the calling thread)."""

    def __init__(self, run: Run, scope: workqueue.Scope, progress: Progress) -> None:
        self.job = run
        self.scope = scope
        self.progress = progress
        self.work: threadqueue.Queue = threadqueue.Queue(maxsize=run.workers * 8)
        self.results: threadqueue.Queue = threadqueue.Queue(maxsize=run.batch_size * 4)
        self.stop = threading.Event()
        self.fatal: BaseException | None = None

    def run(self) -> None:
        threads = [threading.Thread(target=self._feed, name="feeder", daemon=True)]
        threads += [
            threading.Thread(target=self._work, name=f"fetch-{n}", daemon=True)
            for n in range(self.job.workers)
        ]
        for thread in threads:
            thread.start()
        try:
            self._load_until_done()
        except BaseException as exc:
            self.stop.set()
            if isinstance(exc, psycopg.OperationalError):
                raise database_failed(exc) from exc
            raise
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=30)
        if self.fatal is not None:
            raise self.fatal

    # -- threads ------------------------------------------------------------------

    def _put(self, target: threadqueue.Queue, value: object) -> bool:
        while not self.stop.is_set():
            try:
                target.put(value, timeout=0.2)
                return True
            except threadqueue.Full:
                continue
        return False

    def _feed(self) -> None:
        try:
            with connect(self.job.database_url, autocommit=False) as conn:
                page: list[workqueue.QueueItem] = []
                for item in workqueue.iter_pending(conn, self.scope):
                    page.append(item)
                    if len(page) >= 200 and not self._feed_page(conn, page):
                        return
                self._feed_page(conn, page)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the loader thread
            self.fatal = self.fatal or exc
            self.stop.set()
        finally:
            for _ in range(self.job.workers):
                self._put(self.work, None)

    def _feed_page(self, conn: psycopg.Connection, page: list[workqueue.QueueItem]) -> bool:
        """Skip what is already loaded (a previous run died before marking it)."""
        loaded = workqueue.loaded_accessions(conn, [item.accession_number for item in page])
        conn.commit()
        for item in page:
            if item.accession_number in loaded:
                ok = self._put(self.results, Outcome(item, "already-loaded"))
            else:
                ok = self._put(self.work, item)
            if not ok:
                return False
        page.clear()
        return True

    def _work(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    item = self.work.get(timeout=0.2)
                except threadqueue.Empty:
                    continue
                if item is None:
                    break
                if not self._put(self.results, self._fetch_and_parse(item)):
                    break
        except BaseException as exc:  # noqa: BLE001 - surfaced by the loader thread
            self.fatal = self.fatal or exc
            self.stop.set()
        finally:
            self._put(self.results, _DONE)

    def _fetch_and_parse(self, item: workqueue.QueueItem) -> Outcome:
        try:
            raw = self.job.client.get_archive(item.path)
        except Unavailable as exc:  # 404, or a 403 that is not a rate block
            return Outcome(item, "missing", error=f"not on EDGAR: {exc}")
        except FetchFailed as exc:
            return Outcome(item, "failed", error=f"fetch failed: {exc}")
        except EdgarAccessDenied:
            raise
        try:
            parsed = parse_file(raw, item.path, accession=item.accession_number)
        except ParseError as exc:
            return Outcome(item, "failed", error=f"parse failed: {exc}", stage="parse")
        except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the run (every night)
            return Outcome(
                item, "failed", stage="parse",
                error=f"parse failed: internal parser error ({type(exc).__name__}): {first_line(exc)}",
            )
        # Hash and compress here, in the worker, so the loader spends its time on the DB.
        return Outcome(item, "fetched", load_item=prepare(parsed, source_name=item.path))

    # -- loader (calling thread) ----------------------------------------------------

    def _load_until_done(self) -> None:
        loader = Loader(self.job.conn)
        finished_workers = 0
        batch: list[Outcome] = []
        last_flush = time.monotonic()
        while finished_workers < self.job.workers:
            try:
                outcome = self.results.get(timeout=0.5)
            except threadqueue.Empty:
                outcome = None
            if outcome is _DONE:
                finished_workers += 1
            elif outcome is not None:
                batch.append(outcome)
            due = time.monotonic() - last_flush > 2.0
            if batch and (len(batch) >= self.job.batch_size or due):
                self._flush(loader, batch)
                batch = []
                last_flush = time.monotonic()
            if self.fatal is not None:
                break
        if batch:
            self._flush(loader, batch)

    def _flush(self, loader: Loader, batch: list[Outcome]) -> None:
        fetched = [o for o in batch if o.load_item is not None]
        results = loader.load([o.load_item for o in fetched]) if fetched else []
        by_accession = {r.accession_number: r for r in results}
        marks: list[tuple[str, str, str | None]] = []
        errors: list[tuple[str, str, str, str]] = []
        counts: dict[str, int] = {}
        for outcome in batch:
            status, error = self._queue_status(outcome, by_accession)
            accession = outcome.item.accession_number
            marks.append((accession, status, error))
            if status in ("failed", "missing") and outcome.status != "fetched":
                errors.append((accession, outcome.item.path, outcome.stage, error or status))
        report = self.job.report
        for accession, status, error in marks:
            key = self._report_key(status, by_accession.get(accession))
            counts[key] = counts.get(key, 0) + 1
            if status in ("failed", "missing"):
                report.failures.append((accession, error or status))
        with self.job.conn.transaction():
            workqueue.mark(self.job.conn, marks)
            if errors:
                with self.job.conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO ingest_errors (accession_number, source_name, stage, message)"
                        " VALUES (%s, %s, %s, %s)",
                        errors,
                    )
        for key, value in counts.items():
            setattr(report, key, getattr(report, key) + value)
        self.progress.advance(len(batch), **counts)

    @staticmethod
    def _queue_status(outcome: Outcome, results: dict) -> tuple[str, str | None]:
        if outcome.status == "already-loaded":
            return "done", None
        if outcome.status in ("missing", "failed"):
            return outcome.status, outcome.error
        result = results.get(outcome.item.accession_number)
        if result is None or result.status == "failed":
            return "failed", (result.message if result else "not loaded")
        return "done", None

    @staticmethod
    def _report_key(status: str, result: object) -> str:
        if status in ("failed", "missing"):
            return status
        load_status = getattr(result, "status", None)
        return {"loaded": "loaded", "replaced": "replaced", "unchanged": "unchanged"}.get(
            load_status or "", "already_loaded"
        )


def database_failed(exc: psycopg.OperationalError) -> RunAborted:
    """The run must stop because the database did (restarted, shut down, out of disk).

    Every stage commits what it learnt before moving on, so nothing half-written is kept.
    """
    state = exc.sqlstate or ""
    what = (
        "lost the database connection"
        if not state or state.startswith(("08", "57P"))
        else "the database failed"
    )
    return RunAborted(
        f"{what} ({first_line(exc)}); nothing half-written was kept. "
        "Run the same command again to finish the remaining filings."
    )


__all__ = [
    "ConfigError", "Run", "RunAborted", "RunLocked", "RunReport", "database_failed",
    "yesterday_eastern",
]
