"""Load one quarter of SEC's Insider Transactions Data Sets: one resumable unit.

``load_quarter(conn, zip_bytes, quarter="2024q3")`` stores the quarter's filings one of
two ways, the same rows either way (tests/test_dataset_server.py compares every table):

- mapped by PostgreSQL (``ingest.dataset_server``, the default): two connections of their
  own each write half the filings (by issuer) in one transaction, and wait for each other
  before their analyst rows and commit: a bad value in either half stores nothing; each
  then brings its half's latest names up to date. Then the quarter is recorded in
  ``dataset_quarters``. Killed between the two
  commits or before the record, the next run finds the quarter unrecorded and some of its
  filings stored, and reads it in Python (below): those are ``unchanged``, the rest load.
- read in Python (``ingest.datasets``, in a process of its own: ``_QuarterReader``) and
  stored through ``ingest.load.Loader`` (COPY, ``batch_filings`` filings per batch) in ONE
  transaction, which also records the quarter. Killed at any point, nothing of the quarter
  is stored. This way takes every quarter the server does not map (``QuarterReport.
  not_on_server`` says why: a value to keep aside, filings already stored...), and every
  quarter when ``on_server=False``.

Either way nothing is lost or doubled. A quarter already recorded with the same zip
(SHA-256) is not read again; a republished zip is, and its filings whose rows did not change
stay ``unchanged``.

A data-set filing never replaces rows that came from the filing itself (the loader keeps
them, status ``unchanged``: counted as ``kept_filing``); the filing, loaded later by
``sync``/``backfill``/``ingest``, always replaces data-set rows (``ingest.load``,
``ingest.dataset_compare``).

A quarter that cannot be read (``ingest.datasets.DatasetError``: truncated zip, missing
table, unknown column, bad date...) stores nothing of it; the error is recorded in
``ingest_errors`` (stage ``dataset``, ``source_name`` the zip's name) and raised, for the
caller to report and go on with the next quarter.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import multiprocessing
import pickle
import queue
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from typing import BinaryIO

import psycopg
from psycopg.pq import TransactionStatus

from .dataset_catalog import DATASET_TABLES
from .dataset_server import NotForServer, store_on_server
from .datasets import (
    DEFAULT_BATCH_FILINGS,
    DEFAULT_FILINGS_PER_PASS,
    MAPPING_VERSION,
    DatasetError,
    QuarterFile,
    dataset_file_name,
    normalize_quarter,
)
from .errors import first_line
from .load import DATASET_NEVER_REPLACES, Loader, encode_children, upsert_dataset_names
from .rows import EncodedRows, FilingRows, IssuerRow, PersonRow
from .worker import LoadItem, Outcome, Stage

log = logging.getLogger(__name__)

STAGE = Stage.DATASET  # ingest_errors.stage of a quarter that could not be loaded


@dataclass(slots=True)
class QuarterReport:
    """What loading one quarter did. ``rows`` counts data-set rows (every table's lines)."""

    quarter: str
    status: str  # 'loaded' | 'unchanged' (the same zip was loaded before: not read again)
    zip_sha256: str
    filings: int = 0
    rows: int = 0
    rows_per_table: dict[str, int] = field(default_factory=dict)
    loaded: int = 0  # new filings
    replaced: int = 0  # data-set filings whose rows changed
    unchanged: int = 0  # data-set filings stored before with the same rows
    kept_filing: int = 0  # filings already stored from the filing itself: not touched
    failed: int = 0  # refused by the database (recorded in ingest_errors, stage 'load')
    orphan_rows: dict[str, int] = field(default_factory=dict)  # rows without a SUBMISSION row
    seconds: float = 0.0
    reader_cpu_seconds: float = 0.0  # of the reader process (_QuarterReader), not this one
    read_by: str = ""  # 'server' (ingest.dataset_server) or 'python' (ingest.datasets)
    not_on_server: str = ""  # why the server did not map it (read in Python instead)


def load_quarter(
    conn: psycopg.Connection,
    source: bytes | BinaryIO,
    *,
    quarter: str,
    batch_filings: int = DEFAULT_BATCH_FILINGS,
    filings_per_pass: int = DEFAULT_FILINGS_PER_PASS,
    on_server: bool = True,
) -> QuarterReport:
    """Load one quarter's zip (bytes, or a binary file: read whole) on an autocommit connection.

    ``on_server``: mapped by PostgreSQL (``ingest.dataset_server``) when the quarter allows
    it, else (or when False) read in Python; the stored rows are the same.

    Raises ``DatasetError`` (already recorded in ``ingest_errors``) when the quarter cannot
    be read; database failures other than a single refused filing propagate as they do from
    ``Loader.load`` (nothing of the quarter is then stored).
    """
    quarter = normalize_quarter(quarter)
    started = time.monotonic()
    # Read once: hashed here, and handed whole to the reader process.
    data = bytes(source) if isinstance(source, bytes | bytearray | memoryview) else source.read()
    digest = hashlib.sha256(data).hexdigest()
    report = QuarterReport(quarter, "loaded", digest)
    if loaded_quarters(conn).get(quarter) == digest:
        report.status = "unchanged"
        return report
    try:
        # Opened here too: a zip, table or header the mapping cannot read is refused at once.
        with QuarterFile(data, quarter) as dataset:
            if on_server and _loaded_on_server(conn, dataset, report):
                report.seconds = time.monotonic() - started
                return report
            report.read_by = "python"
            with conn.transaction(), fewer_collections(), \
                    _QuarterReader(data, quarter, filings_per_pass, batch_filings) as reader:
                _load(conn, reader, dataset.source_name, report)
                _record_quarter(conn, report, dataset.source_name, dataset.columns)
    except DatasetError as exc:
        log.error("%s", exc)
        Loader(conn).write([Outcome.failure(STAGE, str(exc), dataset_file_name(quarter))])
        raise
    report.seconds = time.monotonic() - started
    return report


# Per year (of the filed date, else the period of report): filings whose rows came from the
# filing itself ('submission' or 'xml': exact), those still only in data-set form (rounded
# numbers, see docs/datasets.md), and how many of the exact ones differed from their data-set
# rows when they replaced them (dataset_differences). For `status`.
STATUS_BY_YEAR_SQL = """
SELECT extract(year FROM coalesce(f.filed_date, f.period_of_report))::int AS year,
       count(*) FILTER (WHERE f.source_kind <> 'dataset') AS exact,
       count(*) FILTER (WHERE f.source_kind = 'dataset') AS dataset_only,
       count(d.accession_number) AS exact_differed
FROM filings f
LEFT JOIN (SELECT DISTINCT accession_number FROM dataset_differences) d
       ON d.accession_number = f.accession_number AND f.source_kind <> 'dataset'
GROUP BY 1
ORDER BY 1
"""


@dataclass(frozen=True, slots=True)
class YearStatus:
    year: int | None
    exact: int
    dataset_only: int
    exact_differed: int


def status_by_year(conn: psycopg.Connection) -> list[YearStatus]:
    return [YearStatus(*row) for row in conn.execute(STATUS_BY_YEAR_SQL).fetchall()]


@dataclass(frozen=True, slots=True)
class DatasetOnlyFiling:
    """A filing known only from a data set: what a backfill needs to fetch the filing."""

    accession_number: str
    form_type: str | None
    issuer_cik: int
    issuer_name: str | None
    filed_date: date

    @property
    def path(self) -> str:
        """The full submission in EDGAR's archive (every filer's folder has it; the issuer's)."""
        return f"/Archives/edgar/data/{self.issuer_cik}/{self.accession_number}.txt"


def dataset_only_filings(
    conn: psycopg.Connection, first_day: date | None = None, last_day: date | None = None
) -> list[DatasetOnlyFiling]:
    """Filings of ``first_day``..``last_day`` (filed date, both included; None: open) still
    only in data-set form, newest first: what a backfill fetches first to make history exact."""
    rows = conn.execute(
        "SELECT accession_number, form_type, issuer_cik, issuer_name, filed_date FROM filings "
        "WHERE source_kind = 'dataset' AND issuer_cik IS NOT NULL AND filed_date IS NOT NULL "
        "AND filed_date >= coalesce(%s, '-infinity'::date) "
        "AND filed_date <= coalesce(%s, 'infinity'::date) "
        "ORDER BY filed_date DESC, accession_number",
        (first_day, last_day),
    ).fetchall()
    return [DatasetOnlyFiling(*row) for row in rows]


def loaded_quarters(conn: psycopg.Connection) -> dict[str, str]:
    """Quarter -> SHA-256 of the zip loaded for it by this mapping (``MAPPING_VERSION``): the
    quarters a run can skip fetching."""
    return dict(conn.execute(
        "SELECT quarter, zip_sha256 FROM dataset_quarters WHERE mapping_version = %s",
        (MAPPING_VERSION,),
    ).fetchall())


def _load(conn: psycopg.Connection, reader: _QuarterReader, source_name: str,
          report: QuarterReport) -> None:
    # The quarter is one transaction: issuers/persons and the analyst rows are brought up to
    # date once, at its end (Loader.finish), not batch by batch.
    loader = Loader(conn, deferred=True)
    statuses: Counter[str] = Counter()
    unchanged: list[str] = []
    for batch in reader.batches():
        for result in loader.load(batch):
            kept = result.status == "unchanged" and result.message == DATASET_NEVER_REPLACES
            statuses["kept_filing" if kept else result.status] += 1
            if result.status == "unchanged" and not kept:
                unchanged.append(result.accession_number)
    loader.finish()
    if unchanged:
        # Stored by an earlier load of the quarter, perhaps one that stopped before its
        # names (the server's writers store them last): brought up to date, idempotently.
        upsert_dataset_names(conn.cursor(), unchanged)
    report.filings = reader.filings
    report.rows = sum(reader.rows_read.values())
    report.rows_per_table = {t.name: reader.rows_read[t.name] for t in DATASET_TABLES}
    report.orphan_rows = dict(reader.orphan_rows)
    report.reader_cpu_seconds = reader.cpu_seconds
    report.loaded = statuses["loaded"]
    report.replaced = statuses["replaced"]
    report.unchanged = statuses["unchanged"]
    report.kept_filing = statuses["kept_filing"]
    report.failed = statuses["failed"]
    if report.orphan_rows:
        counts = ", ".join(f"{n:,} of {t}" for t, n in sorted(report.orphan_rows.items()))
        loader.write([Outcome.failure(
            STAGE,
            f"{report.quarter}: rows whose accession SUBMISSION does not list were not "
            f"loaded (no filing to attach them to): {counts}",
            source_name,
        )])


def _loaded_on_server(conn: psycopg.Connection, dataset: QuarterFile,
                      report: QuarterReport) -> bool:
    """The quarter stored by ``ingest.dataset_server`` and recorded; False (nothing
    written) when it is one for the Python reader."""
    if conn.info.transaction_status is not TransactionStatus.IDLE or not conn.autocommit:
        report.not_on_server = "the connection is inside a transaction"
        return False
    try:
        stored = store_on_server(conn, dataset)
    except NotForServer as why:
        report.not_on_server = str(why)
        log.info("%s: read in Python: %s", report.quarter, why)
        return False
    except psycopg.Error as exc:
        if conn.broken or conn.closed:
            raise
        # A value converted otherwise by the reader (a DataError: nothing stored), a writer
        # that could not connect, or one stopped after the other committed (the reader finds
        # those filings unchanged). An outage stops the reader too, as an outage.
        report.not_on_server = f"the server's writers stopped: {first_line(exc)}"
        log.log(logging.INFO if isinstance(exc, psycopg.errors.DataError) else logging.WARNING,
                "%s: %s; reading it in Python", report.quarter, report.not_on_server)
        return False
    report.read_by = "server"
    report.filings = report.loaded = stored.filings
    report.rows_per_table = {t.name: stored.rows_per_table[t.name] for t in DATASET_TABLES}
    report.rows = sum(report.rows_per_table.values())
    # Recorded once both halves and their latest names are in: killed before, the next
    # run's reader finds those filings stored, unchanged, and brings their names up to date.
    _record_quarter(conn, report, dataset.source_name, dataset.columns)
    return True


READ_AHEAD = 6  # batches the reader process may run ahead of the loader (~4 MB each)


class _QuarterReader:
    """``QuarterFile.batches`` in a process of its own, the batches handed over a pipe.

    Reading a quarter is pure Python, and so is much of loading it (psycopg encoding rows,
    deciding per filing): in one process the two took turns on the GIL, while PostgreSQL
    waited for one or the other. In two, the reader builds the next batch while the loader
    and the server store this one. The child rows cross the pipe encoded for COPY
    (``ingest.load.encode_children``), and each filing as plain tuples (``_to_wire``):
    pickling the rows' Decimals and dates, or one dataclass object per table, would cost more
    than the process frees. The process is forked by a fork server, or spawned
    (``_reader_context``). A ``DatasetError`` of the reader is raised again here; the
    quarter's counts (``filings``, ``rows_read``, ``orphan_rows``) are filled in when its last
    batch is read.
    """

    def __init__(self, data: bytes, quarter: str, filings_per_pass: int,
                 batch_filings: int) -> None:
        context = _reader_context()
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_read_quarter, args=(send, data, quarter, filings_per_pass, batch_filings),
            name=f"edgar-insider dataset reader {quarter}", daemon=True,
        )
        self._process.start()
        send.close()  # the reader's end now lives in the reader alone: EOF when it ends
        # A thread takes the messages off the pipe as they come (the pipe holds far less
        # than a batch), so that the reader runs up to READ_AHEAD batches ahead: through
        # its second pass over the zip, say, while the loader works on what it has.
        self._received: queue.Queue[bytes | None] = queue.Queue(maxsize=READ_AHEAD)
        self._stop = threading.Event()
        self._receiver = threading.Thread(target=self._receive_all, daemon=True,
                                          name=f"dataset receiver {quarter}")
        self._receiver.start()
        self.filings = 0
        self.cpu_seconds = 0.0
        self.rows_read: Counter[str] = Counter()
        self.orphan_rows: Counter[str] = Counter()

    def batches(self) -> Iterator[list[LoadItem]]:
        while True:
            message = self._received.get()
            if message is None:
                self._process.join()
                raise RuntimeError(
                    "the data-set reader process ended before the end of the quarter "
                    f"(exit code {self._process.exitcode})"
                )
            kind, value = pickle.loads(message)
            if kind == "batch":
                yield [_from_wire(filing) for filing in value]
            elif kind == "done":
                self.filings, rows_read, orphan_rows, self.cpu_seconds = value
                self.rows_read.update(rows_read)
                self.orphan_rows.update(orphan_rows)
                return
            elif kind == "error":
                raise value
            else:
                raise RuntimeError(f"the data-set reader process failed:\n{value}")

    def _receive_all(self) -> None:
        try:
            while self._hand_over(self._receive.recv_bytes()):
                pass
        except (EOFError, OSError):  # the reader ended (its last message was read before)
            self._hand_over(None)

    def _hand_over(self, message: bytes | None) -> bool:
        while not self._stop.is_set():
            try:
                self._received.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        self._stop.set()
        if self._process.is_alive():  # the loader stopped early: the rest is not wanted
            self._process.terminate()
        self._process.join()
        self._receiver.join()  # the reader's end is closed: it sees EOF, or the stop
        self._receive.close()

    def __enter__(self) -> _QuarterReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reader_context() -> multiprocessing.context.BaseContext:
    """Where the platform has it, a fork server: started once per process, with this module
    (the reader's imports) loaded, it forks each quarter's reader from that clean state in
    milliseconds where spawning one imports it all again (about a second). Never a plain
    fork: the loader's process holds a database connection and may run threads."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__])
    return context


def _to_wire(item: LoadItem) -> tuple:
    """A data-set filing as builtin values only, which pickle in C (``_from_wire`` undoes it)."""
    rows = item.rows
    children = {table: (value.data, value.rows) if isinstance(value, EncodedRows) else value
                for table, value in rows.children.items()}
    return (rows.accession_number, rows.source_kind, rows.parse_error, rows.filing, children,
            [tuple(row) for row in rows.issuers], [tuple(row) for row in rows.persons],
            rows.nul_problem, item.source_name, item.raw_sha256, item.raw_size)


def _from_wire(filing: tuple) -> LoadItem:
    (accession, source_kind, parse_error, filing_row, children, issuers, persons, nul_problem,
     source_name, raw_sha256, raw_size) = filing
    for table, value in children.items():
        if isinstance(value, tuple):  # (data, rows): encoded; a list holds rows
            children[table] = EncodedRows(*value)
    rows = FilingRows(accession, source_kind, parse_error, filing_row, children,
                      [IssuerRow._make(row) for row in issuers],
                      [PersonRow._make(row) for row in persons], nul_problem)
    return LoadItem(rows, source_name, raw_sha256, raw_size, raw_gzip=None)


def _read_quarter(send: Connection, data: bytes, quarter: str,
                  filings_per_pass: int, batch_filings: int) -> None:
    """The reader process (``_QuarterReader``): ("batch", items)... then ("done", counts),
    or the error that stopped it. Nothing of it is raised here: the loader's process says it."""
    try:
        with fewer_collections(), \
                QuarterFile(data, quarter, filings_per_pass=filings_per_pass) as dataset:
            for batch in dataset.batches(batch_filings):
                send.send(("batch", [_to_wire(encode_children(item)) for item in batch]))
            send.send(("done", (dataset.filings, dict(dataset.rows_read),
                                dict(dataset.orphan_rows), time.process_time())))
    except DatasetError as exc:
        with suppress(OSError):
            send.send(("error", exc))
    except BaseException:  # noqa: BLE001 - a bug, or the loader gone: said in its process
        with suppress(OSError):
            send.send(("failed", traceback.format_exc()))
    finally:
        send.close()


# Collection thresholds while a quarter loads: the oldest generation at most every
# 50,000 x 20 x 1,000 container allocations instead of 700 x 10 x 10 (Python's default).
_QUARTER_GC_THRESHOLDS = (50_000, 20, 1_000)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector run rarely while a quarter loads.

    A quarter's read holds a few hundred thousand live containers (its SUBMISSION lines, a
    pass's child lines, batches of row tuples in flight) and allocates millions more that
    survive until loaded: with the default thresholds the collector walked all of them again
    and again, 3 of the 12 CPU-seconds of a 60,000-filing quarter (benchmarks/RESULTS.md).
    The rows hold no reference cycles; what does is still collected, later.
    """
    before = gc.get_threshold()
    gc.set_threshold(*_QUARTER_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _record_quarter(
    conn: psycopg.Connection, report: QuarterReport, file_name: str, columns: list[str]
) -> None:
    conn.execute(
        "INSERT INTO dataset_quarters (quarter, file_name, zip_sha256, mapping_version, columns, "
        "filings, rows) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (quarter) DO UPDATE SET "
        "file_name = EXCLUDED.file_name, zip_sha256 = EXCLUDED.zip_sha256, "
        "mapping_version = EXCLUDED.mapping_version, columns = EXCLUDED.columns, "
        "filings = EXCLUDED.filings, rows = EXCLUDED.rows, loaded_at = now()",
        (report.quarter, file_name, report.zip_sha256, MAPPING_VERSION, columns, report.filings,
         report.rows),
    )
