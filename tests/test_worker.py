"""Parse workers: lean processes (memory) that hand the loader no raw bytes.

The memory of ``ingest``/``reparse`` is the loading process plus one parse worker per
core; a worker that imported the CLI would carry click, psycopg, SQLAlchemy and
requests for nothing (~50 MB each, measured in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from ingest.load import Loader
from ingest.parse import parse_file
from ingest.worker import LoadItem, Stage, Status, prepare, read_file, reparse_stored

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
APPLE_SUBMISSION = FIXTURES / "submissions" / "0000320193-22-000061.txt"
APPLE_ACCESSION = "0000320193-22-000061"

HEAVY = ("ingest.cli", "ingest.load", "ingest.db", "sqlalchemy", "psycopg", "click",
         "requests", "alembic", "tqdm")


def _modules_after(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        cwd=REPO, capture_output=True, check=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m in HEAVY or m.split(".")[0] in HEAVY]


def test_worker_module_imports_only_the_parser() -> None:
    assert _heavy(_modules_after("import ingest.worker")) == []


def test_console_script_entry_point_imports_nothing_heavy() -> None:
    # A spawned worker re-imports the parent's main script: `edgar-insider` imports
    # ingest.__main__, which must not import the CLI until main() runs.
    assert _heavy(_modules_after("import ingest.__main__")) == []


def test_spawned_pool_worker_imports_only_the_parser() -> None:
    # The pipeline's real process pool, from a `-c` main (nothing to re-import): what the
    # worker holds is what the pickled work function and chunk runner pulled in.
    code = (
        "from ingest.pipeline import StepPool\n"
        "from tests.worker_probe import loaded_modules\n"
        "pool = StepPool('processes', 1, 1)\n"
        "[mods] = pool.results(pool.submit(loaded_modules, [0]))\n"
        "pool.close(wait_running=True)\n"
        "import json; print(json.dumps(mods))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         check=True, text=True).stdout
    in_worker = json.loads(out.strip().splitlines()[-1])
    assert "ingest.worker" in in_worker
    assert _heavy(in_worker) == []


def test_read_file_hands_over_rows_and_packed_raw_only() -> None:
    raw = APPLE_SUBMISSION.read_bytes()
    outcome = read_file((str(APPLE_SUBMISSION), None, None))
    assert outcome.status is None and outcome.error is None
    item = outcome.item
    assert isinstance(item, LoadItem)
    assert item.raw is None  # the bytes stay in the worker; their gzip copy travels
    assert item.raw_size == len(raw)
    assert item.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert gzip.decompress(item.raw_gzip) == raw
    assert item.accession_number == APPLE_ACCESSION
    assert item.source_kind == "submission"
    assert item.rows.nul_problem is None
    [owner] = item.rows.children["filing_owners"]
    assert owner[:4] == (APPLE_ACCESSION, 1, 1462356, "Adams Katherine L.")
    assert item.rows.issuers[0][:3] == (320193, "Apple Inc.", "AAPL")


def test_reparse_stored_reuses_the_stored_gzip() -> None:
    raw = APPLE_SUBMISSION.read_bytes()
    stored = gzip.compress(raw, compresslevel=9, mtime=0)  # not what prepare would make
    item = reparse_stored((APPLE_ACCESSION, "x.txt", stored, "gzip")).item
    assert isinstance(item, LoadItem)
    assert item.raw_gzip is stored
    assert item.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert item.raw_size == len(raw)


def test_reparse_stored_reports_unreadable_raw() -> None:
    failure = reparse_stored((APPLE_ACCESSION, None, b"not gzip", "gzip"))
    assert failure.item is None and failure.status is Status.FAILED
    assert failure.stage is Stage.READ
    assert failure.accession_number == APPLE_ACCESSION
    assert "stored raw unreadable" in failure.error


def test_detached_item_with_nul_is_refused_by_the_loader(db_conn) -> None:
    # The NUL check is made in the worker: the raw bytes never reach the loader.
    # (A NUL in the header's issuer name: PostgreSQL text cannot store it.)
    raw = APPLE_SUBMISSION.read_bytes().replace(b"Apple Inc.\n", b"Apple\x00Inc.\n")
    item = prepare(parse_file(raw, "nul.txt"), source_name="nul.txt")
    assert item.rows.nul_problem == (
        "NUL character in header issuer name (PostgreSQL text cannot store it)"
    )
    [result] = Loader(db_conn).load([item])
    assert result.status == "failed"
    assert "NUL character" in (result.message or "")
