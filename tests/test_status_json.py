"""`status --json` and `status --check` (issue 15): the document's shape is fixed here, and
every field is documented in docs/operations.md ("Monitor")."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from ingest.cli import cli
from tests.edgar_standin import EdgarStandin, build_site
from tests.sitegen import ownership_day

REPO = Path(__file__).resolve().parent.parent
OPERATIONS = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
DAY = date(2024, 3, 5)

# The document, version 1: every key, and the keys of its objects.
SHAPE = {
    "document_version": None, "generated_at": None,
    "database": {"url", "embedded", "size_bytes"},
    "schema": {"revision", "head", "current"},
    "parser_version": None, "tables": "per table: rows, estimated",
    "newest_filing": {"accession_number", "form_type", "issuer_name", "filed_date", "accepted_at"},
    "load_lag": {"window_hours", "filings", "median_seconds", "max_seconds"},
    "last_daily_index": None,
    "last_sync": {"started_at", "finished_at", "exit_code", "first_day", "last_day", "processed",
                  "loaded", "failed", "missing", "unparsed"},
    "last_successful_sync": "as last_sync",
    "queue": {"pending", "done", "failed", "missing", "retry_due", "retry_scheduled",
              "next_retry_at", "given_up", "failing_over_a_day"},
    "not_loaded": "a list", "unparsed_filings": None, "history_by_year": "a list",
    "errors": {"days", "count", "by_stage", "total"},
    "recent_errors": "a list",
    "check": {"ok", "problems", "max_age_hours"},
}


def status(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["status", *args], catch_exceptions=False)
    return result.exit_code, result.output


def synced(database_url: str, tmp_path: Path, **extra: str) -> None:
    site = build_site(tmp_path / "edgar", ownership_day(DAY, 3))
    with EdgarStandin(site.root) as sec:
        env = {**os.environ, "DATABASE_URL": database_url, "EDGAR_USER_AGENT": "t t@example.org",
               "EDGAR_BASE_URL": sec.base_url, "EDGAR_DATA_URL": sec.data_url, **extra}
        result = subprocess.run([sys.executable, "-m", "ingest", "sync", "--date", DAY.isoformat()],
                                env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_document_has_exactly_the_documented_shape(db_env, tmp_path):
    synced(db_env, tmp_path)
    code, output = status("--json")
    assert code == 0, output
    document = json.loads(output)
    assert set(document) == set(SHAPE)
    for key, keys in SHAPE.items():
        if isinstance(keys, set):
            assert set(document[key]) == keys, key
    assert set(document["last_successful_sync"]) == SHAPE["last_sync"]
    assert all(set(t) == {"rows", "estimated"} for t in document["tables"].values())
    assert document["document_version"] == 1 and document["schema"]["current"] is True
    assert document["tables"]["filings"]["rows"] == 3 and document["queue"]["done"] == 3
    assert document["last_successful_sync"]["first_day"] == DAY.isoformat()
    assert document["newest_filing"]["filed_date"] == DAY.isoformat()
    assert document["check"]["ok"] is True and document["check"]["problems"] == []


def test_every_field_is_documented():
    table = OPERATIONS.split("### `status --json`")[1]
    names = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            names.update(n.lstrip(".") for n in re.findall(r"`([^`]+)`", line.split("|")[1]))
    for key, keys in SHAPE.items():
        assert any(n == key or n.startswith(key + ".") for n in names), key
        if isinstance(keys, set):
            for sub in keys:
                documented = any(n in (f"{key}.{sub}", sub) or n.endswith("." + sub) for n in names)
                assert documented or f"`{sub}`" in table, f"{key}.{sub}"


def test_check_exits_1_with_the_problems(db_env, database_url, tmp_path):
    code, output = status("--check")
    assert code == 1 and "warning: no successful sync recorded yet" in output
    synced(db_env, tmp_path)
    assert status("--check")[0] == 0
    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("UPDATE run_log SET finished_at = now() - interval '2 days'")
        conn.execute("UPDATE fetch_queue SET status = 'missing', next_attempt_at = NULL,"
                     " first_failed_at = now() - interval '15 days'"
                     " WHERE accession_number = (SELECT min(accession_number) FROM fetch_queue)")
    code, output = status("--check")
    assert code == 1
    assert "the last successful sync finished 48" in output and "1 filing(s) given up" in output
    code, output = status("--check", "--max-age", "72", "--json")
    assert code == 1 and json.loads(output)["check"]["problems"] == [
        "1 filing(s) given up after 14 days of retries"]


@pytest.mark.parametrize("args", [["--json"], []])
def test_status_without_check_exits_0_whatever_it_finds(db_env, args):
    assert status(*args)[0] == 0
