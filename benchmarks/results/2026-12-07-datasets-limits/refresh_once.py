"""Experiment (issue 13): does the analyst refresh of a data-set quarter pay for reading the
batch's lines through ``insider_trades`` three times (filing totals, owners' days' filings,
owners' days)? Each of the three selects timed as the refresh runs them (through the view),
then the batch's lines copied once into a temp table and the three grouped from it.

    python benchmarks/results/2026-12-07-datasets-limits/refresh_once.py [rounds]

Loads bench_datasets' quarter (60,000 filings) into a scratch database (dropped after).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks/results/2026-12-07-datasets-server"))

from alternate import benchmark_zip  # noqa: E402

from benchmarks.bench_datasets import DEFAULT_SERVER  # noqa: E402
from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import db  # noqa: E402
from ingest.dataset_load import load_quarter  # noqa: E402

# The columns of insider_trades the three selects read.
COLUMNS = ("accession_number, is_derivative, transaction_code, issuer_cik, form_type, "
           "aff10b5_one, shares, value, price, footnote_mentions_10b5_1, "
           "transaction_timeliness, equity_swap_involved, transaction_form_type, "
           "first_filed_business_days_after, transaction_date, owner_ciks, owners")
BATCH = "t.accession_number = ANY(%(a)s::text[])"


def migration(name: str) -> ModuleType:
    path = REPO / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    totals, days = migration("0014_trade_totals"), migration("0015_trade_days")
    selects = {"filing totals": totals.totals_select, "days' filings": days.filing_days_select,
               "owners' days": days.days_select}
    name, url = create_database(DEFAULT_SERVER)
    try:
        with db.connect(url, autocommit=True) as conn:
            load_quarter(conn, benchmark_zip(), quarter="2024q3")
        with db.connect(url) as conn:
            accessions = [a for (a,) in conn.execute("SELECT accession_number FROM filings")]
            conn.execute("SET work_mem = '128MB'")
            conn.execute("SET jit = off")

            def timed(query: str, params: dict | None = None) -> float:
                started = time.monotonic()
                conn.execute(query, params)
                return time.monotonic() - started

            for _ in range(rounds):
                through_view = {label: timed(f"SELECT count(*) FROM ({select(BATCH)}) x",
                                             {"a": accessions})
                                for label, select in selects.items()}
                conn.execute("DROP TABLE IF EXISTS _batch_lines")
                fill = timed(f"CREATE TEMP TABLE _batch_lines AS SELECT {COLUMNS} "
                             f"FROM insider_trades t WHERE {BATCH}", {"a": accessions})
                from_copy = {
                    label: timed("SELECT count(*) FROM ("
                                 + select("true").replace("FROM insider_trades t",
                                                          "FROM _batch_lines t") + ") x")
                    for label, select in selects.items()}
                print("through the view:", {k: round(v, 3) for k, v in through_view.items()},
                      "sum", round(sum(through_view.values()), 3))
                print("copied once:", round(fill, 3), "then",
                      {k: round(v, 3) for k, v in from_copy.items()},
                      "sum", round(fill + sum(from_copy.values()), 3), flush=True)
            conn.rollback()
    finally:
        drop_database(DEFAULT_SERVER, name)


if __name__ == "__main__":
    main()
