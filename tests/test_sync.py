"""sync and backfill against the local EDGAR stand-in, on a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ingest.config import EdgarSettings
from ingest.errors import RunLocked
from ingest.fetch import EdgarClient, RateLimiter, RetryPolicy
from ingest.runlock import advisory_key
from ingest.runs import Run
from tests.edgar_standin import EdgarStandin, FaultKind, build_site
from tests.sitegen import other_forms, ownership_day

DAY = date(2024, 3, 5)  # a Tuesday
NEXT_DAY = date(2024, 3, 6)
USER_AGENT = "edgar-insider tests tests@example.org"
REPO = Path(__file__).resolve().parent.parent


def settings(sec: EdgarStandin, **extra: object) -> EdgarSettings:
    return EdgarSettings(
        user_agent=USER_AGENT, base_url=sec.base_url, data_url=sec.data_url,
        block_pause_seconds=1.0, **extra,
    )


def client_for(sec: EdgarStandin) -> EdgarClient:
    # A limiter of our own per test (the process-wide one would carry grants over).
    return EdgarClient(
        settings(sec), limiter=RateLimiter(10),
        retry=RetryPolicy(max_attempts=8, backoff_initial=0.05, backoff_max=0.5, jitter=0.05),
    )


@pytest.fixture
def site(tmp_path: Path):
    filings = ownership_day(DAY, 30) + other_forms(DAY, 8)
    filings += ownership_day(NEXT_DAY, 5, first_serial=500) + other_forms(NEXT_DAY, 2, agent=9000003)
    return build_site(tmp_path / "edgar", filings), filings


@pytest.fixture
def sec(site, tmp_path: Path):
    with EdgarStandin(tmp_path / "edgar", max_rps=10) as standin:
        yield standin


def ownership_accessions(filings, day: date) -> set[str]:
    return {f.accession for f in filings if f.is_ownership and f.filed == day}


def stored(conn: psycopg.Connection, table: str = "filings") -> list[str]:
    return [r[0] for r in conn.execute(f"SELECT accession_number FROM {table}").fetchall()]


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = ["filings", "filing_owners", "non_derivative_transactions", "derivative_transactions",
              "non_derivative_holdings", "derivative_holdings", "footnotes", "footnote_references",
              "owner_signatures", "raw_submissions", "fetch_queue"]
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def test_sync_one_day_loads_each_ownership_filing_once(site, sec, database_url, db_conn):
    _, filings = site
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        report = run.sync([DAY])
    expected = ownership_accessions(filings, DAY)
    loaded = stored(db_conn)
    assert sorted(loaded) == sorted(expected)  # each once, nothing else
    assert report.loaded == len(expected) and report.failed == report.missing == 0
    assert report.exit_code == 0
    # One request per filing plus the daily index; never a 10-K or 8-K.
    fetched = [r.path for r in sec.requests if r.path.endswith(".txt")]
    assert len(fetched) == len(expected)
    assert all(site[0].filing(p.rsplit("/", 1)[-1][:-4]).is_ownership for p in fetched)
    assert sec.max_requests_in_any_window(1.0) <= 10
    # Header values came through: filed date and acceptance time.
    row = db_conn.execute(
        "SELECT min(filed_date), max(filed_date), count(accepted_at) FROM filings"
    ).fetchone()
    assert row[0] == row[1] == DAY and row[2] == len(expected)


def test_sync_twice_changes_nothing(site, sec, database_url, db_conn):
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        run.sync([DAY])
    before = table_counts(db_conn)
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        report = run.sync([DAY])
    assert table_counts(db_conn) == before
    assert report.loaded == 0 and report.to_process == 0


def test_sync_with_twenty_percent_faults_lands_everything(site, sec, database_url, db_conn):
    _, filings = site
    sec.faults.random(
        rate=0.2, seed=7,
        kinds=[FaultKind.HTTP_503, FaultKind.HTTP_500, FaultKind.RETRY_AFTER_429, FaultKind.RESET,
               FaultKind.TRUNCATED, FaultKind.BAD_GZIP],
    )
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        report = run.sync([DAY, NEXT_DAY])
    expected = ownership_accessions(filings, DAY) | ownership_accessions(filings, NEXT_DAY)
    assert sorted(stored(db_conn)) == sorted(expected)
    assert report.failed == 0 and report.missing == 0
    assert len(sec.faults.fired) > 0
    assert sec.max_requests_in_any_window(1.0) <= 10


def test_default_days_start_after_the_last_index_read(site, sec, database_url, db_conn):
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        assert run.default_sync_days(NEXT_DAY) == [NEXT_DAY]  # empty database: yesterday only
        run.sync([DAY])
        assert run.default_sync_days(NEXT_DAY) == [NEXT_DAY]
        run.sync([NEXT_DAY])
        assert run.default_sync_days(NEXT_DAY) == []


def test_weekend_without_index_is_not_an_error(site, sec, database_url, db_conn):
    saturday = date(2024, 3, 9)
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        report = run.sync([saturday])
    assert report.days_without_index == 1 and report.exit_code == 0


def test_missing_document_is_recorded_not_retried_forever(site, sec, database_url, db_conn):
    site_obj, filings = site
    victim = sorted(ownership_accessions(filings, DAY))[0]
    sec.forbid(f"*{victim}*")
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        report = run.sync([DAY])
    assert report.missing == 1 and report.exit_code == 1
    status = db_conn.execute(
        "SELECT status, attempts FROM fetch_queue WHERE accession_number = %s", (victim,)
    ).fetchone()
    assert status == ("missing", 1)
    assert db_conn.execute(
        "SELECT count(*) FROM ingest_errors WHERE accession_number = %s AND stage = 'fetch'", (victim,)
    ).fetchone()[0] == 1


def test_second_run_while_one_holds_the_lock(site, sec, database_url):
    holder = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key("sync"),))
        with client_for(sec) as client, pytest.raises(RunLocked, match="another edgar-insider"):
            with Run(database_url, client, interactive=False):
                pass
    finally:
        holder.close()


def test_backfill_by_dates_and_by_cik(site, sec, database_url, db_conn):
    _, filings = site
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        report = run.backfill_dates(date(2024, 3, 1), date(2024, 3, 5))
    assert sorted(stored(db_conn)) == sorted(ownership_accessions(filings, DAY))
    assert report.exit_code == 0
    reporter = next(f for f in filings if f.is_ownership and f.filed == NEXT_DAY)
    owner_cik = next(fl.cik for fl in reporter.filers if fl.role == "reporting-owner")
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        run.backfill_cik(owner_cik)
    assert reporter.accession in stored(db_conn)


# -- the command line, as cron runs it ---------------------------------------------------------


def cli_env(sec: EdgarStandin, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EDGAR_USER_AGENT")}
    env.update(
        DATABASE_URL=database_url, EDGAR_USER_AGENT=USER_AGENT, EDGAR_BASE_URL=sec.base_url,
        EDGAR_DATA_URL=sec.data_url, EDGAR_BLOCK_PAUSE_SECONDS="1", **extra,
    )
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", *args], env=env, cwd=REPO,
        capture_output=True, text=True, timeout=timeout,
    )


def test_cli_sync_refuses_without_user_agent(sec, database_url):
    env = cli_env(sec, database_url)
    del env["EDGAR_USER_AGENT"]
    result = run_cli(["sync", "--date", DAY.isoformat()], env)
    assert result.returncode == 2
    assert "EDGAR_USER_AGENT" in result.stderr
    assert not sec.requests


def test_cli_sync_under_cron_prints_plain_lines(site, sec, database_url, db_conn):
    result = run_cli(["sync", "--date", DAY.isoformat()], cli_env(sec, database_url))
    assert result.returncode == 0, result.stderr
    assert "loaded 30" in result.stdout
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    # Verify agrees with EDGAR's index for that day.
    result = run_cli(["verify", "--date", DAY.isoformat()], cli_env(sec, database_url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "missing 0, extra 0" in result.stdout


def test_cli_verify_lists_missing_filings(site, sec, database_url, db_conn):
    result = run_cli(["verify", "--date", DAY.isoformat()], cli_env(sec, database_url))
    assert result.returncode == 1
    assert "missing 30" in result.stdout


def test_cli_second_sync_exits_3_while_locked(site, sec, database_url):
    holder = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key("sync"),))
        result = run_cli(["sync", "--date", DAY.isoformat()], cli_env(sec, database_url))
    finally:
        holder.close()
    assert result.returncode == 3
    assert "another edgar-insider sync or backfill is running" in result.stderr


def test_sync_killed_mid_run_and_run_again_ends_with_each_filing_once(site, sec, database_url, db_conn):
    _, filings = site
    env = cli_env(sec, database_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", "sync", "--date", DAY.isoformat(), "--batch-size", "5"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db_conn.execute("SELECT count(*) FROM filings").fetchone()[0] >= 5:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    partial = db_conn.execute("SELECT count(*) FROM filings").fetchone()[0]
    expected = ownership_accessions(filings, DAY)
    assert 0 < partial < len(expected), "the kill should land mid-run"
    result = run_cli(["sync", "--date", DAY.isoformat()], env)
    assert result.returncode == 0, result.stderr
    assert sorted(stored(db_conn)) == sorted(expected)
    assert sorted(stored(db_conn, "raw_submissions")) == sorted(expected)
    statuses = db_conn.execute("SELECT DISTINCT status FROM fetch_queue").fetchall()
    assert statuses == [("done",)]


def test_status_lists_failed_and_missing_filings(site, sec, database_url, db_conn):
    _, filings = site
    victim = sorted(ownership_accessions(filings, DAY))[1]
    sec.forbid(f"*{victim}*")
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        run.sync([DAY])
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "status"], env={**env, "DATABASE_URL": database_url},
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "fetch queue: pending 0, done 29, failed 0, missing 1" in result.stdout
    assert f"{victim} missing after 1 attempt(s)" in result.stdout
    assert "last daily index read: 2024-03-05" in result.stdout
