"""Experiment (issue 13): where the writers' CPU goes, by kind of statement. Runs the
timeline of 2026-12-07-datasets-server (``W=1`` for one writer), adding each writer
backend's whole CPU (its COPYs included, which the timeline does not list), then sums the
timeline's statements by kind.

    W=1 python benchmarks/results/2026-12-07-datasets-limits/by_kind.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks/results/2026-12-07-datasets-server"))

import timeline  # noqa: E402

WHOLE: list[float] = []


def kind(text: str) -> str:
    if "refresh_analyst_rows" in text:
        return "analyst rows (refresh_analyst_rows)"
    if text.startswith(("INSERT INTO _half", "CREATE TEMP TABLE _half_plan_notes",
                        "CREATE TEMP TABLE _half_owners")):
        return "work tables (owners, footnote lists, line notes, plan mentions)"
    if text.startswith("INSERT INTO"):
        return f"into {text.split()[2]}"
    return "other statements"


def main() -> None:
    connect = timeline.connect

    def counted(conn):  # noqa: ANN001, ANN202
        writer = connect(conn)
        pid, before, close = writer.info.backend_pid, None, writer.close
        before = timeline.cpu_seconds(pid)

        def close_and_count() -> None:
            WHOLE.append(round(timeline.cpu_seconds(pid) - before, 2))
            close()

        writer.close = close_and_count
        return writer

    timeline.connect = counted
    timeline.main()
    by_kind: Counter[str] = Counter()
    for _writer, _at, _wall, cpu, text in timeline.LOG:
        by_kind[kind(text)] += cpu
    for name, cpu in by_kind.most_common():
        print(f"{cpu:6.2f}  {name}")
    listed = sum(by_kind.values())
    print(f"{listed:6.2f}  the statements listed; each writer's backend in all: {WHOLE} "
          f"(the rest, {sum(WHOLE) - listed:.2f}: COPY into the temp tables)")


if __name__ == "__main__":
    main()
