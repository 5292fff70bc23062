"""The one run loop every command drives: source -> step -> loader, batch by batch.

    source.tasks()  ->  step(task) in a pool  ->  Outcome  ->  Loader.write(batch)
       (queue pages,      (threads beside the        |          one transaction: the rows,
        local files,       network; processes        |          ingest_errors, and the
        stored raw)        for bulk parsing)         |          source's bookkeeping
                                                     v          (queue statuses)
                                                 RunReport  ->  ingest.errors.exit_code_for

* A **source** (:class:`QueueSource`, :class:`FileSource`, :class:`StoredSource`) yields work
  items lazily, on the loop's own connection, between batches: millions cost no memory and
  need no second connection. It may yield :data:`IDLE` ("nothing right now") so that a source
  waiting for new work (``watch``) never stalls flushing and lease renewal. Its ``record``
  runs inside the batch's transaction.
* A **step** turns one item into an :class:`~ingest.worker.Outcome`: fetch and parse
  (:func:`fetch_step`, threads), or read and parse (``worker.read_file``/``reparse_stored``,
  processes: those live in ``ingest/worker.py``, which a spawned worker imports, so it stays
  free of the database and HTTP libraries). A step raises only what must stop the whole run
  (EDGAR unreachable, SEC refusing our User-Agent, a lost lock); everything else is an
  outcome.
* The **loader** writes a batch and everything recorded about it in one transaction.

How each command enters it: see docs/architecture.md.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import psycopg

from . import workqueue
from .errors import Stop, connection_lost, database_lost, first_line
from .fetch import EdgarClient, FetchFailed, Unavailable
from .load import Loader
from .progress import Progress
from .records import FILING_COLUMNS, PARSER_VERSION
from .runlock import RunLock
from .worker import Outcome, Stage, Status, parse_step, run_chunk_pickled

log = logging.getLogger(__name__)

IDLE = object()  # a source's "no work right now, ask again soon"

INPUT_SUFFIXES = (".txt", ".nc", ".sgml", ".xml")
DEFAULT_BATCH_SIZE = 500
# Below this many files, starting worker processes (~0.5 s each) costs more than it saves.
POOL_THRESHOLD = 200
# A partial batch waits at most this long before it is written: a slow network still shows
# progress, and what was fetched is committed soon.
FLUSH_EVERY = 2.0
_POLL = 0.5  # the loop wakes at least this often (flushes, lease renewal, stop requests)


# ---------------------------------------------------------------------------------------------
# The report of a run
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RunReport:
    """What a command did: discovery counts, then one count per outcome status."""

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
    source_failures: int = 0  # index files or data-set quarters that could not be read (run again)
    unparsed: int = 0  # stored without a (complete) parsed document: counted in loaded/replaced too
    failures: list[tuple[str, str]] = field(default_factory=list)  # (accession or file, why)
    unparsed_filings: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0

    def add(self, outcomes: Iterable[Outcome]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in outcomes:
            status = outcome.status or Status.FAILED
            counts[status.value] = counts.get(status.value, 0) + 1
            key = outcome.accession_number or outcome.source_name or "?"
            if status in (Status.FAILED, Status.MISSING):
                self.failures.append((key, outcome.error or status.value))
            if outcome.unparsed:
                counts["unparsed"] = counts.get("unparsed", 0) + 1
                self.unparsed_filings.append((key, outcome.item.parse_error or ""))
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)
        return counts

    @property
    def exit_code(self) -> int:
        from .errors import exit_code_for

        return int(exit_code_for(self))

    def summary(self) -> str:
        discovery = (
            f"read {self.index_sources} index file(s) ({self.days_without_index} day(s) without "
            f"one), queued {self.newly_queued} new filing(s); "
            if self.index_sources or self.days_without_index or self.newly_queued
            else ""
        )
        return (
            f"{discovery}processed {self.to_process}: loaded {self.loaded}, replaced "
            f"{self.replaced}, unchanged {self.unchanged}, failed {self.failed}, missing "
            f"{self.missing}, already loaded {self.already_loaded}, stored unparsed "
            f"{self.unparsed} in {self.seconds:.1f}s, {self.requests} request(s)"
        )


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


class Source(Protocol):
    label: str

    def total(self) -> int | None: ...  # None: open-ended (watch)

    def tasks(self) -> Iterator[Any]: ...

    def record(self, conn: psycopg.Connection, outcomes: Sequence[Outcome]) -> None: ...


@dataclass(frozen=True, slots=True)
class QueueTask:
    item: workqueue.QueueItem
    already_loaded: bool = False


class QueueSource:
    """Queued filings in a scope, taken (claimed) a few at a time as they are fetched."""

    def __init__(self, conn: psycopg.Connection, scope: workqueue.Scope, lock: RunLock, label: str,
                 *, claim_size: int = 32) -> None:
        self.conn, self.scope, self.lock, self.label = conn, scope, lock, label
        self.claim_size = claim_size

    def total(self) -> int:
        return workqueue.count_pending(self.conn, self.scope)

    def tasks(self) -> Iterator[QueueTask]:
        page: list[workqueue.QueueItem] = []
        for item in workqueue.iter_pending(self.conn, self.scope):
            page.append(item)
            if len(page) >= self.claim_size:
                yield from self._take(page)
                page = []
        yield from self._take(page)

    def _take(self, page: list[workqueue.QueueItem]) -> Iterator[QueueTask]:
        """Skip what is already loaded (a killed run stored it before marking its queue row)
        and what another run holds; claim the rest."""
        if not page:
            return
        accessions = [item.accession_number for item in page]
        loaded = workqueue.loaded_accessions(self.conn, accessions)
        claimed = workqueue.claim(self.conn, accessions, self.lock.holder)
        for item in page:
            if item.accession_number in claimed:
                yield QueueTask(item, already_loaded=item.accession_number in loaded)

    def record(self, conn: psycopg.Connection, outcomes: Sequence[Outcome]) -> None:
        workqueue.mark(conn, [
            (o.task.accession_number, _queue_status(o), o.error if o.status in _NOT_DONE else None)
            for o in outcomes if isinstance(o.task, workqueue.QueueItem)
        ])


_NOT_DONE = (Status.FAILED, Status.MISSING)


def _queue_status(outcome: Outcome) -> str:
    if outcome.status is Status.MISSING:
        return workqueue.MISSING
    if outcome.status is Status.FAILED:
        return workqueue.FAILED
    return workqueue.DONE


@dataclass(slots=True)
class PollReport:
    """What ``watch`` says after each poll (and between two polls, what was loaded)."""

    new: int  # filings queued by this poll
    requests: int  # feed pages asked for
    complete: bool
    loaded: int  # filings stored since the previous poll
    failed: int  # failed or missing since the previous poll
    lags: list[float]  # seconds from acceptance to load of those stored
    pending: int  # watch work left in the queue


class WatchSource:
    """Open-ended work for ``watch``: every ``interval`` seconds, poll EDGAR's latest-filings
    feed (``ingest/feed.py``), queue the new filings (origin ``watch``) and hand out the
    watch's work: those, what an earlier watch left, and retries that are due; between polls,
    IDLE. It ends when ``stop`` is set. ``say`` gets a :class:`PollReport` after each poll."""

    label = "watch"

    def __init__(self, conn: psycopg.Connection, lock: RunLock, poller: Any, interval: float,
                 stop: threading.Event, say: Callable[[PollReport], None]) -> None:
        self.conn, self.lock, self.poller, self.interval = conn, lock, poller, interval
        self.stop, self.say = stop, say
        self._queue = QueueSource(conn, workqueue.Scope(leftovers_of="watch"), lock, self.label)
        self._in_flight: set[str] = set()
        # Recorded since this poll began. The queue is read (and claimed) a page at a time and
        # handed out lazily: a filing of an earlier poll can be stored between the read that
        # still saw it pending and the moment it comes up, when it is no longer in flight.
        self._recorded: set[str] = set()
        self._loaded = self._failed = 0
        self._lags: list[float] = []

    def total(self) -> None:
        return None

    def tasks(self) -> Iterator[QueueTask | object]:
        next_poll = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + self.interval
                self._recorded.clear()
                self._poll()
                for task in self._queue.tasks():
                    accession = task.item.accession_number
                    if accession not in self._in_flight and accession not in self._recorded:
                        self._in_flight.add(accession)
                        yield task
            else:
                self.stop.wait(min(_POLL, next_poll - now))
            yield IDLE  # the loop collects, stores and renews its lease between polls

    def _poll(self) -> None:
        result = self.poller.poll()
        with self.conn.transaction():
            new = workqueue.enqueue(self.conn, result.entries, "watch")
        pending = self._queue.total()
        self.say(PollReport(new, result.requests, result.complete, self._loaded, self._failed,
                            self._lags, pending))
        self._loaded = self._failed = 0
        self._lags = []

    def record(self, conn: psycopg.Connection, outcomes: Sequence[Outcome]) -> None:
        self._queue.record(conn, outcomes)
        now = datetime.now(UTC)
        for outcome in outcomes:
            if isinstance(outcome.task, workqueue.QueueItem):
                self._in_flight.discard(outcome.task.accession_number)
                self._recorded.add(outcome.task.accession_number)
            if outcome.status in _NOT_DONE:
                self._failed += 1
            elif outcome.stored and outcome.item is not None:
                self._loaded += 1
                accepted = outcome.item.rows.filing[_ACCEPTED_AT]
                if accepted is not None:
                    self._lags.append((now - accepted).total_seconds())


_ACCEPTED_AT = FILING_COLUMNS.index("accepted_at")


class FileSource:
    """Local files and folders (walked, sorted) of submissions or ownership XML, maybe gzipped.

    A path that cannot be examined (a symlink loop, a folder that cannot be listed) becomes a
    task whose read fails with that reason: one recorded error, the rest of the batch loads.
    """

    label = "ingest"

    def __init__(self, paths: Sequence[Path], accession: str | None = None) -> None:
        self.paths, self.accession = list(paths), accession

    def total(self) -> int:
        return sum(1 for _ in self._files())

    def tasks(self) -> Iterator[tuple[str, str | None, str | None]]:
        for path, problem in self._files():
            yield str(path), self.accession, problem

    def record(self, conn: psycopg.Connection, outcomes: Sequence[Outcome]) -> None:
        pass

    def _files(self) -> Iterator[tuple[Path, str | None]]:
        for path in self.paths:
            if _is_dir(path):
                yield from _walk(path)
            else:
                yield path, None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _walk(folder: Path) -> Iterator[tuple[Path, str | None]]:
    """Input files under ``folder`` in sorted order, with the problem found examining each."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield folder, f"cannot list the folder: {first_line(exc)}"
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path))
            elif entry.is_file() and is_input_name(entry.name):
                yield Path(entry.path), None
        except OSError as exc:  # a symlink loop, a vanished file...
            if is_input_name(entry.name):
                yield Path(entry.path), f"cannot read: {first_line(exc)}"


def is_input_name(name: str) -> bool:
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return lower.endswith(INPUT_SUFFIXES)


class StoredSource:
    """Stored raw submissions, in accession order, a page at a time (keyset paging on the
    loop's connection: no second connection, no snapshot held for the whole run)."""

    label = "reparse"

    def __init__(self, conn: psycopg.Connection, everything: bool, page_size: int = 500) -> None:
        self.conn, self.everything, self.page_size = conn, everything, page_size

    def _where(self) -> str:
        return "" if self.everything else "AND f.parser_version IS DISTINCT FROM %(version)s"

    def total(self) -> int:
        return int(self.conn.execute(
            "SELECT count(*) FROM filings f JOIN raw_submissions r USING (accession_number) "
            f"WHERE true {self._where()}", {"version": PARSER_VERSION},
        ).fetchone()[0])

    def tasks(self) -> Iterator[tuple[str, str | None, bytes, str | None]]:
        after = ""
        while True:
            rows = self.conn.execute(
                "SELECT f.accession_number, f.source_name, r.raw, r.compression "
                "FROM filings f JOIN raw_submissions r USING (accession_number) "
                f"WHERE f.accession_number > %(after)s {self._where()} "
                "ORDER BY f.accession_number LIMIT %(limit)s",
                {"after": after, "version": PARSER_VERSION, "limit": self.page_size},
            ).fetchall()
            if not rows:
                return
            for acc, source_name, raw, compression in rows:
                yield acc, source_name, bytes(raw), compression
            after = rows[-1][0]

    def record(self, conn: psycopg.Connection, outcomes: Sequence[Outcome]) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def fetch_step(client: EdgarClient, lock: RunLock | None) -> Callable[[QueueTask], Outcome]:
    """Fetch one queued filing and parse it (in a thread: the rate limiter paces them)."""

    def step(task: QueueTask) -> Outcome:
        item = task.item
        acc, path = item.accession_number, item.path
        if task.already_loaded:
            return Outcome(path, status=Status.ALREADY_LOADED, accession_number=acc, task=item)
        if lock is not None:
            lock.check()  # never fetch once the lease may have passed to another run
        try:
            raw = client.get_archive(path)
        except Unavailable as exc:  # 404, or a 403 that is not a rate block
            return Outcome.failure(Stage.FETCH, f"not on EDGAR: {exc}", path, acc,
                                   status=Status.MISSING, task=item)
        except FetchFailed as exc:
            return Outcome.failure(Stage.FETCH, f"fetch failed: {exc}", path, acc, task=item)
        return parse_step(raw, path, acc, path, task=item)

    return step


# ---------------------------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------------------------


class StepPool:
    """Runs steps on groups of tasks: in this thread, in threads, or in spawned processes.

    Processes get groups of ``chunk`` tasks (one round trip each) and send their outcomes
    back pickled; finished groups wait in the window as those compact bytes. Results come
    back in task order for processes (the last copy of a file wins, as listed), as they finish
    for threads (network order does not matter: queued accessions are distinct)."""

    def __init__(self, kind: str, workers: int, chunk: int) -> None:
        self.kind, self.workers, self.chunk = kind, workers, chunk
        self._executor: Executor | None = None
        if kind == "threads":
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="step")
        elif kind == "processes":
            self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))

    @property
    def ordered(self) -> bool:
        return self.kind != "threads"

    def submit(self, step: Callable[[Any], Outcome], group: list[Any]) -> Future:
        if self._executor is None:
            future: Future = Future()
            try:
                future.set_result([step(task) for task in group])
            except BaseException as exc:  # noqa: BLE001 - surfaced by results()
                future.set_exception(exc)
            return future
        if self.kind == "processes":
            return self._executor.submit(run_chunk_pickled, step, group)
        return self._executor.submit(_run_group, step, group)

    def results(self, future: Future) -> list[Outcome]:
        value = future.result()
        return pickle.loads(value) if self.kind == "processes" else value

    def close(self, *, wait_running: bool) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=wait_running, cancel_futures=True)


def _run_group(step: Callable[[Any], Outcome], group: list[Any]) -> list[Outcome]:
    return [step(task) for task in group]


def worker_count(requested: int | None, total: int) -> int:
    """Parse processes: as asked, else one per CPU, none for small runs."""
    if requested is None and total < POOL_THRESHOLD:
        return 0
    if requested is None:
        return os.cpu_count() or 1
    return requested


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Pipeline:
    """The loop over one connection (``conn``, autocommit: each batch commits itself)."""

    conn: psycopg.Connection
    report: RunReport
    batch_size: int = DEFAULT_BATCH_SIZE
    lock: RunLock | None = None
    progress_stream: Any = None
    interactive: bool | None = None
    requests: Callable[[], int] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    progress: bool = True  # False: the source reports progress itself (watch)

    def run(self, source: Source, step: Callable[[Any], Outcome], *, pool: str = "threads",
            workers: int | None = 4, force: bool = False, chunk: int | None = None) -> None:
        """Every task of ``source`` through ``step``: ``pool`` is 'threads' or 'processes'
        (``workers`` None: one process per CPU, none for small runs; 0: in this thread)."""
        total = source.total()
        if total is not None:
            self.report.to_process += total
            if total == 0:
                return
        workers = worker_count(workers, total if total is not None else POOL_THRESHOLD)
        kind = "inline" if workers <= 0 else pool
        group = chunk or (32 if kind == "processes" else 1)
        in_flight = max(2 * max(workers, 1), -(-2 * self.batch_size // group) if kind == "processes" else 0)
        progress = Progress(total or 0, source.label, stream=self.progress_stream,
                            interactive=self.interactive, requests=self.requests,
                            quiet=not self.progress)
        runner = _Loop(self, source, step, StepPool(kind, workers, group), progress, force, in_flight)
        try:
            runner.run()
        finally:
            progress.close()


class _Loop:
    def __init__(self, pipeline: Pipeline, source: Source, step: Callable[[Any], Outcome],
                 pool: StepPool, progress: Progress, force: bool, in_flight: int) -> None:
        self.p, self.source, self.step, self.pool = pipeline, source, step, pool
        self.progress, self.force, self.in_flight = progress, force, in_flight
        self.loader = Loader(pipeline.conn)
        self.window: deque[Future] = deque()
        self.batch: list[Outcome] = []
        self.last_flush = time.monotonic()

    def run(self) -> None:
        tasks = self._groups(self.source.tasks())
        exhausted = False
        try:
            while True:
                exhausted = exhausted or self._fill(tasks)
                if not self.window and exhausted:
                    break
                self._collect()
                self._housekeeping()
        except Stop as stop:  # a step stopped the run: keep what finished, then stop
            self._drain_after(stop)
            raise
        except psycopg.OperationalError as exc:
            self.pool.close(wait_running=False)
            if connection_lost(exc, self.p.conn):
                raise database_lost(exc) from exc
            raise
        except BaseException:
            self.pool.close(wait_running=False)
            raise
        self._flush()
        self.pool.close(wait_running=True)

    def _groups(self, tasks: Iterator[Any]) -> Iterator[Any]:
        group: list[Any] = []
        for task in tasks:
            if task is IDLE:
                if group:
                    yield group
                    group = []
                yield IDLE
                continue
            group.append(task)
            if len(group) >= self.pool.chunk:
                yield group
                group = []
        if group:
            yield group

    def _fill(self, tasks: Iterator[Any]) -> bool:
        """Submit groups until the window is full; True when the source is exhausted."""
        while len(self.window) < self.in_flight:
            if self.p.stop.is_set():
                return True
            group = next(tasks, None)
            if group is None:
                return True
            if group is IDLE:
                return False
            self.window.append(self.pool.submit(self.step, group))
        return False

    def _collect(self) -> None:
        if not self.window:
            return
        if self.pool.ordered:
            head = self.window[0]
            try:
                head.result(timeout=_POLL)
            except TimeoutError:
                return
            except Exception:  # noqa: BLE001 - raised again by results() below
                pass
            self.window.popleft()
            self.batch.extend(self.pool.results(head))
            return
        done, _ = wait(self.window, timeout=_POLL, return_when=FIRST_COMPLETED)
        for future in done:
            self.window.remove(future)
        for future in done:
            self.batch.extend(self.pool.results(future))

    def _housekeeping(self) -> None:
        if self.p.lock is not None:
            self.p.lock.renew_if_due()
        due = time.monotonic() - self.last_flush > FLUSH_EVERY
        if self.batch and (len(self.batch) >= self.p.batch_size or due):
            self._flush()

    def _flush(self) -> None:
        for start in range(0, len(self.batch), self.p.batch_size):
            part = self.batch[start : start + self.p.batch_size]
            self.loader.write(part, force=self.force, bookkeeping=self.source.record)
            counts = self.p.report.add(part)
            self.progress.advance(len(part), **counts)
        self.batch = []
        self.last_flush = time.monotonic()

    def _drain_after(self, stop: Stop) -> None:
        """The run stops: what already finished is stored; what is in flight finishes (its
        requests are out) and is stored too; nothing new starts."""
        self.pool.close(wait_running=True)
        for future in self.window:
            if future.cancelled():
                continue
            try:
                self.batch.extend(self.pool.results(future))
            except Exception as exc:  # noqa: BLE001 - the same stop, or its twin from another thread
                log.debug("in-flight work ended with %s", exc)
        self.window.clear()
        try:
            self._flush()
        except psycopg.OperationalError:
            log.debug("could not store the last batch while stopping for: %s", stop)
