"""Experiment (issue 13): the benchmark quarter loaded by ``load_quarter`` on fresh
databases, timed in two parts: ``store_on_server`` and what the loading connection does
after it. Run with a checkout to measure (default: this one), e.g. alternating two:

    python benchmarks/results/2026-12-07-datasets-limits/phases.py RUNS [CHECKOUT]

The quarter is bench_datasets' (60,000 filings, 400,012 rows), built once into
/tmp/q60k.zip (as alternate.py of 2026-12-07-datasets-server builds it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

CHECKOUT = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parents[3])
sys.path.insert(0, str(CHECKOUT))

from benchmarks.bench_datasets import DEFAULT_SERVER, replicate  # noqa: E402
from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import dataset_load, dataset_server, db  # noqa: E402
from tests import dataset_zip as dz  # noqa: E402

ZIP = Path("/tmp/q60k.zip")


def main() -> None:
    if not ZIP.exists():
        ZIP.write_bytes(dz.build_zip(replicate(60_000, 400_000 / 60_000)))
    data = ZIP.read_bytes()
    stored_at: dict[str, float] = {}
    store = dataset_server.store_on_server

    def timed_store(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started = time.monotonic()
        result = store(*args, **kwargs)
        stored_at.update(seconds=time.monotonic() - started, end=time.monotonic())
        return result

    dataset_load.store_on_server = timed_store
    for _ in range(int(sys.argv[1])):
        name, url = create_database(DEFAULT_SERVER)
        try:
            with db.connect(url, autocommit=True) as conn:
                started = time.monotonic()
                report = dataset_load.load_quarter(conn, data, quarter="2024q3")
                ended = time.monotonic()
            print(report.read_by, "total", round(ended - started, 2),
                  "store", round(stored_at["seconds"], 2),
                  "after", round(ended - stored_at["end"], 2), flush=True)
        finally:
            drop_database(DEFAULT_SERVER, name)


if __name__ == "__main__":
    main()
