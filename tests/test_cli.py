"""The edgar-insider command line: help, exit codes, summaries, status, secrets."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url

from ingest import cli as cli_module
from ingest import db
from ingest import load as load_module
from ingest import pipeline as pipeline_module
from ingest.cli import cli
from ingest.records import PARSER_VERSION

FIXTURES = Path(__file__).parent / "fixtures" / "load"
APPLE = "0000320193-22-000061"
# The fixture folder: 5 files, 4 accessions (Apple's .txt and .xml share one).
FIXTURE_ACCESSIONS = 4

COMMANDS = ("migrate", "ingest", "reparse", "status", "sync", "backfill", "verify", "grant-reader")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def count(url: str, sql: str) -> int:
    with psycopg.connect(db.libpq_conninfo(url)) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    shutil.copytree(FIXTURES, folder)
    return folder


# ---------------------------------------------------------------------------
# help
# ---------------------------------------------------------------------------


def test_group_help_lists_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    description = result.output.split("\n\n")[1].strip()
    assert len(description) > 20, f"{command} needs a real description"


def test_commands_need_no_database_for_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:pw@127.0.0.1:1/none")
    assert run("status", "--help").exit_code == 0


# ---------------------------------------------------------------------------
# migrate and the schema check
# ---------------------------------------------------------------------------


def test_migrate_is_idempotent(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    first = run("migrate")
    assert first.exit_code == 0
    assert f"migrated from (empty) to {db.head_revision()}" in first.output
    second = run("migrate")
    assert second.exit_code == 0 and f"already at revision {db.head_revision()}" in second.output


@pytest.mark.parametrize("command", ["status", "ingest", "reparse"])
def test_out_of_date_schema_is_refused(
    command: str, empty_database_url: str, monkeypatch: pytest.MonkeyPatch, inputs: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    args = [command, str(inputs)] if command == "ingest" else [command]
    result = run(*args)
    assert result.exit_code == 2
    assert "edgar-insider migrate" in result.output
    # Nothing was created behind the user's back.
    assert count(empty_database_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


def test_bad_database_url_is_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root:hunter2@localhost/x")
    result = run("status")
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output and "hunter2" not in result.output


def test_unreachable_database_is_an_outage_exit_1_without_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 1: the database is down, not misconfigured (issue 10).
    monkeypatch.setenv("DATABASE_URL", "postgresql://alice:hunter2@127.0.0.1:1/x")
    for command in ("status", "migrate"):
        result = run(command)
        assert result.exit_code == 1, result.output
        assert "hunter2" not in result.output
        assert result.output.startswith("Error: cannot reach the database")
        assert "Connection refused" in result.output and "nothing was changed" in result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_database_that_does_not_exist_is_a_configuration_error(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = make_url(database_url).set(database="edgar_no_such_database")
    monkeypatch.setenv("DATABASE_URL", missing.render_as_string(hide_password=False))
    result = run("status")
    assert result.exit_code == 2, result.output
    assert "refused the connection" in result.output and "does not exist" in result.output


def test_password_is_never_printed(database_url: str, monkeypatch: pytest.MonkeyPatch, inputs: Path) -> None:
    # Trust authentication ignores the password, so the commands really run with it.
    secret = "Sup3r-s3cret-pw"
    url = make_url(database_url).set(password=secret).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    outputs = [
        run("migrate"),
        run("ingest", "--workers", "0", str(inputs)),
        run("status"),
        run("reparse", "--workers", "0"),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert secret not in result.output
    assert "***" in outputs[0].output


# ---------------------------------------------------------------------------
# ingest
# ---------------------------------------------------------------------------


def test_ingest_folder_then_again(db_env: str, inputs: Path) -> None:
    first = run("ingest", "--workers", "0", str(inputs))
    assert first.exit_code == 0, first.output
    # Apple's bare XML loses to its full submission: reported unchanged.
    assert f"loaded {FIXTURE_ACCESSIONS}, replaced 0, unchanged 1, failed 0" in first.output
    assert count(db_env, "SELECT count(*) FROM filings") == FIXTURE_ACCESSIONS

    again = run("ingest", "--workers", "0", str(inputs))
    assert again.exit_code == 0
    assert f"loaded 0, replaced 0, unchanged {FIXTURE_ACCESSIONS + 1}, failed 0" in again.output


def test_ingest_with_worker_processes(db_env: str, inputs: Path) -> None:
    result = run("ingest", "--workers", "2", "--batch-size", "2", str(inputs))
    assert result.exit_code == 0, result.output
    assert count(db_env, "SELECT count(*) FROM filings") == FIXTURE_ACCESSIONS


def test_ingest_reads_gzip_and_recurses(db_env: str, tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    source = FIXTURES / f"{APPLE}.txt"
    (nested / f"{APPLE}.txt.gz").write_bytes(gzip.compress(source.read_bytes()))
    (nested / "notes.md").write_text("not an input")
    result = run("ingest", "--workers", "0", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "loaded 1," in result.output
    raw, name = psycopg.connect(db.libpq_conninfo(db_env)).execute(
        "SELECT r.raw, f.source_name FROM raw_submissions r JOIN filings f USING (accession_number)"
    ).fetchone()
    assert gzip.decompress(raw) == source.read_bytes()  # stored decompressed-then-recompressed
    assert name.endswith(".txt.gz")


def test_ingest_failures_are_recorded_and_exit_1(db_env: str, inputs: Path) -> None:
    (inputs / "broken.txt.gz").write_bytes(b"not gzip at all")
    (inputs / "no-accession-here.xml").write_bytes(b"<ownershipDocument/>")
    result = run("ingest", "--workers", "0", str(inputs))
    assert result.exit_code == 1
    assert f"loaded {FIXTURE_ACCESSIONS}, replaced 0, unchanged 1, failed 2" in result.output
    assert "edgar-insider status" in result.output
    with psycopg.connect(db.libpq_conninfo(db_env)) as conn:
        stages = conn.execute(
            "SELECT stage, source_name FROM ingest_errors ORDER BY stage, source_name"
        ).fetchall()
    # The header-only fixture (1998: before ownership XML) is stored with its reason, which
    # is no error: nothing in ingest_errors for it.
    assert [s for s, _ in stages] == ["parse", "read"]
    assert stages[0][1].endswith("no-accession-here.xml") and stages[1][1].endswith("broken.txt.gz")
    # The good files landed anyway.
    assert count(db_env, "SELECT count(*) FROM filings") == FIXTURE_ACCESSIONS


def test_ingest_accession_for_a_single_file(db_env: str, tmp_path: Path) -> None:
    xml = tmp_path / "form4.xml"  # a name with no accession in it
    xml.write_bytes((FIXTURES / f"{APPLE}.xml").read_bytes())
    assert run("ingest", "--workers", "0", str(xml)).exit_code == 1
    result = run("ingest", "--workers", "0", "--accession", "0000000099-24-000001", str(xml))
    assert result.exit_code == 0, result.output
    assert count(db_env, "SELECT count(*) FROM filings WHERE accession_number = '0000000099-24-000001'") == 1


def test_ingest_usage_errors_exit_2(db_env: str, inputs: Path, tmp_path: Path) -> None:
    both = run("ingest", "--accession", "0000000099-24-000001", str(inputs / f"{APPLE}.txt"), str(inputs))
    assert both.exit_code == 2 and "--accession" in both.output
    folder = run("ingest", "--accession", "0000000099-24-000001", str(inputs))
    assert folder.exit_code == 2
    missing = run("ingest", str(tmp_path / "does-not-exist"))
    assert missing.exit_code == 2
    assert run("ingest").exit_code == 2


# ---------------------------------------------------------------------------
# reparse
# ---------------------------------------------------------------------------


def test_reparse_redoes_older_parser_versions(
    db_env: str, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("ingest", "--workers", "0", str(inputs)).exit_code == 0
    nothing = run("reparse", "--workers", "0")
    assert nothing.exit_code == 0
    assert "loaded 0, replaced 0, unchanged 0, failed 0" in nothing.output

    newer = PARSER_VERSION + 1
    monkeypatch.setattr(load_module, "PARSER_VERSION", newer)
    monkeypatch.setattr(cli_module, "PARSER_VERSION", newer)
    monkeypatch.setattr(pipeline_module, "PARSER_VERSION", newer)
    redo = run("reparse", "--workers", "0", "--batch-size", "3")
    assert redo.exit_code == 0, redo.output
    assert f"replaced {FIXTURE_ACCESSIONS}" in redo.output
    assert count(db_env, f"SELECT count(*) FROM filings WHERE parser_version = {newer}") == FIXTURE_ACCESSIONS
    apple_rows = f"SELECT count(*) FROM non_derivative_transactions WHERE accession_number = '{APPLE}'"
    assert count(db_env, apple_rows) == 7

    forced = run("reparse", "--all", "--workers", "0")
    assert forced.exit_code == 0 and f"replaced {FIXTURE_ACCESSIONS}" in forced.output


# ---------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------


def test_status_on_empty_and_loaded_database(db_env: str, inputs: Path) -> None:
    empty = run("status")
    assert empty.exit_code == 0, empty.output
    assert "newest filing: none yet" in empty.output and "recent errors: none" in empty.output
    assert f"schema revision: {db.head_revision()}" in empty.output

    (inputs / "broken.xml.gz").write_bytes(b"garbage")
    run("ingest", "--workers", "0", str(inputs))
    result = run("status")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    filings_line = next(line for line in lines if line.strip().startswith("filings "))
    assert filings_line.split()[-1] == str(FIXTURE_ACCESSIONS)
    assert any(line.strip().startswith("non_derivative_transactions") for line in lines)
    # The newest by filed date among the fixtures: AAR CORP, filed 2025-02-13.
    assert "newest filing: 0001127602-25-004598" in result.output
    # the unreadable file; the 1998 header-only fixture's reason is no error (nothing to parse)
    assert "recent errors (1 in all):" in result.output and "[read]" in result.output
    assert "stored unparsed" not in result.output
