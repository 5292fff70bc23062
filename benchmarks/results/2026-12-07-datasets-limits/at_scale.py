"""Experiment (issue 13): the benchmark quarter loaded into a database that already holds a
history (built by ``generate_million --keep``), with the writers' statements timed as in
``by_kind.py``; the whole ``load_quarter`` timed; then the quarter deleted again (its
filings, their rows by cascade, their analyst rows by a refresh), so that the run can be
repeated.

    python benchmarks/results/2026-12-07-datasets-limits/at_scale.py URL [RUNS] [--explain]

``--explain``: the statements of the writers' analyst refresh (those not reading the work
tables) of over 100 ms, with their plans (auto_explain, ANALYZE without timing).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks/results/2026-12-07-datasets-server"))
sys.path.insert(0, str(Path(__file__).parent))

import timeline  # noqa: E402
from by_kind import kind  # noqa: E402

from ingest import dataset_load, dataset_server, db  # noqa: E402
from ingest.analyst import refresh_analyst_rows  # noqa: E402

QUARTER_FILINGS = "9100000000-24-%"  # bench_datasets' accession numbers


def delete_quarter(url: str) -> None:
    with db.connect(url) as conn, conn.transaction():
        accessions = [a for (a,) in conn.execute(
            "DELETE FROM filings WHERE accession_number LIKE %s RETURNING accession_number",
            (QUARTER_FILINGS,))]
        refresh_analyst_rows(conn.cursor(), accessions)
        conn.execute("DELETE FROM dataset_quarters WHERE quarter = '2024q3'")


def explained(conn):  # noqa: ANN001, ANN201
    writer = timeline.connect(conn)
    writer.add_notice_handler(lambda notice: PLANS.append(notice.message_primary))
    for statement in ("LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 100",
                      "SET auto_explain.log_nested_statements = on",
                      "SET auto_explain.log_analyze = on", "SET auto_explain.log_timing = off",
                      "SET auto_explain.log_level = notice"):
        writer.execute(statement)
    return writer


PLANS: list[str] = []


def main() -> None:
    explain = "--explain" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--explain"]
    url = args[0]
    data = timeline.benchmark_zip()
    # the writers' statements timed
    dataset_server.connection_like = explained if explain else timeline.connect
    with db.connect(url) as conn:
        filings = conn.execute("SELECT count(*) FROM filings").fetchone()[0]
    print(f"database: {filings:,} filings before the quarter", flush=True)
    for _ in range(int(args[1]) if len(args) > 1 else 1):
        timeline.LOG.clear()
        delete_quarter(url)
        with db.connect(url, autocommit=True) as conn:
            timeline.STARTED[0] = started = time.monotonic()
            report = dataset_load.load_quarter(conn, data, quarter="2024q3")
            wall = time.monotonic() - started
        by_kind: dict[str, float] = {}
        for _writer, _at, _wall, cpu, text in timeline.LOG:
            by_kind[kind(text)] = by_kind.get(kind(text), 0) + cpu
        print(f"load_quarter {wall:.2f} s ({report.rows / wall:,.0f} rows/s), read by "
              f"{report.read_by}; writers' statements, CPU-s: "
              + "; ".join(f"{name} {cpu:.2f}" for name, cpu in
                          sorted(by_kind.items(), key=lambda item: -item[1])), flush=True)
        for entry in timeline.LOG:
            if "refresh_analyst_rows" in entry[4]:
                print("  ", entry[:4])
        for plan in PLANS:
            if "_half_" not in plan:
                print("\n".join(line[:160] for line in plan.splitlines()[:90]))
        PLANS.clear()
    delete_quarter(url)


if __name__ == "__main__":
    main()
