"""Rate benchmark: edgar-insider processes sharing SEC's limit through ``EDGAR_RATE_STATE``.

    python -m benchmarks.bench_rate --processes 1 --requests 300
    python -m benchmarks.bench_rate --processes 2 --requests 150     # e.g. watch + sync
    python -m benchmarks.bench_rate --overhead                       # cost of one decision

Each process (``tests/rate_probe.py``: an ``EdgarClient`` on the machine-wide shared limiter,
``--threads`` fetch threads) downloads ``--requests`` distinct submissions from one stand-in
(in a process of its own, like SEC; ``max_rps=10``: an 11th request in any sliding second
gets 429). Reported from the stand-in's log: requests/s of all processes together over the
span of their arrivals, the most requests in any 1-second window, the smallest span of 11
consecutive arrivals, refusals, and each process's share.

``--separate``: each process gets a state file of its own, i.e. a limiter per process as before
``EDGAR_RATE_STATE`` existed (what SEC would see from two such processes).

``--overhead``: what the limiter adds to a request (its decision plus the report that the
request was sent), process-only window against the machine-wide file, timed in a loop.
Figures to report, never pass/fail (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def bench_processes(processes: int, requests: int, threads: int, separate: bool = False) -> dict:
    from benchmarks.bench_fetch import min_span, standin
    from tests.edgar_standin import build_site, max_in_window
    from tests.sitegen import ownership_day

    folder = Path(tempfile.mkdtemp(prefix="edgar-bench-rate-"))
    try:
        site = build_site(folder / "edgar", ownership_day(date(2026, 3, 10), processes * requests))
        paths = [f.archive_path(f.filers[0].cik) for f in site.filings]
        with standin(folder / "edgar", 10, "process") as ((base_url, _), get_log):
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "tests.rate_probe", json.dumps(
                        {"base_url": base_url, "threads": threads,
                         "paths": paths[i * requests:(i + 1) * requests]})],
                    cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                    env={**os.environ,
                         "EDGAR_RATE_STATE": str(folder / f"edgar{i if separate else ''}.rate")})
                for i in range(processes)
            ]
            for proc in procs:
                proc.stdout.readline()  # "ready"
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            reports = [json.loads(proc.communicate(timeout=3600)[0]) for proc in procs]
            log = get_log()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    times = sorted(r.t for r in log)
    span = times[-1] - times[0]
    return {
        "processes": processes,
        "separate_limiters": separate,
        "threads_each": threads,
        "requests": len(log),
        "requests_per_s": round((len(times) - 1) / span, 3),
        "max_in_any_1s_window": max_in_window(times, 1.0),
        "min_span_of_11_arrivals_s": round(min_span(times, 11), 4),
        "refused": sum(1 for r in log if r.status in (403, 429)),
        "per_process": [len(r["grants"]) for r in reports],
    }


def bench_overhead(rounds: int = 20_000) -> dict:
    from ingest.fetch import RateLimiter

    def per_request(limiter: RateLimiter) -> float:
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(rounds):
                with limiter._cond, limiter._shared.held() as window:
                    now = time.monotonic()
                    limiter._delay(window, now)
                    limiter._grant(window, now, True)
                limiter.sent(now)
            samples.append((time.perf_counter() - started) / rounds * 1e6)
        return round(statistics.median(samples), 1)

    folder = Path(tempfile.mkdtemp(prefix="edgar-bench-rate-"))
    try:
        return {"process_window_us": per_request(RateLimiter(10)),
                "machine_window_us": per_request(RateLimiter(10, state=folder / "edgar.rate"))}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_rate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--requests", type=int, default=150, help="per process [%(default)s]")
    parser.add_argument("--threads", type=int, default=2, help="per process [%(default)s]")
    parser.add_argument("--separate", action="store_true",
                        help="a state file per process (a limiter per process, as before)")
    parser.add_argument("--overhead", action="store_true", help="time one limiter decision")
    args = parser.parse_args(argv)
    result = bench_overhead() if args.overhead else bench_processes(
        args.processes, args.requests, args.threads, args.separate)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
