"""Load one quarter of SEC's Insider Transactions Data Sets: one resumable unit.

``load_quarter(conn, zip_bytes, quarter="2024q3")`` reads the zip (``ingest.datasets``) and
stores its filings through ``ingest.load.Loader`` (COPY, ``batch_filings`` filings per
batch) in ONE transaction, which also records the quarter in ``dataset_quarters``. Killed
at any point, nothing of the quarter is stored, so running it again loads it whole: nothing
lost, nothing doubled. A quarter already recorded with the same zip (SHA-256) is not read
again; a republished zip is, and its filings whose rows did not change stay ``unchanged``.

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
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import psycopg

from .dataset_catalog import DATASET_TABLES
from .datasets import (
    DEFAULT_BATCH_FILINGS,
    DEFAULT_FILINGS_PER_PASS,
    MAPPING_VERSION,
    DatasetError,
    QuarterFile,
    dataset_file_name,
    normalize_quarter,
)
from .load import DATASET_NEVER_REPLACES, Loader
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


def load_quarter(
    conn: psycopg.Connection,
    source: bytes | BinaryIO,
    *,
    quarter: str,
    batch_filings: int = DEFAULT_BATCH_FILINGS,
    filings_per_pass: int = DEFAULT_FILINGS_PER_PASS,
) -> QuarterReport:
    """Load one quarter's zip (bytes, or a seekable binary file) on an autocommit connection.

    Raises ``DatasetError`` (already recorded in ``ingest_errors``) when the quarter cannot
    be read; database failures other than a single refused filing propagate as they do from
    ``Loader.load`` (nothing of the quarter is then stored).
    """
    quarter = normalize_quarter(quarter)
    started = time.monotonic()
    digest = _sha256(source)
    report = QuarterReport(quarter, "loaded", digest)
    if loaded_quarters(conn).get(quarter) == digest:
        report.status = "unchanged"
        return report
    try:
        with QuarterFile(source, quarter, filings_per_pass=filings_per_pass) as dataset, \
                conn.transaction(), fewer_collections():
            _load(conn, dataset, batch_filings, report)
            columns = dataset.columns
            _record_quarter(conn, report, dataset.source_name, columns)
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


def _load(conn: psycopg.Connection, dataset: QuarterFile, batch_filings: int,
          report: QuarterReport) -> None:
    # The quarter is one transaction: issuers/persons and the analyst rows are brought up to
    # date once, at its end (Loader.finish), not batch by batch.
    loader = Loader(conn, deferred=True)
    statuses: Counter[str] = Counter()
    with closing(_read_ahead(dataset.batches(batch_filings))) as batches:
        for batch in batches:
            for result in loader.load(batch):
                kept = result.status == "unchanged" and result.message == DATASET_NEVER_REPLACES
                statuses["kept_filing" if kept else result.status] += 1
    loader.finish()
    report.filings = dataset.filings
    report.rows = dataset.rows
    report.rows_per_table = {t.name: dataset.rows_read[t.name] for t in DATASET_TABLES}
    report.orphan_rows = dict(dataset.orphan_rows)
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
            dataset.source_name,
        )])


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


def _read_ahead(batches: Iterator[list[LoadItem]], depth: int = 2) -> Iterator[list[LoadItem]]:
    """The batches, read by a thread ``depth`` batches ahead: the next batch is built while
    the server stores this one (reading is pure Python; the loader mostly waits on COPY).
    An error of the reader is raised here, in the caller's thread."""
    handoff: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        handoff.put(("batch", batch), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            handoff.put(("error", exc))

    reader = threading.Thread(target=read, name="dataset-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "done":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()


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


def _sha256(source: bytes | BinaryIO) -> str:
    if isinstance(source, bytes | bytearray | memoryview):
        return hashlib.sha256(source).hexdigest()
    start = source.tell()
    digest = hashlib.sha256()
    while chunk := source.read(1 << 20):
        digest.update(chunk)
    source.seek(start)
    return digest.hexdigest()
