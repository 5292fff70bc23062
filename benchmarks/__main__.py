"""Every benchmark, one table: ``python -m benchmarks [--quick]``.

    python -m benchmarks                      # parse, ingest at 10,000 and 50,000, fetch 2,000
    python -m benchmarks --quick              # a smoke run: ~3 minutes
    python -m benchmarks --sizes 10000,50000 --fetch-filings 2000 --parse-seconds 10
    python -m benchmarks --skip fetch --json  # parts can be skipped; JSON for records
    python -m benchmarks --only queries --transactions 30000000   # issue 12's full history

Parts (the first three run by default; ``queries`` only when named with ``--only``):

* parse: ``benchmarks.bench_parse.run(seconds)`` when that module exists (docs/s of our
  parser, edgartools and the lxml ceiling, and their ratios), else "n/a";
* ingest: ``benchmarks.bench_ingest`` at two sizes (the real CLI, ``ingest`` then
  ``reparse --all``, on a scratch database): filings/s, child-table rows/s, peak RSS of the
  process tree;
* fetch: ``benchmarks.bench_fetch`` (a nightly sync against the local EDGAR stand-in at
  10 req/s): requests/s, most requests in any 1-second window, the sync's time;
* queries: ``benchmarks.bench_queries`` (every docs/queries.md block and the day-one
  questions, second run of each, plans of the slow ones) on a database of
  ``--transactions`` built by ``benchmarks.generate_million`` (30 M: hours, tens of GB),
  or on an existing one (``--queries-url``). Not run unless ``--only queries``.

Needs a PostgreSQL server to create scratch databases on (``--server``, default
``$BENCH_DATABASE_URL`` or ``postgresql://postgres@127.0.0.1:5432/postgres``). Figures are
reported, never judged: see benchmarks/RESULTS.md for this machine's.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PARTS = ("parse", "ingest", "fetch", "queries")
DEFAULT_PARTS = ("parse", "ingest", "fetch")  # queries: a 30 M-transaction build takes hours


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key, item in value.items():
            out += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    return [(prefix, value)]


def run_parse(seconds: float) -> list[tuple[str, str, str]]:
    try:
        module = importlib.import_module("benchmarks.bench_parse")
    except ModuleNotFoundError as exc:
        if exc.name not in ("benchmarks.bench_parse", "benchmarks"):
            raise
        return [("parse", "n/a", "benchmarks/bench_parse.py not found")]
    runner = getattr(module, "run", None)
    if runner is None:
        return [("parse", "n/a", "benchmarks.bench_parse has no run(seconds)")]
    result = runner(seconds)
    rows = []
    for key, value in _flatten(result if isinstance(result, dict) else {"result": result}):
        if isinstance(value, float):
            shown = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        elif isinstance(value, int) and not isinstance(value, bool):
            shown = f"{value:,}"
        else:  # text (versions, corpus): in the notes column, not the figures
            rows.append((f"parse {key}", "", str(value)))
            continue
        rows.append((f"parse {key}", shown, ""))
    return rows


def run_ingest(sizes: list[int], server: str) -> tuple[list[tuple[str, str, str]], list[dict]]:
    from benchmarks import bench_ingest

    results = bench_ingest.run(sizes, server=server)
    rows = []
    for result in results:
        n = f"{result['filings']:,}"
        for key in ("ingest", "reparse"):
            r = result.get(key)
            if not r:
                continue
            label = "ingest" if key == "ingest" else "reparse --all"
            note = f"{r['seconds']:.1f} s, exit {r['exit_code']}"
            rows.append((f"{label} filings/s @ {n}", f"{r['filings_per_s']:,.0f}", note))
            rows.append((f"{label} rows/s @ {n}", f"{r['rows_per_s']:,.0f}",
                         f"{r['child_rows']:,} child-table rows"))
            rows.append((f"{label} peak RSS @ {n}", f"{r['peak_rss_mb']:,.0f} MB",
                         f"summed over {r['peak_processes']} processes (CLI, parse workers, "
                         f"resource tracker); PSS {r['peak_pss_mb']:,.0f} MB"))
            rows.append((f"{label} CPU/filing @ {n}", f"{r['cpu_ms_per_filing']:.2f} ms",
                         f"client {r['client_cpu_s']:.1f} s + PostgreSQL {r['server_cpu_s']:.1f} s"))
    return rows, results


def run_fetch(filings: int, server: str, burn: int) -> tuple[list[tuple[str, str, str]], list[dict]]:
    from benchmarks import bench_fetch

    results = bench_fetch.run(filings, runs=1, burn=burn, server=server)
    rows = []
    for r in results:
        n = f"{r['filings']:,}"
        rows.append((f"fetch requests/s @ {n}", f"{r['requests_per_s']:.2f}",
                     f"{r['document_requests']:,} documents, stand-in limit 10/s"))
        rows.append((f"fetch max in any 1 s @ {n}", str(r["max_in_any_1s_window"]),
                     f"{r['refused_429']} refused; 11 arrivals span >= "
                     f"{r['min_span_of_11_arrivals_s']:.3f} s"))
        rows.append((f"nightly sync of {n} filings", f"{r['sync_seconds'] / 60:.2f} min",
                     f"{r['sync_seconds']:.0f} s incl. index, parse and load"))
    return rows, results


def run_queries(server: str, transactions: int, url: str | None,
                keep: bool) -> tuple[list[tuple[str, str, str]], dict]:
    from benchmarks import bench_queries, generate_million

    name = None
    generated: dict[str, Any] = {}
    if url is None:
        started = time.monotonic()
        name, url = generate_million.create_database(server)
        result = generate_million.generate(url, transactions, out=sys.stderr)
        generated = {"database": name, "seconds": time.monotonic() - started,
                     "rows": result.rows, "size_bytes": generate_million.database_size(url)}
        for line in generate_million.summary(result, generated["size_bytes"], generated["seconds"]):
            print(line, file=sys.stderr)
    try:
        measured = bench_queries.run(url, stream=sys.stderr)
    finally:
        if name is not None and not keep:
            generate_million.drop_database(server, name)
    rows = []
    if generated:
        rows.append(("queries: database built", f"{generated['seconds'] / 60:.1f} min",
                     f"{sum(generated['rows'].get(t, 0) for t in generate_million.TRANSACTION_TABLES):,} "
                     f"transactions, {generated['size_bytes'] / 2**30:.1f} GiB"))
    for q in measured["queries"]:
        value = f"{q['seconds']:.3f} s" if q["seconds"] is not None else "error"
        met = {True: "met", False: "NOT met", None: q["error"]}[q["met"]]
        rows.append((f"query {q['name']}", value,
                     f"{q['rows'] if q['rows'] is not None else '-'} rows; "
                     f"target < {q['target_seconds']:g} s: {met}"))
    return rows, {"generated": generated, **measured}


def format_table(rows: list[tuple[str, str, str]]) -> str:
    width = max([len("benchmark"), *(len(r[0]) for r in rows)])
    value_width = max([len("value"), *(len(r[1]) for r in rows)])
    lines = [f"{'benchmark':<{width}}  {'value':>{value_width}}  notes",
             f"{'-' * width}  {'-' * value_width}  -----"]
    lines += [f"{name:<{width}}  {value:>{value_width}}  {note}" for name, value, note in rows]
    return "\n".join(lines)


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.bench_ingest import DEFAULT_SERVER

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="short run: parse 3 s, ingest 1,000 and 2,000, fetch 200")
    parser.add_argument("--sizes", help="ingest sizes, comma-separated [default: 10000,50000]")
    parser.add_argument("--fetch-filings", type=int, help="filings to sync [default: 2000]")
    parser.add_argument("--parse-seconds", type=float, help="[default: 10]")
    parser.add_argument("--burn", type=int, default=0,
                        help="CPU burners alongside the fetch run [default: 0]")
    parser.add_argument("--skip", action="append", choices=PARTS, default=[],
                        help="leave a part out (repeatable)")
    parser.add_argument("--only", action="append", choices=PARTS, default=[],
                        help="run only this part (repeatable; the way to run 'queries')")
    parser.add_argument("--transactions", type=int, default=30_000_000,
                        help="queries: transactions of the generated database [default: 30 M]")
    parser.add_argument("--queries-url",
                        help="queries: measure this existing database instead of generating one")
    parser.add_argument("--keep", action="store_true",
                        help="queries: keep the generated database (it is dropped otherwise)")
    parser.add_argument("--server", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
                        help="PostgreSQL server URL for scratch databases")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    args = parser.parse_args(argv)

    sizes = ([int(s) for s in args.sizes.split(",") if s.strip()] if args.sizes
             else [1000, 2000] if args.quick else [10_000, 50_000])
    fetch_filings = args.fetch_filings or (200 if args.quick else 2000)
    parse_seconds = args.parse_seconds or (3.0 if args.quick else 10.0)

    parts = [p for p in (args.only or DEFAULT_PARTS) if p not in args.skip]
    started = time.time()
    rows: list[tuple[str, str, str]] = []
    raw: dict[str, Any] = {}
    if "parse" in parts:
        print("[benchmarks] parse ...", file=sys.stderr)
        rows += run_parse(parse_seconds)
    if "ingest" in parts:
        print(f"[benchmarks] ingest {sizes} ...", file=sys.stderr)
        ingest_rows, raw["ingest"] = run_ingest(sizes, args.server)
        rows += ingest_rows
    if "fetch" in parts:
        print(f"[benchmarks] fetch {fetch_filings} ...", file=sys.stderr)
        fetch_rows, raw["fetch"] = run_fetch(fetch_filings, args.server, args.burn)
        rows += fetch_rows
    if "queries" in parts:
        what = "an existing database" if args.queries_url else f"{args.transactions:,} transactions"
        print(f"[benchmarks] queries on {what} ...", file=sys.stderr)
        query_rows, raw["queries"] = run_queries(args.server, args.transactions,
                                                 args.queries_url, args.keep)
        rows += query_rows
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"edgar-insider benchmarks, commit {commit()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average at end "
          f"{load:.1f}, {time.time() - started:.0f} s")
    print(format_table(rows))
    if args.json:
        print(json.dumps(raw, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
