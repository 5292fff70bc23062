"""Experiment (issue 13): the benchmark quarter loaded mapped by the server and read in Python,
alternated, each on a fresh database: wall seconds and rows/s.

    python benchmarks/results/2026-12-07-datasets-server/alternate.py N
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from benchmarks.bench_datasets import DEFAULT_SERVER, replicate  # noqa: E402
from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import db  # noqa: E402
from ingest.dataset_load import load_quarter  # noqa: E402
from tests import dataset_zip as dz  # noqa: E402

ZIP = Path("/tmp/q60k.zip")


def benchmark_zip() -> bytes:
    """bench_datasets' quarter: 60,000 filings, ~400,000 rows (built once, kept in /tmp)."""
    if not ZIP.exists():
        ZIP.write_bytes(dz.build_zip(replicate(60_000, 400_000 / 60_000)))
    return ZIP.read_bytes()


def main() -> None:
    data = benchmark_zip()
    for _ in range(int(sys.argv[1])):
        for on_server in (True, False):
            name, url = create_database(DEFAULT_SERVER)
            try:
                with db.connect(url, autocommit=True) as conn:
                    started = time.monotonic()
                    report = load_quarter(conn, data, quarter="2024q3", on_server=on_server)
                    wall = time.monotonic() - started
                    print(report.read_by, round(wall, 2), round(report.rows / wall), flush=True)
            finally:
                drop_database(DEFAULT_SERVER, name)


if __name__ == "__main__":
    main()
