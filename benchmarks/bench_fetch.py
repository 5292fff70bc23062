"""Fetch benchmark: a nightly sync of N ownership filings against the local EDGAR stand-in.

    python -m benchmarks.bench_fetch --filings 2000            # the nightly day (~3.5 min)
    python -m benchmarks.bench_fetch --quick                   # 200 filings
    python -m benchmarks.bench_fetch --filings 2000 --burn 1   # with a CPU burner alongside

One day of ``N`` distinct ownership filings (real corpus submissions under new accession
numbers, ``tests/sitegen.ownership_day``) plus a few non-ownership filings is published on
the stand-in (``tests/edgar_standin.EdgarStandin``, SEC's rule: at most ``--max-rps``
requests in any sliding second, an over-limit request gets 429). Then ``ingest.runs.Run``
syncs that day into a scratch PostgreSQL database exactly as ``edgar-insider sync --date``
does: daily index, one request per filing, parse and load overlapped. The stand-in runs in
this process, like in ``tests/test_sync.py``: its handler threads share the interpreter with
the fetch, parse and load threads, which makes request arrival times jitter more than they
would at SEC (a harsher test of the limiter).

Reported from the stand-in's own request log: requests/s over the filing downloads, the most
requests in any 1-second window (SEC: never more than 10), the smallest span of any 11
consecutive arrivals (above 1 s means no window can hold 11; the excess is the slack left
for jitter), refused requests (429), and the sync's wall time: "a nightly day". Timings are
figures to report, never pass/fail.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # tests.* (the stand-in) lives beside the package
    sys.path.insert(0, str(REPO))

DAY = date(2024, 3, 5)  # a Tuesday
USER_AGENT = "edgar-insider benchmark bench@example.org"


def _burn(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


@contextlib.contextmanager
def cpu_burners(count: int):
    """``count`` processes spinning on a CPU each (the other core busy, as on a shared box)."""
    if count <= 0:
        yield
        return
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=_burn, args=(stop,), daemon=True) for _ in range(count)]
    for proc in procs:
        proc.start()
    try:
        yield
    finally:
        stop.set()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def _serve(root: str, max_rps: float, conn) -> None:  # type: ignore[no-untyped-def]
    """Child process: the stand-in, until told to stop; then its request log."""
    sys.path.insert(0, str(REPO))
    from tests.edgar_standin import EdgarStandin

    with EdgarStandin(Path(root), max_rps=max_rps) as sec:
        conn.send((sec.base_url, sec.data_url))
        conn.recv()
        conn.send([(r.t, r.path, r.status) for r in sec.requests])


@dataclasses.dataclass
class _Record:
    t: float
    path: str
    status: int


@contextlib.contextmanager
def standin(root: Path, max_rps: float, where: str):
    """Start the stand-in here (a thread of this process, like the tests) or in a process of
    its own (like SEC: not sharing this interpreter); yields (urls, log getter)."""
    if where == "thread":
        from tests.edgar_standin import EdgarStandin

        with EdgarStandin(root, max_rps=max_rps) as sec:
            yield (sec.base_url, sec.data_url), (lambda: sec.requests)
        return
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(str(root), max_rps, child), daemon=True)
    proc.start()
    log: list[_Record] = []

    def get_log() -> list[_Record]:
        if not log:
            parent.send("stop")
            log.extend(_Record(*row) for row in parent.recv())
        return log

    try:
        yield parent.recv(), get_log
    finally:
        get_log()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()


def min_span(times: list[float], count: int) -> float:
    """Smallest time between arrival i and arrival i + count - 1 (inf if fewer)."""
    ordered = sorted(times)
    spans = [ordered[i + count - 1] - ordered[i] for i in range(len(ordered) - count + 1)]
    return min(spans) if spans else float("inf")


def bench_sync(
    filings: int,
    *,
    server: str,
    max_rps: float = 10,
    workers: int = 4,
    burn: int = 0,
    margin: float | None = None,
    spacing: float | None | str = "default",
    where: str = "process",
    verbose: bool = True,
) -> dict:
    """One sync of ``filings`` ownership filings on a fresh stand-in and database."""
    from benchmarks.bench_ingest import ScratchDatabase
    from ingest.config import EdgarSettings
    from ingest.db import normalize_url
    from ingest.fetch import EdgarClient, RateLimiter, RetryPolicy
    from ingest.runs import Run
    from tests.edgar_standin import build_site, max_in_window
    from tests.sitegen import other_forms, ownership_day

    limiter_options: dict = {}
    if margin is not None:
        limiter_options["margin"] = margin
    if spacing != "default":
        limiter_options["spacing"] = spacing
    folder = Path(tempfile.mkdtemp(prefix="edgar-bench-fetch-"))
    try:
        site = build_site(folder / "edgar", ownership_day(DAY, filings) + other_forms(DAY, 20))
        with (
            ScratchDatabase(server) as database,
            standin(folder / "edgar", max_rps, where) as ((base_url, data_url), get_log),
        ):
            database.migrate()
            settings = EdgarSettings(user_agent=USER_AGENT, base_url=base_url,
                                     data_url=data_url, max_rps=max_rps,
                                     block_pause_seconds=5.0)
            limiter = RateLimiter(max_rps, **limiter_options)
            retry = RetryPolicy(max_attempts=8, backoff_initial=0.5, backoff_max=5.0, jitter=0.5)
            with cpu_burners(burn):
                started = time.perf_counter()
                with (
                    EdgarClient(settings, limiter=limiter, retry=retry) as client,
                    Run(normalize_url(database.url), client, workers=workers,
                        progress_stream=io.StringIO(), interactive=False) as job,
                ):
                    report = job.sync([DAY])
                seconds = time.perf_counter() - started
            log = get_log()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    times = [r.t for r in log]
    docs = sorted(r.t for r in log if r.path.endswith(".txt"))
    span = docs[-1] - docs[0] if len(docs) > 1 else 0.0
    per_window = max(1, int(max_rps))
    statuses: dict[str, int] = {}
    for record in log:
        statuses[str(record.status)] = statuses.get(str(record.status), 0) + 1
    ordered = sorted(times)
    spans = [ordered[i + per_window] - ordered[i] for i in range(len(ordered) - per_window)]
    gaps = [b - a for a, b in zip(docs, docs[1:], strict=False)]
    result = {
        "filings": filings,
        "ownership_filings_listed": len(site.ownership_paths()),
        "loaded": report.loaded,
        "failed": report.failed + report.missing,
        "requests": len(log),
        "document_requests": len(docs),
        "requests_per_s": round((len(docs) - 1) / span, 3) if span else 0.0,
        "overall_requests_per_s": round(len(log) / seconds, 3),
        "max_in_any_1s_window": max_in_window(times, 1.0),
        "min_span_of_11_arrivals_s": round(min_span(times, per_window + 1), 4),
        "min_span_of_11_grants_s": round(min_span(limiter.grants, per_window + 1), 4),
        "refused_429": statuses.get("429", 0),
        "statuses": statuses,
        "gap_median_ms": round(statistics.median(gaps) * 1000, 2) if gaps else None,
        "gap_min_ms": round(min(gaps) * 1000, 2) if gaps else None,
        "sync_seconds": round(seconds, 1),
        "workers": workers,
        "burners": burn,
        "standin": where,
        "spans_11_below_s": {f"{x:.2f}": sum(1 for v in spans if v < x)
                             for x in (1.0, 1.01, 1.02, 1.03)},
        "limiter": {"margin": limiter.margin, "interval": getattr(limiter, "interval", None)},
    }
    if verbose:
        print(f"[fetch] {describe(result)}", file=sys.stderr)
    return result


def describe(r: dict) -> str:
    return (
        f"{r['filings']} filings: {r['requests_per_s']:.2f} req/s, max {r['max_in_any_1s_window']} "
        f"in any 1 s, 11 arrivals span >= {r['min_span_of_11_arrivals_s']:.3f} s "
        f"(grants {r['min_span_of_11_grants_s']:.3f} s), "
        f"{r['refused_429']} refused, sync {r['sync_seconds']:.1f} s "
        f"({r['sync_seconds'] / 60:.2f} min), loaded {r['loaded']}, burners {r['burners']}, "
        f"stand-in in a {r['standin']}; 11-arrival spans below 1.00/1.01/1.02/1.03 s: "
        + "/".join(str(v) for v in r["spans_11_below_s"].values())
    )


def run(filings: int = 200, *, runs: int = 1, burn: int = 0, server: str | None = None,
        **options: object) -> list[dict]:
    from benchmarks.bench_ingest import DEFAULT_SERVER

    server = server or os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)
    return [bench_sync(filings, server=server, burn=burn, **options)  # type: ignore[arg-type]
            for _ in range(runs)]


def format_table(results: list[dict]) -> str:
    lines = [f"{'filings':>8} {'stand-in':>8} {'burners':>7} {'req/s':>7} {'max/1s':>6} {'11-span s':>9} "
             f"{'429s':>5} {'sync s':>8} {'sync min':>8}"]
    for r in results:
        lines.append(
            f"{r['filings']:>8,} {r['standin']:>8} {r['burners']:>7} {r['requests_per_s']:>7.2f} "
            f"{r['max_in_any_1s_window']:>6} {r['min_span_of_11_arrivals_s']:>9.3f} "
            f"{r['refused_429']:>5} {r['sync_seconds']:>8.1f} {r['sync_seconds'] / 60:>8.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.bench_ingest import DEFAULT_SERVER

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fetch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filings", type=int, default=2000, help="[default: %(default)s]")
    parser.add_argument("--quick", action="store_true", help="200 filings")
    parser.add_argument("--runs", type=int, default=1, help="repeat the sync [default: 1]")
    parser.add_argument("--burn", type=int, default=0,
                        help="CPU-burner processes running alongside [default: 0]")
    parser.add_argument("--workers", type=int, default=4, help="fetch threads [default: 4]")
    parser.add_argument("--max-rps", type=float, default=10, help="[default: 10]")
    parser.add_argument("--margin", type=float, help="RateLimiter margin (default: its own)")
    parser.add_argument("--spacing", type=float,
                        help="RateLimiter spacing (default: its own; negative: none, bursts)")
    parser.add_argument("--server", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
                        help="PostgreSQL server URL for the scratch database")
    parser.add_argument("--standin", choices=("process", "thread"), default="process",
                        help="run the stand-in in its own process (like SEC) or as threads of "
                        "this one (like tests/test_sync.py; its clock then also sees this "
                        "process's GIL and GC pauses) [default: %(default)s]")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    filings = 200 if args.quick else args.filings
    spacing: float | None | str = "default"
    if args.spacing is not None:
        spacing = None if args.spacing < 0 else args.spacing
    results = run(filings, runs=args.runs, burn=args.burn, server=args.server,
                  workers=args.workers, max_rps=args.max_rps, margin=args.margin, spacing=spacing,
                  where=args.standin)
    print(json.dumps(results, indent=2) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
