"""On-disk size per filing, table by table, and what full history would take.

    python -m benchmarks.bench_size --filings 20000 [--server postgresql://...] [--json]

The corpus's full submissions (``tests/fixtures/submissions/*.txt``: real EDGAR filings,
as ``sync`` stores them) replicated under distinct accession numbers, loaded with the real
CLI (``edgar-insider ingest``) into a scratch database, ``VACUUM ANALYZE``d; then per
table: rows, heap (with TOAST: the raw submissions live there) and index bytes, each per
filing, and the same scaled to ``--history`` filings (default 4.5 million, all of EDGAR's
ownership filings). A figure for docs/operations.md, never a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from benchmarks.bench_ingest import DEFAULT_SERVER, FIXTURES, ScratchDatabase, _renumber, cli_command

FULL_HISTORY = 4_500_000


def replicate_submissions(dest: Path, count: int) -> int:
    """``count`` copies of the corpus's full submissions, round after round; returns bytes."""
    templates = sorted((FIXTURES / "submissions").glob("*.txt"))
    written = 0
    for n in range(count):
        index, round_ = n % len(templates), n // len(templates)
        accession = f"{9_200_000 + index:010d}-24-{round_ + 1:06d}"
        data = _renumber(templates[index].read_bytes(), templates[index].name, accession)
        folder = dest / f"part{n // 1000:04d}"
        folder.mkdir(exist_ok=True)
        (folder / f"{accession}.txt").write_bytes(data)
        written += len(data)
    return written


def table_sizes(url: str) -> list[dict]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        tables = conn.execute(
            "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid), "
            "coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) "
            "FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' "
            "ORDER BY pg_total_relation_size(c.oid) DESC"
        ).fetchall()
        out = []
        for name, heap, indexes, toast in tables:
            rows = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            out.append({"table": name, "rows": rows, "heap": heap, "toast": toast, "indexes": indexes})
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    out.append({"table": "(whole database)", "rows": None, "heap": database, "toast": 0, "indexes": 0})
    return out


def run(filings: int, server: str, history: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgar-size-") as folder, ScratchDatabase(server) as scratch:
        raw_bytes = replicate_submissions(Path(folder), filings)
        scratch.migrate()
        subprocess.run([*cli_command(), "ingest", folder], env=scratch.env(), check=True,
                       capture_output=True)
        sizes = table_sizes(scratch.url)
    loaded = next(s["rows"] for s in sizes if s["table"] == "filings")
    return {"filings": loaded, "input_bytes": raw_bytes, "history": history, "tables": sizes}


def format_table(result: dict) -> str:
    n, history = result["filings"], result["history"]
    lines = [
        f"{n:,} filings loaded ({result['input_bytes'] / n:,.0f} input bytes each); "
        f"scaled to {history:,} filings:",
        "",
        "| table | rows/filing | heap B/filing (of which TOAST) | index B/filing | at full history |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in result["tables"]:
        per_rows = f"{row['rows'] / n:.2f}" if row["rows"] is not None else ""
        total = (row["heap"] + row["indexes"]) / n * history
        lines.append(
            f"| `{row['table']}` | {per_rows} | {row['heap'] / n:,.0f} ({row['toast'] / n:,.0f}) | "
            f"{row['indexes'] / n:,.0f} | {total / 1e9:,.1f} GB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_size", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filings", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=FULL_HISTORY, help="filings to scale to")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.filings, args.server, args.history)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
