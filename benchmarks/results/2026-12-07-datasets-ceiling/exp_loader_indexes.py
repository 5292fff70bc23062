"""The data-set loader as it is, on a fresh database with or without secondary indexes.

    python -m benchmarks.bench_datasets ...  # builds the quarter; or tests.dataset_zip
    python exp_loader_indexes.py ZIP [--drop-secondary]

Prints wall time, the loader's and the reader process's CPU, the server's CPU and rows/s.
With REFRESH_EVERY=N in the environment and ``refresh_every.patch`` applied, the analyst
rows are refreshed every N batches instead of once at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from benchmarks.bench_datasets import (  # noqa: E402
    DEFAULT_SERVER,
    _ServerCpu,
    drop_secondary_indexes,
)
from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import db  # noqa: E402
from ingest.dataset_load import load_quarter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("zip", type=Path)
    parser.add_argument("--drop-secondary", action="store_true")
    args = parser.parse_args()
    data = args.zip.read_bytes()
    name, url = create_database(DEFAULT_SERVER)
    try:
        with db.connect(url, autocommit=True) as conn:
            if args.drop_secondary:
                drop_secondary_indexes(conn)
            server = _ServerCpu(conn)
            started, cpu = time.monotonic(), time.process_time()
            report = load_quarter(conn, data, quarter="2024q3")
            wall = time.monotonic() - started
            print({"secondary_indexes": not args.drop_secondary, "wall_s": round(wall, 2),
                   "client_cpu_s": round(time.process_time() - cpu, 2),
                   "reader_cpu_s": round(report.reader_cpu_seconds, 2),
                   "server_cpu_s": server.seconds(), "rows_per_s": round(report.rows / wall)})
    finally:
        drop_database(DEFAULT_SERVER, name)


if __name__ == "__main__":  # the reader process is started by a fork server
    main()
