"""Experiment (issue 13): the benchmark quarter mapped by the server with the owners' days
refreshed without their advisory lock (refresh_trade_days redefined in the scratch database
only) and with it, alternated, each on a fresh database.

    python benchmarks/results/2026-12-07-datasets-server/nolock.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))

from alternate import benchmark_zip  # noqa: E402

from benchmarks.bench_datasets import DEFAULT_SERVER  # noqa: E402
from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import db  # noqa: E402
from ingest.dataset_load import load_quarter  # noqa: E402

LOCK = re.compile(r"PERFORM pg_advisory_xact_lock\([0-9]+\);")


def main() -> None:
    data = benchmark_zip()
    for _ in range(2):
        for without_lock in (True, False):
            name, url = create_database(DEFAULT_SERVER)
            try:
                with db.connect(url, autocommit=True) as conn:
                    if without_lock:
                        source = conn.execute("SELECT pg_get_functiondef("
                                              "'refresh_trade_days(text[])'::regprocedure)").fetchone()[0]
                        conn.execute(LOCK.sub("", source))
                    started = time.monotonic()
                    report = load_quarter(conn, data, quarter="2024q3")
                    wall = time.monotonic() - started
                    print("without lock" if without_lock else "with lock", report.read_by,
                          round(wall, 2), round(report.rows / wall), flush=True)
            finally:
                drop_database(DEFAULT_SERVER, name)


if __name__ == "__main__":
    main()
