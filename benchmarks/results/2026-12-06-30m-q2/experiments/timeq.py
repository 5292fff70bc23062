"""python timeq.py URL FILE.sql [...]: each file run twice; both times, the row count and an
md5 of the sorted rows. SETTINGS="SET work_mem='64MB';..." runs those statements first."""

import hashlib
import os
import sys
import time
from pathlib import Path

import psycopg


def main() -> None:
    url = sys.argv[1]
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in filter(None, os.environ.get("SETTINGS", "").split(";")):
            conn.execute(setting)
        for path in sys.argv[2:]:
            text = Path(path).read_text(encoding="utf-8")
            times = []
            for _ in range(2):
                started = time.perf_counter()
                rows = conn.execute(text).fetchall()
                times.append(time.perf_counter() - started)
            digest = hashlib.md5("\n".join(sorted(repr(r) for r in rows)).encode()).hexdigest()
            print(f"{path}: {times[0]:.2f} / {times[1]:.2f} s, {len(rows)} rows, "
                  f"md5 {digest[:10]}", flush=True)


if __name__ == "__main__":
    main()
