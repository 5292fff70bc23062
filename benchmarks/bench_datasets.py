"""Data-set benchmark: one quarter of SEC's Insider Transactions Data Sets into PostgreSQL.

    python -m benchmarks.bench_datasets                    # 60,000 filings, ~400,000 rows
    python -m benchmarks.bench_datasets --filings 5000     # smaller
    python -m benchmarks.bench_datasets --profile          # cProfile of the load, top 30
    python -m benchmarks.bench_datasets --floor            # + what storing the rows alone costs

A quarter zip in SEC's layout (tests/dataset_zip.py) is built by replicating the corpus's
filings (full submissions and bare XML documents, as the data sets would hold them) under
distinct accession numbers, filed on the business days of 2024 Q3, issuers and owners spread
over a few thousand CIKs; templates are mixed so that a filing has ``--rows-per-filing`` data-set rows
on average (2024 Q3: 36,075 filings; 400,000 rows for 60,000 filings is ~6.7). Then, on a
scratch database (``--server``, default ``$BENCH_DATABASE_URL`` or
``postgresql://postgres@127.0.0.1:5432/postgres``, migrated to head, dropped afterwards):

* read: ``QuarterFile.batches`` alone (unzip, split, convert, build rows; no database);
* load: ``load_quarter`` on the empty database: mapped by PostgreSQL over two connections
  (``ingest.dataset_server``; ``load_server_cpu_s`` counts all three server processes);
* python_load: the same, read in Python (``on_server=False``: COPY in batches, one
  transaction; the zip read in a process of its own, whose CPU is reported apart:
  ``python_load_reader_cpu_s``), on another empty database;
* reload: the same quarter republished (another zip, same rows): every filing unchanged
  (read in Python: the filings are stored);
* floor (``--floor``): the rows the load stored, every table it wrote, copied out and COPYed
  back (binary, in one transaction, rolled back), with the tables' indexes and without their
  secondary ones: what PostgreSQL spends storing them, with no reading or mapping at all.

Rows are data-set rows (lines of the eight tables). Figures are reported, never judged.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import dataset_server, db  # noqa: E402
from ingest.dataset_load import fewer_collections, load_quarter  # noqa: E402
from ingest.datasets import QuarterFile  # noqa: E402
from tests import dataset_zip as dz  # noqa: E402
from tests.edgar_standin import business_days  # noqa: E402

DEFAULT_SERVER = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
QUARTER = "2024q3"
CIK_SPREAD = 4000  # issuers/owners per template spread over this many CIKs
XML_BACKFILL_DAYS = (5, 6)  # README: the whole history at SEC's 10 requests/s
QUARTERS_OF_HISTORY = 80  # 2006 Q1 to 2025 Q4
DATABASE_TABLES = ("filings", "filing_owners", "non_derivative_transactions",
                   "non_derivative_holdings", "derivative_transactions", "derivative_holdings",
                   "footnotes", "footnote_references", "owner_signatures", "unmapped_values")


def _rows(filing: dz.DatasetFiling) -> int:
    return sum(len(rows) for rows in filing.tables.values())


def templates() -> list[dz.DatasetFiling]:
    parsed = [*dz.corpus_submissions(), *dz.corpus_documents()]
    found = (dz.dataset_filing(p) for p in parsed)
    return [f for f in found if f is not None]


def replicate(count: int, rows_per_filing: float) -> list[dz.DatasetFiling]:
    """``count`` filings from the corpus's, ``rows_per_filing`` data-set rows on average."""
    pool = templates()
    small = sorted((f for f in pool if _rows(f) <= rows_per_filing), key=_rows)
    large = sorted((f for f in pool if _rows(f) > rows_per_filing), key=_rows)
    days = list(business_days(date(2024, 7, 1), date(2024, 9, 30)))
    out, total = [], 0
    for n in range(count):
        group = large if (total < (n + 1) * rows_per_filing and large) or not small else small
        template = group[n % len(group)]
        out.append(_copy(template, n, days[n * len(days) // count]))
        total += _rows(template)
    return out


def _copy(template: dz.DatasetFiling, n: int, filed: date) -> dz.DatasetFiling:
    accession = f"{9100000000 + n // 999_999:010d}-24-{n % 999_999 + 1:06d}"
    spread = (n % CIK_SPREAD) * 2_000_000
    tables = {}
    for table, rows in template.tables.items():
        copied = []
        for row in rows:
            row = dict(row)
            for column in ("ISSUERCIK", "RPTOWNERCIK"):
                if row.get(column, "").isdigit():
                    row[column] = f"{spread + int(row[column]) % 2_000_000:010d}"
            if table == "SUBMISSION":
                row["FILING_DATE"] = dz.format_date(filed.isoformat())
            copied.append(row)
        tables[table] = copied
    return replace(template, accession=accession, filed=filed, accepted=None, tables=tables)


# Every table a data-set load writes (the analyst rows included), in an order COPY can fill.
STORED_TABLES = (*DATABASE_TABLES, "issuers", "persons", "filing_summaries", "amended_lines",
                 "filing_trade_totals", "insider_trade_days",
                 "insider_trade_day_filings")


def run(filings: int, rows_per_filing: float, server: str, profile: bool = False,
        floor: bool = False) -> dict:
    """Build the quarter, then read and load it in a fresh process (its peak memory is the
    reader's and loader's own, not the builder's)."""
    started = time.monotonic()
    data = dz.build_zip(replicate(filings, rows_per_filing))
    built = time.monotonic() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{QUARTER}_form345.zip"
        path.write_bytes(data)
        command = [sys.executable, "-m", "benchmarks.bench_datasets", "--load-zip", str(path),
                   "--server", server, "--json", *(["--profile"] if profile else []),
                   *(["--floor"] if floor else [])]
        done = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True)
    result = {"filings": filings, "zip_mb": round(len(data) / 1e6, 1), "build_s": round(built, 1)}
    result.update(json.loads(done.stdout))
    return result


def load_zip(path: Path, server: str, profile: bool = False, floor: bool = False) -> dict:
    """Load one quarter zip on a scratch database (peak memory measured right after) as
    ``load_quarter`` does (on the server), then reload it republished, then load it again on
    another scratch database read in Python (``on_server=False``, ``python_load_*``), then
    read it alone (no database)."""
    data = path.read_bytes()
    result: dict = {}
    name, url = create_database(server)
    try:
        with db.connect(url, autocommit=True) as conn, _WritersCpu() as writers_cpu:
            profiler = cProfile.Profile() if profile else None
            server_cpu = _ServerCpu(conn)
            started, cpu = time.monotonic(), time.process_time()
            if profiler:
                profiler.enable()
            report = load_quarter(conn, data, quarter=QUARTER)
            if profiler:
                profiler.disable()
            load, load_cpu = time.monotonic() - started, time.process_time() - cpu
            result["load_peak_rss_mb"] = _peak_rss_mb()
            rows, filings = report.rows, report.filings
            assert report.loaded == filings and report.failed == 0, report
            result.update(rows=rows, rows_per_table=report.rows_per_table,
                          load_read_by=report.read_by, load_not_on_server=report.not_on_server,
                          load_s=round(load, 2), load_rows_per_s=round(rows / load),
                          load_filings_per_s=round(filings / load),
                          load_client_cpu_s=round(load_cpu, 2),
                          load_reader_cpu_s=round(report.reader_cpu_seconds, 2),
                          load_server_cpu_s=_sum(server_cpu.seconds(), writers_cpu.seconds))
            tables = ", ".join(f"(SELECT count(*) FROM {t})" for t in DATABASE_TABLES)
            result["database_rows"] = sum(conn.execute(f"SELECT {tables}").fetchone())
            if floor:
                result["floor_server_cpu_s"] = {
                    "with_indexes": _storing_floor(conn, keep_indexes=True),
                    "without_secondary_indexes": _storing_floor(conn, keep_indexes=False),
                }

            republished = _republished(data)
            started = time.monotonic()
            again = load_quarter(conn, republished, quarter=QUARTER)
            reload = time.monotonic() - started
            assert again.unchanged == filings, again
            result.update(reload_s=round(reload, 2), reload_rows_per_s=round(rows / reload))
        if profiler:
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(30)
            result["profile"] = stream.getvalue()
    finally:
        drop_database(server, name)
    result.update(_load_in_python(data, server))

    started, cpu = time.monotonic(), time.process_time()
    with QuarterFile(data, QUARTER) as dataset, fewer_collections():  # as load_quarter reads
        for _ in dataset.batches():
            pass
    read, read_cpu = time.monotonic() - started, time.process_time() - cpu
    result.update(read_s=round(read, 2), read_cpu_s=round(read_cpu, 2),
                  read_rows_per_s=round(rows / read))
    per_quarter = result["load_s"] * (60_000 / filings)
    result["history_minutes_at_60000_per_quarter"] = round(QUARTERS_OF_HISTORY * per_quarter / 60, 1)
    return result


def _load_in_python(data: bytes, server: str) -> dict:
    """The same quarter loaded read in Python (the lane before the server's), fresh database."""
    name, url = create_database(server)
    try:
        with db.connect(url, autocommit=True) as conn:
            server_cpu = _ServerCpu(conn)
            started, cpu = time.monotonic(), time.process_time()
            report = load_quarter(conn, data, quarter=QUARTER, on_server=False)
            load, load_cpu = time.monotonic() - started, time.process_time() - cpu
            assert report.loaded == report.filings and report.read_by == "python", report
            return dict(python_load_s=round(load, 2),
                        python_load_rows_per_s=round(report.rows / load),
                        python_load_client_cpu_s=round(load_cpu, 2),
                        python_load_reader_cpu_s=round(report.reader_cpu_seconds, 2),
                        python_load_server_cpu_s=server_cpu.seconds())
    finally:
        drop_database(server, name)


class _WritersCpu:
    """CPU seconds of the server processes of the data-set writers' connections
    (``ingest.dataset_server``), read from /proc as each closes; None where unreadable."""

    def __init__(self) -> None:
        self.seconds: float | None = 0.0

    def __enter__(self) -> _WritersCpu:
        self._before = dataset_server.connection_like
        dataset_server.connection_like = self._connect
        return self

    def __exit__(self, *exc: object) -> None:
        dataset_server.connection_like = self._before

    def _connect(self, conn: psycopg.Connection) -> psycopg.Connection:
        other = self._before(conn)
        cpu = _ServerCpu(other)
        close = other.close

        def close_and_count() -> None:
            seconds = cpu.seconds()
            self.seconds = _sum(self.seconds, seconds if seconds is not None else None)
            close()

        other.close = close_and_count  # type: ignore[method-assign]
        return other


def _sum(*seconds: float | None) -> float | None:
    return None if any(s is None for s in seconds) else round(sum(seconds), 2)  # type: ignore[arg-type]


def drop_secondary_indexes(conn: psycopg.Connection) -> None:
    """Drop the indexes of STORED_TABLES that are neither primary keys nor unique."""
    secondary = conn.execute(
        "SELECT indexrelid::regclass::text FROM pg_index "
        "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT indisunique",
        (list(STORED_TABLES),),
    ).fetchall()
    for (index,) in secondary:
        conn.execute(f"DROP INDEX {index}")


def _storing_floor(conn: psycopg.Connection, keep_indexes: bool) -> float | None:
    """Server CPU seconds to COPY back what the load stored (see the module docstring), in a
    transaction rolled back: the database is left as the load left it."""
    cur = conn.cursor()
    stored = {}
    for table in STORED_TABLES:
        with cur.copy(f"COPY {table} TO STDOUT (FORMAT BINARY)") as copy:
            stored[table] = b"".join(bytes(block) for block in copy)
    with conn.transaction(force_rollback=True):
        cur.execute("TRUNCATE filings CASCADE")  # its trigger empties the analyst tables
        cur.execute("TRUNCATE issuers, persons")
        cur.execute("SET LOCAL session_replication_role = replica")  # as the loader does
        if not keep_indexes:
            drop_secondary_indexes(conn)
        server_cpu = _ServerCpu(conn)
        for table, data in stored.items():
            with cur.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
        return server_cpu.seconds()


def _peak_rss_mb() -> int:
    """This process's peak resident memory: VmHWM, which starts anew at exec (ru_maxrss
    would count the parent this process was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class _ServerCpu:
    """CPU seconds the connection's server process used since this was made, when the
    server runs on this machine (its /proc entry is readable); None otherwise. On a shared
    machine the wall time depends on the other processes, the CPU time does not."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.path = Path(f"/proc/{conn.info.backend_pid}/stat")
        self.start = self._read()

    def _read(self) -> float | None:
        try:
            fields = self.path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float | None:
        end = self._read()
        return None if end is None or self.start is None else round(end - self.start, 2)


def _republished(data: bytes) -> bytes:
    """The same tables under another zip (another SHA-256): every filing reads as unchanged."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        target.writestr("README.txt", b"republished\n")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--filings", type=int, default=60_000)
    parser.add_argument("--rows-per-filing", type=float, default=400_000 / 60_000)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--floor", action="store_true",
                        help="also measure what storing the loaded rows alone costs the server")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--load-zip", type=Path, help=argparse.SUPPRESS)  # the measuring process
    args = parser.parse_args()
    if args.load_zip:
        print(json.dumps(load_zip(args.load_zip, args.server, args.profile, args.floor)))
        return
    result = run(args.filings, args.rows_per_filing, args.server, args.profile, args.floor)
    profile = result.pop("profile", None)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>40}: {value}")
        low, high = XML_BACKFILL_DAYS
        print(f"{'2006-today, 80 quarters':>40}: {result['history_minutes_at_60000_per_quarter']} "
              f"min (XML backfill at 10 requests/s: {low}-{high} days)")
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
