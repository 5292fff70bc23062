"""Issue 10, nothing lost in the corners: retries that come back, a run lock that cannot be
lost quietly, networks that go away, bad files in a batch, settings that make no sense.

Each test failed before the change it covers (see docs/reliability.md, "Issue 10").
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ingest.config import EdgarSettings
from ingest.errors import LockLost
from ingest.fetch import EdgarClient, RateLimiter, RetryPolicy
from ingest.runlock import RunLock
from ingest.runs import Run
from ingest.worker import MAX_INPUT_BYTES
from tests.edgar_standin import EdgarStandin, FaultKind, Site, build_site, make_submission, max_in_window
from tests.sitegen import copy_as, other_forms, ownership_day, template_submissions
from tests.waiting import wait_for

DAY = date(2024, 3, 5)  # a Tuesday
USER_AGENT = "edgar-insider hardening tests hardening@example.org"
REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def client_for(sec: EdgarStandin, **settings: object) -> EdgarClient:
    config = EdgarSettings(user_agent=USER_AGENT, base_url=sec.base_url, data_url=sec.data_url,
                           block_pause_seconds=1.0, **settings)
    return EdgarClient(config, limiter=RateLimiter(10),
                       retry=RetryPolicy(max_attempts=4, backoff_initial=0.05, backoff_max=0.2, jitter=0.01))


def sync(sec: EdgarStandin, url: str, days: list[date]):
    with client_for(sec) as client, Run(url, client, interactive=False) as run:
        return run.sync(days)


def cli_env(url: str, base_url: str, data_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EDGAR_USER_AGENT")}
    env.update({"DATABASE_URL": url, "EDGAR_USER_AGENT": USER_AGENT, "EDGAR_BASE_URL": base_url,
                "EDGAR_DATA_URL": data_url, "EDGAR_BLOCK_PAUSE_SECONDS": "1", **extra})
    return env


def cli(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingest", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def scalar(conn: psycopg.Connection, query: str, params: tuple = ()) -> object:
    return conn.execute(query, params or None).fetchone()[0]


def queue_row(conn: psycopg.Connection, accession: str) -> tuple:
    return conn.execute(
        "SELECT status, attempts, next_attempt_at IS NOT NULL, next_attempt_at > now()"
        " FROM fetch_queue WHERE accession_number = %s", (accession,)).fetchone()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return build_site(tmp_path / "edgar", ownership_day(DAY, 6) + other_forms(DAY, 2))


@pytest.fixture
def sec(site: Site):
    with EdgarStandin(site.root, max_rps=10) as standin:
        yield standin


def hide(site: Site, accession: str) -> list[tuple[Path, Path]]:
    """Take a filing's documents off the stand-in (EDGAR lists it, does not serve it yet)."""
    moved = []
    for path in site.paths_for(accession):
        real = site.root / "www" / path.lstrip("/")
        away = real.with_suffix(".away")
        real.rename(away)
        moved.append((away, real))
    return moved


def put_back(moved: list[tuple[Path, Path]]) -> None:
    for away, real in moved:
        away.rename(real)


def ownership(site: Site) -> list[str]:
    return sorted(f.accession for f in site.filings if f.is_ownership)


# ---------------------------------------------------------------------------------------------
# Filings that failed come back
# ---------------------------------------------------------------------------------------------


def test_a_missing_filing_is_fetched_by_sync_date_once_it_is_served(site, sec, database_url, db_conn):
    victim = ownership(site)[0]
    moved = hide(site, victim)
    env = cli_env(database_url, sec.base_url, sec.data_url)
    first = cli(["sync", "--date", DAY.isoformat()], env)
    assert first.returncode == 1, first.stderr
    assert queue_row(db_conn, victim)[:3] == ("missing", 1, True)
    status = cli(["status"], env)
    assert f"{victim} missing after 1 attempt(s), filed {DAY}, retry at " in status.stdout
    assert "given up" not in status.stdout.split("filings not loaded:")[1]
    put_back(moved)
    sec.clear_log()
    again = cli(["sync", "--date", DAY.isoformat()], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "loaded 1," in again.stdout
    assert [r.path for r in sec.requests if r.path.endswith(".txt")] == [site.paths_for(victim)[0]] or \
        any(r.path.endswith(f"/{victim}.txt") for r in sec.requests)
    assert queue_row(db_conn, victim)[:3] == ("done", 2, False)
    assert scalar(db_conn, "SELECT count(*) FROM filings WHERE accession_number = %s", (victim,)) == 1


def test_the_nightly_sync_retries_failures_when_due_and_gives_up_after_the_bound(
    site, sec, database_url, db_conn
):
    first, second = ownership(site)[:2]
    moved = hide(site, first) + hide(site, second)
    report = sync(sec, database_url, [DAY])
    assert report.missing == 2 and report.exit_code == 1
    put_back(moved)
    # The next nightly run (no new day) does not retry before the filing's retry time...
    sec.clear_log()
    report = sync(sec, database_url, [])
    assert report.to_process == 0 and not [r for r in sec.requests if r.path.endswith(".txt")]
    # ...and does once it is due; one filing has been failing for longer than the bound.
    db_conn.execute("UPDATE fetch_queue SET next_attempt_at = now() - interval '1 second'"
                    " WHERE accession_number IN (%s, %s)", (first, second))
    db_conn.execute("UPDATE fetch_queue SET first_failed_at = now() - interval '15 days'"
                    " WHERE accession_number = %s", (second,))
    moved = hide(site, second)
    report = sync(sec, database_url, [])
    assert (report.loaded, report.missing) == (1, 1)
    assert queue_row(db_conn, first)[0] == "done"
    assert queue_row(db_conn, second)[:3] == ("missing", 2, False)  # given up: no next attempt
    status = cli(["status"], cli_env(database_url, sec.base_url, sec.data_url))
    assert "1 given up after 14 days" in status.stdout
    assert f"{second} missing after 2 attempt(s), filed {DAY}, given up" in status.stdout
    # Given up: the nightly run leaves it alone, an explicit run over its day does not.
    put_back(moved)
    assert sync(sec, database_url, []).to_process == 0
    report = sync(sec, database_url, [DAY])
    assert report.loaded == 1 and report.exit_code == 0
    assert queue_row(db_conn, second)[0] == "done"


def test_a_backfill_range_retries_what_it_left(site, sec, database_url, db_conn):
    victim = ownership(site)[2]
    moved = hide(site, victim)
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        assert run.backfill_dates(DAY, DAY).missing == 1
    put_back(moved)
    with client_for(sec) as client, Run(database_url, client, interactive=False) as run:
        report = run.backfill_dates(DAY, DAY)
    assert report.loaded == 1 and report.exit_code == 0
    assert queue_row(db_conn, victim)[0] == "done"


# ---------------------------------------------------------------------------------------------
# The run lock
# ---------------------------------------------------------------------------------------------


def _sync_process(url: str, sec: EdgarStandin, agent: str, folder: Path) -> subprocess.Popen:
    env = cli_env(url, sec.base_url, sec.data_url, EDGAR_USER_AGENT=f"{agent} {agent}@example.org")
    out = (folder / f"{agent}.out").open("wb")
    return subprocess.Popen([sys.executable, "-m", "ingest", "sync", "--date", DAY.isoformat(),
                             "--batch-size", "1"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def test_a_run_that_loses_its_session_stops_and_no_other_run_fetches_beside_it(
    site, sec, database_url, db_conn, tmp_path
):
    # Every document arrives slowly: run A is mid-fetch when its session is cut, as by a
    # PostgreSQL restart, pg_terminate_backend or an idle_session_timeout.
    sec.faults.add("/Archives/edgar/data/*.txt", FaultKind.SLOW, times=None, delay=0.2, chunk=512)
    a = _sync_process(database_url, sec, "runa", tmp_path)
    wait_for(lambda: scalar(db_conn, "SELECT count(*) FROM filings") >= 1, "run A to load a filing")
    killed = db_conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchall()
    assert killed
    b = subprocess.run([sys.executable, "-m", "ingest", "sync", "--date", DAY.isoformat()],
                       env=cli_env(database_url, sec.base_url, sec.data_url,
                                   EDGAR_USER_AGENT="runb runb@example.org"),
                       cwd=REPO, capture_output=True, text=True, timeout=180)
    assert a.wait(timeout=180) == 1
    a_output = (tmp_path / "runa.out").read_text()
    assert "Traceback" not in a_output and ("lost the database connection" in a_output
                                            or "run lock" in a_output), a_output
    if b.returncode == 3:  # A was still alive: B refused to start beside it
        assert "lost its database session and may still be fetching until" in b.stderr, b.stderr
        b = subprocess.run([sys.executable, "-m", "ingest", "sync", "--date", DAY.isoformat()],
                           env=cli_env(database_url, sec.base_url, sec.data_url,
                                       EDGAR_USER_AGENT="runb runb@example.org"),
                           cwd=REPO, capture_output=True, text=True, timeout=180)
    assert b.returncode == 0, b.stdout + b.stderr
    requests = sec.requests
    a_times = [r.t for r in requests if r.user_agent.startswith("runa")]
    b_times = [r.t for r in requests if r.user_agent.startswith("runb")]
    assert a_times and b_times
    assert max(a_times) < min(b_times), "two runs fetched at the same time"
    assert max_in_window([r.t for r in requests], 1.0) <= 10
    assert sorted(r[0] for r in db_conn.execute("SELECT accession_number FROM filings")) == ownership(site)


def test_a_lease_that_cannot_be_renewed_stops_fetching(database_url, db_conn):
    conn = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    lock = RunLock(conn, "sync", "test", lease_seconds=3.5)  # fetch for 0.5 s after a renewal
    lock.acquire()
    lock.check()  # fresh
    db_conn.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    with pytest.raises(psycopg.OperationalError):
        lock.renew()
    def lapsed() -> bool:
        try:
            lock.check()
        except LockLost:
            return True
        return False

    wait_for(lapsed, "the lease to lapse", timeout=60)
    # Another run finds the lease of a live process and refuses to start beside it.
    other = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    try:
        row = other.execute("SELECT pid, expires_at > now() FROM run_locks WHERE name = 'sync'").fetchone()
        assert row[0] == os.getpid()
    finally:
        other.close()
        conn.close()


# ---------------------------------------------------------------------------------------------
# Networks go away
# ---------------------------------------------------------------------------------------------

UNREACHABLE = {
    "refused": ("http://127.0.0.1:1", "connection refused"),
    "dns": ("http://edgar-standin.invalid", "host name not found (DNS)"),
}


@pytest.mark.parametrize("case", sorted(UNREACHABLE))
@pytest.mark.parametrize("command", ["sync", "verify", "backfill-dates", "backfill-cik"])
def test_edgar_unreachable_is_one_line_and_exit_1(case, command, database_url, db_conn):
    base, reason = UNREACHABLE[case]
    env = cli_env(database_url, base, base, EDGAR_OUTAGE_SECONDS="2")
    args = {
        "sync": ["sync", "--date", DAY.isoformat()],
        "verify": ["verify", "--date", DAY.isoformat()],
        "backfill-dates": ["backfill", "--from", DAY.isoformat(), "--to", DAY.isoformat()],
        "backfill-cik": ["backfill", "--cik", "320193"],
    }[command]
    result = cli(args, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: EDGAR unreachable: ") and reason in line, line
    assert " tries over " in line
    assert scalar(db_conn, "SELECT count(*) FROM fetch_queue") == 0
    assert scalar(db_conn, "SELECT count(*) FROM discovered_sources") == 0


def test_edgar_going_away_mid_run_stops_the_run_and_leaves_the_rest_queued(
    site, sec, database_url, db_conn, tmp_path
):
    sec.faults.add("/Archives/edgar/data/*.txt", FaultKind.SLOW, times=None, delay=0.2, chunk=512)
    env = cli_env(database_url, sec.base_url, sec.data_url, EDGAR_OUTAGE_SECONDS="3")
    with (tmp_path / "out").open("wb") as out:
        run = subprocess.Popen([sys.executable, "-m", "ingest", "sync", "--date", DAY.isoformat(),
                                "--batch-size", "1", "--workers", "1"],
                               env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: scalar(db_conn, "SELECT count(*) FROM filings") >= 1, "a filing to load")
        sec.faults.clear()
        sec.faults.add(None, FaultKind.RESET, times=None)  # EDGAR is gone: every request reset
        code = run.wait(timeout=180)
    output = (tmp_path / "out").read_text()
    assert code == 1, output
    assert "Traceback" not in output and "Error: EDGAR unreachable" in output, output
    assert "connection reset" in output
    states = dict(db_conn.execute("SELECT status, count(*) FROM fetch_queue GROUP BY 1").fetchall())
    loaded = scalar(db_conn, "SELECT count(*) FROM filings")
    assert states.get("done", 0) == loaded >= 1
    assert states.get("pending", 0) == len(ownership(site)) - loaded  # left queued, not failed
    assert "failed" not in states and "missing" not in states


@pytest.mark.parametrize("setting, value", [
    ("EDGAR_BLOCK_PAUSE_SECONDS", "-5"), ("EDGAR_BLOCK_PAUSE_SECONDS", "nan"),
    ("EDGAR_BLOCK_PAUSE_SECONDS", "inf"), ("EDGAR_OUTAGE_SECONDS", "0"), ("EDGAR_MAX_RPS", "nan"),
])
def test_nonsense_settings_are_refused_before_any_request(setting, value, sec, database_url):
    result = cli(["sync", "--date", DAY.isoformat()],
                 cli_env(database_url, sec.base_url, sec.data_url, **{setting: value}))
    assert result.returncode == 2, result.stderr
    assert setting in result.stderr and "Traceback" not in result.stderr
    assert sec.requests == []


def test_the_summary_counts_every_request_and_the_real_time(site, sec, database_url):
    report = sync(sec, database_url, [DAY])
    assert report.requests == len(sec.requests)  # the daily index included
    assert report.requests == len(ownership(site)) + 1
    assert report.seconds > 0 and f"in {report.seconds:.1f}s" in report.summary()


def test_sync_exits_1_when_a_filing_was_stored_unparsed(tmp_path, database_url, db_conn):
    raw = template_submissions()[0]
    good = copy_as(raw, "0009000009-24-000001", DAY)
    broken = copy_as(raw, "0009000009-24-000002", DAY)
    cut = broken.content.index(b"</ownershipDocument>")
    content = broken.content[:cut] + b"<unclosed>" + broken.content[cut:]
    broken = type(broken)(**{**{f: getattr(broken, f) for f in broken.__dataclass_fields__},
                             "content": content})
    site = build_site(tmp_path / "edgar", [good, broken])
    with EdgarStandin(site.root) as sec:
        result = cli(["sync", "--date", DAY.isoformat()], cli_env(database_url, sec.base_url, sec.data_url))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "loaded 2," in result.stdout and "stored unparsed 1" in result.stdout
    assert "0009000009-24-000002: malformed XML" in result.stderr
    assert scalar(db_conn, "SELECT count(*) FROM filings WHERE NOT parsed") == 1
    assert scalar(db_conn, "SELECT status FROM fetch_queue WHERE accession_number = %s",
                  ("0009000009-24-000002",)) == "done"  # stored; a fixed parser redoes it: reparse


# ---------------------------------------------------------------------------------------------
# One bad file never stops a batch
# ---------------------------------------------------------------------------------------------

GOOD = ("0000320193-22-000061.txt", "0001127602-25-004598.nc")


def _good_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in GOOD:
        (folder / name).write_bytes((FIXTURES / "load" / name).read_bytes())
    return folder


def _ingest(folder: Path, url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingest", "ingest", str(folder)],
                          env={**os.environ, "DATABASE_URL": url}, cwd=REPO,
                          capture_output=True, text=True, timeout=180)


def test_a_symlink_loop_is_one_error_each_and_the_rest_loads(tmp_path, database_url, db_conn):
    folder = _good_folder(tmp_path)
    (folder / "a.xml").symlink_to("b.xml")
    (folder / "b.xml").symlink_to("a.xml")
    (folder / "loop").symlink_to(".")  # a folder linking to itself is not followed
    result = _ingest(folder, database_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "loaded 2, replaced 0, unchanged 0, failed 2" in result.stdout
    errors = db_conn.execute("SELECT source_name, stage, message FROM ingest_errors ORDER BY 1").fetchall()
    assert [(Path(s).name, stage) for s, stage, _ in errors] == [("a.xml", "read"), ("b.xml", "read")]
    assert all("Too many levels of symbolic links" in message for _, _, message in errors)


def test_a_gzip_bomb_is_one_error_and_the_rest_loads(tmp_path, database_url, db_conn):
    folder = _good_folder(tmp_path)
    with gzip.open(folder / "0000000001-24-000001.xml.gz", "wb", compresslevel=9) as bomb:
        block = b"\0" * (1 << 20)
        for _ in range(MAX_INPUT_BYTES // len(block) + 2):  # just over the cap, ~70 KB packed
            bomb.write(block)
    assert (folder / "0000000001-24-000001.xml.gz").stat().st_size < 1 << 20
    result = _ingest(folder, database_url)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "loaded 2, replaced 0, unchanged 0, failed 1" in result.stdout
    [(stage, message)] = db_conn.execute("SELECT stage, message FROM ingest_errors").fetchall()
    assert stage == "read" and f"expands to more than {MAX_INPUT_BYTES:,} bytes" in message


def test_empty_files_named_like_accessions_are_errors_not_filings(tmp_path, database_url, db_conn):
    folder = _good_folder(tmp_path)
    for n in range(1, 41):
        (folder / f"0000000001-24-{n:06d}.xml").write_bytes(b"")
    (folder / "0000000001-24-000099.txt").write_bytes(b"just some notes, not a filing\n")
    result = _ingest(folder, database_url)
    assert result.returncode == 1, result.stderr
    assert "loaded 2, replaced 0, unchanged 0, failed 41" in result.stdout
    assert scalar(db_conn, "SELECT count(*) FROM filings") == 2
    assert scalar(db_conn, "SELECT count(*) FROM ingest_errors WHERE stage = 'parse'"
                           " AND message LIKE '%not an ownership filing%'") == 41


def test_an_oversized_file_is_one_error(tmp_path, database_url, db_conn):
    folder = _good_folder(tmp_path)
    big = folder / "0000000001-24-000005.xml"
    with big.open("wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)  # sparse: no disk used
    result = _ingest(folder, database_url)
    assert result.returncode == 1 and "loaded 2," in result.stdout, result.stdout + result.stderr
    [(message,)] = db_conn.execute("SELECT message FROM ingest_errors").fetchall()
    assert f"over the {MAX_INPUT_BYTES:,}-byte cap" in message


def test_a_submission_that_is_not_a_filing_is_refused_with_its_reason(tmp_path, database_url, db_conn):
    folder = _good_folder(tmp_path)
    other = make_submission("0000000001-24-000007", "10-K", DAY, [])
    (folder / "0000000001-24-000007.txt").write_bytes(other.content)
    result = _ingest(folder, database_url)
    assert result.returncode == 1
    [(message,)] = db_conn.execute("SELECT message FROM ingest_errors").fetchall()
    assert "not an ownership filing (form type '10-K')" in message


@pytest.mark.parametrize("filed, attention", [(date(2001, 5, 2), False), (DAY, True)])
def test_a_form_4_without_ownership_xml_needs_attention_only_after_xml_became_mandatory(
    filed, attention, tmp_path, database_url, db_conn
):
    # A text Form 4 of 2001 is what filings were then: kept unparsed with its reason, no error.
    # The same in 2024 means something is wrong: an ingest_errors row and exit 1.
    text = make_submission("0000000001-24-000008", "4", filed, [], body="a text Form 4")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "0000000001-24-000008.txt").write_bytes(text.content)
    result = _ingest(folder, database_url)
    assert result.returncode == int(attention), result.stdout + result.stderr
    assert ("stored unparsed 1" in result.stdout) is attention
    assert scalar(db_conn, "SELECT count(*) FROM filings WHERE NOT parsed") == 1
    assert scalar(db_conn, "SELECT count(*) FROM ingest_errors") == int(attention)
