"""Experiment (issue 13): the plan of the owners' latest-name candidates read back from
stored filings (``ingest.load._DATASET_NAME_CANDIDATES``, which the loading connection ran
for a whole quarter before 3362105 and ``upsert_dataset_names`` still runs for a run stopped
before the names) for 60,000 filings of a kept generated database: `filing_owners` read whole.

    python benchmarks/results/2026-12-07-datasets-limits/name_candidates_plan.py URL
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from ingest import load  # noqa: E402


def main() -> None:
    with psycopg.connect(sys.argv[1]) as conn:
        conn.execute("SET jit = off")
        batch = [a for (a,) in conn.execute("SELECT accession_number FROM filings "
                                            "ORDER BY filed_date DESC NULLS LAST LIMIT 60000")]
        for (line,) in conn.execute("EXPLAIN (ANALYZE) " + load._DATASET_NAME_CANDIDATES[1],
                                    {"accs": batch}):
            print(line[:150])


if __name__ == "__main__":
    main()
