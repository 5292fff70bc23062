"""Where the loader's wall time goes: waiting for the reader's batches, storing them, and
the end of the quarter (issuers/persons upserted, analyst rows refreshed).

    python exp_phases.py ZIP

Wraps ``_QuarterReader.batches``, ``Loader.load``, ``Loader._flush_latest`` and
``refresh_analyst_rows`` with timers (this process only), loads the quarter on a fresh
database and prints each phase's count, total and first/last durations.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from functools import wraps
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from benchmarks.bench_datasets import DEFAULT_SERVER  # noqa: E402
from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import dataset_load as dl  # noqa: E402
from ingest import (
    db,  # noqa: E402
    load,  # noqa: E402
)

PHASES: defaultdict[str, list[float]] = defaultdict(list)


def _timed(name: str, function):
    @wraps(function)
    def run(*args, **kwargs):
        started = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            PHASES[name].append(time.monotonic() - started)
    return run


def _timed_batches(batches):
    @wraps(batches)
    def run(self):
        started = time.monotonic()
        for batch in batches(self):
            PHASES["wait for the reader"].append(time.monotonic() - started)
            yield batch
            started = time.monotonic()
    return run


def main() -> None:
    load.Loader.load = _timed("store a batch", load.Loader.load)
    load.Loader._flush_latest = _timed("issuers and persons", load.Loader._flush_latest)
    load.refresh_analyst_rows = _timed("analyst rows", load.refresh_analyst_rows)
    dl._QuarterReader.batches = _timed_batches(dl._QuarterReader.batches)
    data = Path(sys.argv[1]).read_bytes()
    name, url = create_database(DEFAULT_SERVER)
    try:
        with db.connect(url, autocommit=True) as conn:
            started = time.monotonic()
            dl.load_quarter(conn, data, quarter="2024q3")
            print(f"wall {time.monotonic() - started:.2f} s")
    finally:
        drop_database(DEFAULT_SERVER, name)
    for phase, seconds in PHASES.items():
        print(f"{phase}: {len(seconds)} x, {sum(seconds):.2f} s in all, first {seconds[0]:.3f}, "
              f"last {seconds[-1]:.3f}")


if __name__ == "__main__":  # the reader process is started by a fork server
    main()
