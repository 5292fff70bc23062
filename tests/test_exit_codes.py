"""The README's exit-code table, driven through the real `edgar-insider` console script.

0 all done; 1 a filing failed, is missing or was stored unparsed, or the run stopped early
(the database lost mid-run: "run the same command again"); 2 usage or configuration; 3 another
run holds the lock. `ingest`, `reparse` and `verify` take no lock: they never exit 3.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ingest import db
from ingest.runlock import advisory_key
from tests.edgar_standin import EdgarStandin, Site, build_site
from tests.sitegen import ownership_day

DAY = date(2024, 3, 5)
SCRIPT = str(Path(sys.executable).parent / "edgar-insider")
REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
GOOD = ("0000320193-22-000061.txt", "0001127602-25-004598.nc")

COMMANDS = ("sync", "backfill", "ingest", "reparse", "verify")


@pytest.fixture(scope="module")
def edgar(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("edgar-exit-codes")
    site = build_site(root, ownership_day(DAY, 4, agent=9200001))
    with EdgarStandin(root, max_rps=1000) as sec:
        yield site, sec


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    for name in GOOD:
        (path / name).write_bytes((FIXTURES / "load" / name).read_bytes())
    return path


def env_for(url: str, sec: EdgarStandin, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EDGAR_USER_AGENT")}
    env.update({"DATABASE_URL": url, "EDGAR_USER_AGENT": "exit codes tests@example.org",
                "EDGAR_BASE_URL": sec.base_url, "EDGAR_DATA_URL": sec.data_url,
                "EDGAR_BLOCK_PAUSE_SECONDS": "1", "EDGAR_OUTAGE_SECONDS": "5", **extra})
    return env


def args_for(command: str, folder: Path) -> list[str]:
    return {
        "sync": ["sync", "--date", DAY.isoformat(), "--batch-size", "1"],
        "backfill": ["backfill", "--from", DAY.isoformat(), "--to", DAY.isoformat(), "--batch-size", "1"],
        "ingest": ["ingest", "--workers", "0", "--batch-size", "1", str(folder)],
        "reparse": ["reparse", "--all", "--workers", "0", "--batch-size", "1"],
        "verify": ["verify", "--date", DAY.isoformat()],
    }[command]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=180)


def prepare(command: str, url: str, sec: EdgarStandin, folder: Path) -> None:
    """What each command needs to have work to do: reparse and verify need stored filings."""
    if command == "reparse":
        assert run(args_for("ingest", folder), env_for(url, sec)).returncode == 0
    if command == "verify":
        assert run(args_for("sync", folder), env_for(url, sec)).returncode == 0


def assert_one_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_exit_0_when_all_is_done(command, edgar, database_url, folder):
    _, sec = edgar
    prepare(command, database_url, sec, folder)
    result = run(args_for(command, folder), env_for(database_url, sec))
    assert result.returncode == 0, result.stdout + result.stderr


def _make_one_fail(command: str, url: str, site: Site, folder: Path) -> Callable[[], None]:
    """Make one filing of the command's work fail; returns how to undo it."""
    if command == "ingest":
        (folder / "broken.txt.gz").write_bytes(b"not gzip")
        return lambda: None
    if command == "reparse":
        with psycopg.connect(db.libpq_conninfo(url), autocommit=True) as conn:
            conn.execute("UPDATE raw_submissions SET raw = 'not gzip'::bytea"
                         " WHERE accession_number = '0000320193-22-000061'")
        return lambda: None
    # sync, backfill, verify: one filing EDGAR lists but does not serve (yet)
    victim = sorted(f.accession for f in site.filings)[0]
    moved = []
    for path in site.paths_for(victim):
        real = site.root / "www" / path.lstrip("/")
        real.rename(real.with_suffix(".away"))
        moved.append(real)
    return lambda: [p.with_suffix(".away").rename(p) for p in moved]


@pytest.mark.parametrize("command", COMMANDS)
def test_exit_1_when_a_filing_fails(command, edgar, database_url, folder):
    site, sec = edgar
    prepare(command, database_url, sec, folder) if command == "reparse" else None
    undo = _make_one_fail(command, database_url, site, folder)
    try:
        if command == "verify":  # the nightly job ran with one filing not served: it is missing
            assert run(args_for("sync", folder), env_for(database_url, sec)).returncode == 1
        result = run(args_for(command, folder), env_for(database_url, sec))
    finally:
        undo()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert ("missing 1" if command == "verify" else "edgar-insider status") in result.stdout


# What the command blocks on while we cut its database session (a PostgreSQL restart).
_FREEZE = {
    "verify": ("LOCK TABLE filings IN ACCESS EXCLUSIVE MODE", "%FROM filings%"),
}
_FREEZE_LOADERS = ("LOCK TABLE issuers IN EXCLUSIVE MODE", "%INTO issuers%")


@pytest.mark.parametrize("command", COMMANDS)
def test_exit_1_when_the_database_is_lost_mid_run(command, edgar, database_url, folder, tmp_path):
    _, sec = edgar
    prepare(command, database_url, sec, folder)
    lock_sql, waiting_like = _FREEZE.get(command, _FREEZE_LOADERS)
    conninfo = db.libpq_conninfo(database_url)
    with psycopg.connect(conninfo, autocommit=True) as watcher, psycopg.connect(conninfo) as holder:
        holder.execute(lock_sql)
        out, err = tmp_path / "out", tmp_path / "err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen([SCRIPT, *args_for(command, folder)], env=env_for(database_url, sec),
                                    cwd=REPO, stdout=stdout, stderr=stderr)
            deadline = time.monotonic() + 120
            while not watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query ILIKE %s", (waiting_like,)
            ).fetchone()[0]:
                assert proc.poll() is None, err.read_text()
                assert time.monotonic() < deadline, "the command never blocked"
                time.sleep(0.02)
            watcher.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid NOT IN (pg_backend_pid(), %s) AND backend_type = 'client backend'",
                (holder.info.backend_pid,))
            code = proc.wait(timeout=120)
        holder.rollback()
    result = subprocess.CompletedProcess([], code, out.read_text(), err.read_text())
    assert code == 1, result.stdout + result.stderr
    assert_one_line(result, "lost the database connection", "Run the same command again")


@pytest.mark.parametrize("command", COMMANDS)
def test_exit_2_on_a_configuration_error(command, edgar, folder):
    _, sec = edgar
    result = run(args_for(command, folder), env_for("mysql://edgar@127.0.0.1/edgar", sec))
    assert result.returncode == 2, result.stdout + result.stderr
    assert_one_line(result, "DATABASE_URL must be a PostgreSQL URL")


@pytest.mark.parametrize("command", ["sync", "backfill"])
def test_exit_3_while_another_run_holds_the_lock(command, edgar, database_url, folder):
    _, sec = edgar
    with psycopg.connect(db.libpq_conninfo(database_url), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key("sync"),))
        result = run(args_for(command, folder), env_for(database_url, sec))
    assert result.returncode == 3, result.stdout + result.stderr
    assert_one_line(result, "another edgar-insider sync or backfill is running")
