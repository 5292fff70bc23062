"""Experiment (issue 13): a timeline of the server's load of the benchmark quarter: each
statement of each writer over 20 ms, as (writer, started at s, wall s, server CPU s, text).

    python benchmarks/results/2026-12-07-datasets-server/timeline.py     # W=1: one writer
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from benchmarks.bench_datasets import DEFAULT_SERVER  # noqa: E402
from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import dataset_server, db  # noqa: E402
from ingest.datasets import QuarterFile  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from alternate import benchmark_zip  # noqa: E402

STARTED = [0.0]
LOG: list[tuple] = []


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TimedCursor(psycopg.Cursor):
    def execute(self, query, params=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
        pid = self.connection.info.backend_pid
        started, cpu = time.monotonic(), cpu_seconds(pid)
        result = super().execute(query, params, **kwargs)
        LOG.append((threading.current_thread().name[-1], round(started - STARTED[0], 2),
                    round(time.monotonic() - started, 3), round(cpu_seconds(pid) - cpu, 2),
                    str(query)[:60].replace("\n", " ")))
        return result


def connect(conn: psycopg.Connection) -> psycopg.Connection:
    options = {o.keyword.decode(): o.val.decode() for o in conn.pgconn.info if o.val is not None}
    return psycopg.connect(psycopg.conninfo.make_conninfo(**options), autocommit=True,
                           cursor_factory=TimedCursor)


def main() -> None:
    data = benchmark_zip()
    name, url = create_database(DEFAULT_SERVER)
    try:
        with db.connect(url, autocommit=True) as conn, QuarterFile(data, "2024q3") as dataset:
            STARTED[0] = time.monotonic()
            stored = dataset_server.store_on_server(conn, dataset, connect=connect,
                                                    writers=int(os.environ.get("W", 2)))
            print("total", round(time.monotonic() - STARTED[0], 2), stored.rows_per_table,
                  round(stored.seconds_reading, 2), round(stored.seconds_writing, 2))
        for entry in LOG:
            if entry[2] > 0.02:
                print(entry)
        print("server cpu", round(sum(entry[3] for entry in LOG), 2))
    finally:
        drop_database(DEFAULT_SERVER, name)


if __name__ == "__main__":
    main()
