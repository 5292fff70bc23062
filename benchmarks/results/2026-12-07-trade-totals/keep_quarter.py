"""Load a data-set quarter's zip into a new database and keep it: ``python keep_quarter.py
ZIP`` prints the database's URL (drop it yourself)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from benchmarks.bench_datasets import DEFAULT_SERVER  # noqa: E402
from benchmarks.generate_million import create_database  # noqa: E402
from ingest import dataset_load as dl  # noqa: E402
from ingest import db  # noqa: E402


def main() -> None:
    _, url = create_database(DEFAULT_SERVER)
    with db.connect(url, autocommit=True) as conn:
        dl.load_quarter(conn, Path(sys.argv[1]).read_bytes(), quarter="2024q3")
    print(url)


if __name__ == "__main__":  # the reader process is started by a fork server
    main()
