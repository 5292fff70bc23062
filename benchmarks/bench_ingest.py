"""Ingest benchmark: the real CLI, from disk into PostgreSQL, end to end.

    python -m benchmarks.bench_ingest --filings 50000          # one size
    python -m benchmarks.bench_ingest --sizes 10000,50000      # several (fresh database each)
    python -m benchmarks.bench_ingest --quick                  # 2,000 filings

For each size: the corpus (``tests/fixtures/submissions/*.txt`` and
``tests/fixtures/ownership/*.xml``) is replicated under distinct accession numbers into a
temp folder, a scratch database is created on the server (``--server``, default
``postgresql://postgres@127.0.0.1:5432/postgres``) and migrated with ``edgar-insider
migrate``, then ``edgar-insider ingest DIR`` and ``reparse --all`` run as
subprocesses with ``DATABASE_URL`` pointing at it. The peak RSS of the whole process tree
(the CLI and its spawned parse workers) is sampled with psutil every 20 ms. Database and
folder are removed afterwards (``--keep`` leaves them).

Rows are counted in every child table of ``filings`` (owners, the four transaction/holding
tables, footnotes and their references, signatures, unmapped values). Timings are
figures to report, never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from ingest.rows import CHILD_TABLE_NAMES

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"

CHILD_TABLES = CHILD_TABLE_NAMES  # every child table of filings (ingest.rows)
_ACCESSION = re.compile(rb"\d{10}-\d{2}-\d{6}")
FILES_PER_FOLDER = 1000


# ---------------------------------------------------------------------------
# Corpus replication
# ---------------------------------------------------------------------------


def templates() -> list[tuple[str, bytes]]:
    """(suffix, bytes) of every corpus file: full .txt submissions and bare ownership XML."""
    found = sorted((FIXTURES / "submissions").glob("*.txt")) + sorted(
        (FIXTURES / "ownership").glob("*.xml")
    )
    return [(path.suffix, path.read_bytes()) for path in found]


def _renumber(raw: bytes, name: str, accession: str) -> bytes:
    """The file under a new accession number: every accession its header (and the file
    name) carries is rewritten, so each copy is a distinct filing."""
    head, sep, rest = raw.partition(b"</SEC-HEADER>")
    if not sep:  # bare XML or a header-less text filing: the file name keys it
        head, rest = raw[:4096], raw[4096:]
    olds = set(_ACCESSION.findall(head))
    named = _ACCESSION.match(name.encode())
    if named:
        olds.add(named.group(0))
    new = accession.encode()
    for old in olds:
        head = head.replace(old, new)
        rest = rest.replace(old, new)
    return head + sep + rest


def replicate(dest: Path, count: int) -> int:
    """Write ``count`` files (the corpus, round after round) under ``dest``; returns bytes."""
    corpus = templates()
    names = [p.name for p in sorted((FIXTURES / "submissions").glob("*.txt"))] + [
        p.name for p in sorted((FIXTURES / "ownership").glob("*.xml"))
    ]
    written = 0
    folder: Path | None = None
    for n in range(count):
        if n % FILES_PER_FOLDER == 0:
            folder = dest / f"part{n // FILES_PER_FOLDER:04d}"
            folder.mkdir(parents=True, exist_ok=True)
        assert folder is not None
        index, round_ = n % len(corpus), n // len(corpus)
        suffix, raw = corpus[index]
        # Agent 91xxxxx per template, serial per round: unique and valid (ACCESSION_RE).
        accession = f"{9_100_000 + index:010d}-24-{round_ + 1:06d}"
        data = _renumber(raw, names[index], accession)
        (folder / f"{accession}{suffix}").write_bytes(data)
        written += len(data)
    return written


# ---------------------------------------------------------------------------
# Scratch database
# ---------------------------------------------------------------------------


def _with_database(server: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server).set(drivername="postgresql", database=name).render_as_string(
        hide_password=False
    )


class ScratchDatabase:
    """``CREATE DATABASE edgar_bench_<hex>`` on the server; dropped on exit."""

    def __init__(self, server: str, prefix: str = "edgar_bench", keep: bool = False) -> None:
        self.server = _with_database(server, make_url_database(server))
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.url = _with_database(server, self.name)
        self.keep = keep

    def __enter__(self) -> ScratchDatabase:
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            print(f"kept database {self.name}", file=sys.stderr)
            return
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def migrate(self) -> None:
        subprocess.run(
            [*cli_command(), "migrate"],
            cwd=REPO, env=self.env(), check=True, capture_output=True,
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DATABASE_URL"] = self.url
        return env


def make_url_database(server: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server).database or "postgres"


def count_rows(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in ("filings", "raw_submissions", *CHILD_TABLES)
        }


# ---------------------------------------------------------------------------
# Process-tree memory
# ---------------------------------------------------------------------------


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants until stopped.

    psutil when installed; otherwise /proc (Linux). RSS counts shared pages once per
    process, so the sum is an upper bound of what the tree really holds. With
    ``database`` set (and psutil), also follows the CPU time of the PostgreSQL backends
    serving that database (their command line names it).
    """

    def __init__(self, pid: int, interval: float = 0.02, database: str | None = None) -> None:
        self.pid = pid
        self.interval = interval
        self.database = database
        self.peak = 0
        self.peak_processes = 0
        self.peak_pss = 0  # proportional set size: shared pages split between processes
        self.server_cpu: dict[int, float] = {}
        self.per_process: dict[int, dict] = {}  # pid -> {"role", "peak_rss", "cpu"} (psutil)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        ticks = 0
        while not self._stop.is_set():
            total, count = _tree_rss(self.pid, self.per_process)
            if total > self.peak:
                self.peak, self.peak_processes = total, count
            if ticks % 10 == 0:
                self.peak_pss = max(self.peak_pss, _tree_pss(self.pid))
                if self.database:
                    self._sample_server()
            ticks += 1
            self._stop.wait(self.interval)
        if self.database:
            self._sample_server()

    def _sample_server(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        marker = f" {self.database} "
        for proc in psutil.process_iter(["name", "cmdline"]):
            try:
                cmdline = " ".join(proc.info["cmdline"] or [])
                if "postgres" in (proc.info["name"] or "") and marker in cmdline:
                    times = proc.cpu_times()
                    self.server_cpu[proc.pid] = times.user + times.system
            except psutil.Error:
                continue


def _tree_rss(pid: int, detail: dict[int, dict] | None = None) -> tuple[int, int]:
    try:
        import psutil
    except ImportError:
        return _proc_tree_rss(pid)
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    total = 0
    for proc in procs:
        try:
            rss = proc.memory_info().rss
            if detail is not None:
                entry = detail.get(proc.pid)
                if entry is None:
                    cmdline = " ".join(proc.cmdline())
                    role = ("cli" if proc.pid == pid else
                            "resource tracker" if "resource_tracker" in cmdline else "worker")
                    entry = detail[proc.pid] = {"role": role, "peak_rss": 0, "cpu": 0.0}
                entry["peak_rss"] = max(entry["peak_rss"], rss)
                times = proc.cpu_times()
                entry["cpu"] = times.user + times.system
            total += rss
        except psutil.Error:
            continue
    return total, len(procs)


def _tree_pss(pid: int) -> int:
    """Summed PSS of the tree (psutil, Linux), 0 when unavailable. Reading smaps is slow,
    so this is sampled less often than RSS."""
    try:
        import psutil

        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except (ImportError, Exception):  # noqa: BLE001 - psutil missing or the process gone
        return 0
    total = 0
    for proc in procs:
        try:
            total += getattr(proc.memory_full_info(), "pss", 0)
        except Exception:  # noqa: BLE001 - exited meanwhile, or no smaps
            continue
    return total


def _proc_tree_rss(pid: int) -> tuple[int, int]:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * page
        except (OSError, ValueError, IndexError):
            continue
    total, count, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        count += current in rss
        todo.extend(children.get(current, []))
    return total, count


# ---------------------------------------------------------------------------
# One run of the CLI
# ---------------------------------------------------------------------------


@dataclass
class CliRun:
    command: str
    filings: int
    seconds: float
    peak_rss_mb: float
    peak_processes: int
    child_rows: int
    exit_code: int
    summary: str
    client_cpu_s: float = 0.0  # the CLI and its parse workers (user + system)
    server_cpu_s: float = 0.0  # PostgreSQL backends serving the scratch database
    processes: list[dict] = field(default_factory=list)  # role, peak RSS MB, CPU s (sampled)
    peak_pss_mb: float = 0.0  # the tree's peak summed PSS (sampled every ~0.2 s)

    @property
    def filings_per_s(self) -> float:
        return self.filings / self.seconds if self.seconds else 0.0

    @property
    def rows_per_s(self) -> float:
        return self.child_rows / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_filing(self) -> float:
        return 1000 * (self.client_cpu_s + self.server_cpu_s) / self.filings if self.filings else 0.0


def cli_command() -> list[str]:
    """The command users run: the ``edgar-insider`` console script of this interpreter's
    environment (its parse workers are lean), else ``python -m ingest`` (the same)."""
    script = Path(sys.executable).parent / "edgar-insider"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ingest"]


def run_cli(command: str, args: list[str], env: dict[str, str], log: Path, database: str,
            filings_of: Callable[[], tuple[int, int]]) -> CliRun:
    """Run ``edgar-insider ARGS``: wall time, peak tree RSS, CPU of the tree and of
    the database's backends; ``filings_of()`` and child rows are read afterwards."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "ab") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*cli_command(), *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err,
        )
        with TreeMemory(proc.pid, database=database) as memory:
            out, _ = proc.communicate()
        seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = out.decode(errors="replace").strip().splitlines()
    filings, child_rows = filings_of()
    return CliRun(command, filings, seconds, memory.peak / 2**20, memory.peak_processes,
                  child_rows, proc.returncode, " | ".join(lines[-2:]), client_cpu,
                  sum(memory.server_cpu.values()),
                  [{"role": d["role"], "peak_rss_mb": round(d["peak_rss"] / 2**20, 1),
                    "cpu_s": round(d["cpu"], 2)} for d in memory.per_process.values()],
                  memory.peak_pss / 2**20)


@dataclass
class SizeResult:
    filings: int
    corpus_mb: float
    ingest: CliRun
    reparse: CliRun | None
    rows: dict[str, int] = field(default_factory=dict)


def bench_size(
    count: int,
    *,
    server: str = DEFAULT_SERVER,
    reparse: bool = True,
    workers: int | None = None,
    batch_size: int | None = None,
    keep: bool = False,
    verbose: bool = True,
) -> SizeResult:
    extra: list[str] = []
    if workers is not None:
        extra += ["--workers", str(workers)]
    if batch_size is not None:
        extra += ["--batch-size", str(batch_size)]
    folder = Path(tempfile.mkdtemp(prefix="edgar-bench-ingest-"))
    try:
        size = replicate(folder / "corpus", count)
        log = folder / "cli.log"
        with ScratchDatabase(server, keep=keep) as database:
            database.migrate()
            env = database.env()
            rows: dict[str, int] = {}

            def filings_of() -> tuple[int, int]:
                rows.update(count_rows(database.url))
                return rows["filings"], sum(rows[t] for t in CHILD_TABLES)

            if verbose:
                print(f"[ingest] {count} filings ({size / 1e6:.0f} MB) -> {database.name}",
                      file=sys.stderr)
            ingest = run_cli("ingest", ["ingest", str(folder / "corpus"), *extra], env, log,
                             database.name, filings_of)
            if verbose:
                print(f"[ingest] {_describe(ingest)}", file=sys.stderr)
            again = None
            if reparse:
                again = run_cli("reparse --all", ["reparse", "--all", *extra], env, log,
                                database.name, filings_of)
                if verbose:
                    print(f"[reparse] {_describe(again)}", file=sys.stderr)
            if (ingest.exit_code not in (0, 1)) or (again and again.exit_code not in (0, 1)):
                sys.stderr.write(log.read_text(errors="replace")[-4000:])
        return SizeResult(count, size / 1e6, ingest, again, rows)
    finally:
        if keep:
            print(f"kept folder {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _describe(run: CliRun) -> str:
    return (
        f"{run.filings} filings in {run.seconds:.1f} s = {run.filings_per_s:,.0f} filings/s, "
        f"{run.child_rows:,} rows = {run.rows_per_s:,.0f} rows/s, peak RSS {run.peak_rss_mb:.0f} MB "
        f"({run.peak_processes} processes; PSS {run.peak_pss_mb:.0f} MB), "
        f"CPU {run.client_cpu_s:.1f} s client + "
        f"{run.server_cpu_s:.1f} s server = {run.cpu_ms_per_filing:.2f} ms/filing, "
        f"exit {run.exit_code}: {run.summary}; per process: "
        + ", ".join(f"{p['role']} {p['peak_rss_mb']:.0f} MB {p['cpu_s']:.1f} s" for p in run.processes)
    )


def run(sizes: list[int], **options: object) -> list[dict]:
    """Benchmark each size on its own fresh database; a list of plain dicts."""
    results = []
    for count in sizes:
        result = bench_size(count, **options)  # type: ignore[arg-type]
        results.append(_as_dict(result))
    return results


def _as_dict(result: SizeResult) -> dict:
    out = {"filings": result.filings, "corpus_mb": round(result.corpus_mb, 1), "rows": result.rows}
    for key, cli_run in (("ingest", result.ingest), ("reparse", result.reparse)):
        if cli_run is None:
            continue
        data = asdict(cli_run)
        data["filings_per_s"] = round(cli_run.filings_per_s, 1)
        data["rows_per_s"] = round(cli_run.rows_per_s, 1)
        data["seconds"] = round(cli_run.seconds, 2)
        data["peak_rss_mb"] = round(cli_run.peak_rss_mb, 1)
        data["peak_pss_mb"] = round(cli_run.peak_pss_mb, 1)
        data["client_cpu_s"] = round(cli_run.client_cpu_s, 2)
        data["server_cpu_s"] = round(cli_run.server_cpu_s, 2)
        data["cpu_ms_per_filing"] = round(cli_run.cpu_ms_per_filing, 3)
        out[key] = data
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filings", type=int, help="one size (files to ingest)")
    parser.add_argument("--sizes", help="comma-separated sizes [default: 10000,50000]")
    parser.add_argument("--quick", action="store_true", help="2,000 filings")
    parser.add_argument("--server", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
                        help="PostgreSQL server URL to create scratch databases on "
                        "[default: $BENCH_DATABASE_URL or %(default)s]")
    parser.add_argument("--workers", type=int, help="passed to the CLI (default: its own)")
    parser.add_argument("--batch-size", type=int, help="passed to the CLI (default: its own)")
    parser.add_argument("--no-reparse", action="store_true", help="skip reparse --all")
    parser.add_argument("--keep", action="store_true", help="keep the database and folder")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.filings:
        sizes = [args.filings]
    elif args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    else:
        sizes = [2000] if args.quick else [10_000, 50_000]
    results = run(sizes, server=args.server, reparse=not args.no_reparse, workers=args.workers,
                  batch_size=args.batch_size, keep=args.keep)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))
    return 0


def format_table(results: list[dict]) -> str:
    lines = [f"{'command':<14} {'filings':>8} {'seconds':>8} {'filings/s':>10} {'rows':>10} "
             f"{'rows/s':>10} {'peak RSS MB':>12} {'peak PSS MB':>12} {'CPU ms/filing':>14}"]
    for result in results:
        for key in ("ingest", "reparse"):
            r = result.get(key)
            if r is None:
                continue
            lines.append(
                f"{r['command']:<14} {r['filings']:>8,} {r['seconds']:>8.1f} "
                f"{r['filings_per_s']:>10,.0f} {r['child_rows']:>10,} {r['rows_per_s']:>10,.0f} "
                f"{r['peak_rss_mb']:>12.0f} {r['peak_pss_mb']:>12.0f} {r['cpu_ms_per_filing']:>14.2f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
