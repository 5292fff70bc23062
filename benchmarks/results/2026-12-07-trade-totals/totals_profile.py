"""``python totals_profile.py URL``: refresh_trade_totals() and the whole
refresh_analyst_rows() of every filing of the database, each timed twice, rolled back."""

import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from ingest.analyst import REFRESH_ANALYST_ROWS  # noqa: E402

STATEMENTS = {
    "totals": "SELECT refresh_trade_totals(%s::text[])",
    "analyst rows (with totals)": REFRESH_ANALYST_ROWS,
}


def main() -> None:
    with psycopg.connect(sys.argv[1]) as conn:
        accessions = [row[0] for row in conn.execute("SELECT accession_number FROM filings")]
        for _ in range(2):
            for name, statement in STATEMENTS.items():
                started = time.perf_counter()
                conn.execute(statement, (accessions,))
                print(f"{name} {time.perf_counter() - started:.2f} s")
        conn.rollback()


if __name__ == "__main__":
    main()
