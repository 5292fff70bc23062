"""Nothing lost: crash safety, a lost database, failed raw-store writes, hostile input and
exact round-trips, end to end on a real PostgreSQL (see docs/reliability.md).

Crash tests SIGKILL a real ``python -m ingest.cli sync`` at a chosen point, then finish the
work with a second run and compare the whole database with an uninterrupted run of the same
day: row counts and an md5 of every table's rows (only columns that legitimately differ
between runs, such as timestamps and attempt counters, are left out).

The kill points are made deterministic from the database side rather than with sleeps:
a test connection holds a table lock (or an advisory lock a deferred trigger waits for) so
the run freezes exactly where wanted, and ``pg_stat_activity`` tells when it got there.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from ingest import db
from ingest import worker as worker_module
from ingest.config import EdgarSettings
from ingest.fetch import EdgarClient, RateLimiter, RetryPolicy
from ingest.load import Loader
from ingest.parse import parse_file
from ingest.runs import Run
from tests.checksums import Checksums, table_checksums
from tests.edgar_standin import EdgarStandin, FaultKind, Filer, Site, build_site, make_submission
from tests.sitegen import copy_as, other_forms, ownership_day
from tests.waiting import wait_for

DAY = date(2024, 3, 5)  # a Tuesday
USER_AGENT = "edgar-insider reliability tests reliability@example.org"
REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
OWNERSHIP_FILINGS = 8
BATCH = 2  # filings per load transaction in the killed runs: several commits per run
MASTER_INDEX = Site.daily_paths(DAY)[1]

# Columns that legitimately differ between an interrupted-then-resumed run and a clean one.
VOLATILE_COLUMNS = {
    "filings": {"ingested_at", "updated_at"},
    "ingest_errors": {"id", "occurred_at"},
    "fetch_queue": {"discovered_at", "updated_at", "attempts"},
    "discovered_sources": {"completed_at"},
}
FILING_TABLES = (
    "filings", "raw_submissions", "filing_owners", "non_derivative_transactions",
    "non_derivative_holdings", "derivative_transactions", "derivative_holdings", "footnotes",
    "footnote_references", "owner_signatures", "unmapped_values",
)


# ---------------------------------------------------------------------------------------------
# Helpers: databases, fingerprints, runs
# ---------------------------------------------------------------------------------------------


def conninfo(url: str) -> str:
    return db.libpq_conninfo(url)


# History of the runs themselves: a killed run and its rerun leave other rows than one run.
HISTORY_TABLES = {"run_log"}


def fingerprint(conn: psycopg.Connection) -> Checksums:
    """(rows, md5 of the sorted row texts) for every table but alembic_version and the
    run history."""
    prints = table_checksums(conn, skip=VOLATILE_COLUMNS)
    return {table: value for table, value in prints.items() if table not in HISTORY_TABLES}


def counts(conn: psycopg.Connection, tables: tuple[str, ...] = FILING_TABLES) -> dict[str, int]:
    return {
        t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
        for t in tables
    }


def scalar(conn: psycopg.Connection, query: str, params: tuple = ()) -> object:
    return conn.execute(query, params or None).fetchone()[0]


def pending(conn: psycopg.Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM fetch_queue WHERE status = 'pending'"))


@contextmanager
def scratch_database(server_url: str, template: str) -> Iterator[str]:
    """A migrated database of our own, for module-scoped fixtures (conftest's are per test)."""
    name = f"edgar_rel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo(server_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo(server_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def client_for(sec: EdgarStandin) -> EdgarClient:
    settings = EdgarSettings(user_agent=USER_AGENT, base_url=sec.base_url, data_url=sec.data_url,
                             block_pause_seconds=1.0)
    return EdgarClient(settings, limiter=RateLimiter(10),
                       retry=RetryPolicy(max_attempts=6, backoff_initial=0.05, backoff_max=0.5, jitter=0.05))


def sync_in_process(sec: EdgarStandin, url: str, batch_size: int = BATCH):
    with client_for(sec) as client, Run(url, client, interactive=False, batch_size=batch_size) as run:
        return run.sync([DAY])


def cli_env(sec: EdgarStandin, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EDGAR_USER_AGENT")}
    env.update(DATABASE_URL=url, EDGAR_USER_AGENT=USER_AGENT, EDGAR_BASE_URL=sec.base_url,
               EDGAR_DATA_URL=sec.data_url, EDGAR_BLOCK_PAUSE_SECONDS="1")
    return env


class SyncProcess:
    """``edgar-insider sync --date DAY`` as cron runs it, in a process of its own."""

    def __init__(self, sec: EdgarStandin, url: str, folder: Path, *extra: str) -> None:
        self.out, self.err = folder / "sync.stdout", folder / "sync.stderr"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ingest.cli", *extra, "sync", "--date", DAY.isoformat(),
                 "--batch-size", str(BATCH)],
                env=cli_env(sec, url), cwd=REPO, stdout=out, stderr=err,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        assert self.alive(), f"the run ended before the kill:\n{self.output()}"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def wait(self, timeout: float = 90) -> int:
        return self.proc.wait(timeout=timeout)

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def output(self) -> str:
        return f"exit {self.proc.returncode}\n--- stdout\n{self.stdout()}\n--- stderr\n{self.stderr()}"


_OTHERS = (
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND backend_type = 'client backend'"
)


def backends_waiting(conn: psycopg.Connection, query_like: str, event: str | None = None) -> int:
    where = " AND wait_event = %s" if event else ""
    params = (query_like, event) if event else (query_like,)
    return int(scalar(conn, f"SELECT count(*) {_OTHERS} AND wait_event_type = 'Lock'"
                            f" AND query ILIKE %s{where}", params))


def wait_until_alone(conn: psycopg.Connection, exclude: tuple[int, ...] = ()) -> None:
    """Until every backend of the killed run has gone (its advisory lock with it)."""
    wait_for(lambda: scalar(conn, f"SELECT count(*) {_OTHERS} AND NOT pid = ANY(%s)", (list(exclude),)) == 0,
             "the killed run's database sessions to end", timeout=30)


def terminate_others(conn: psycopg.Connection, exclude: tuple[int, ...] = ()) -> int:
    """What a PostgreSQL restart looks like to the run: every session of it is cut off."""
    rows = conn.execute(f"SELECT pg_terminate_backend(pid) {_OTHERS} AND NOT pid = ANY(%s)",
                        (list(exclude),)).fetchall()
    return len(rows)


class Holder:
    """A session of the test holding a lock until ``release``."""

    def __init__(self, url: str, *statements: str) -> None:
        self.conn = psycopg.connect(conninfo(url))  # a transaction stays open: the lock is held
        self.pid = self.conn.info.backend_pid
        for statement in statements:
            self.conn.execute(statement)

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


@contextmanager
def holding(url: str, *statements: str) -> Iterator[Holder]:
    holder = Holder(url, *statements)
    try:
        yield holder
    finally:
        holder.release()


# ---------------------------------------------------------------------------------------------
# The day every crash test syncs, and the database an uninterrupted run leaves
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crash_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, EdgarStandin]]:
    root = tmp_path_factory.mktemp("edgar-crash")
    filings = ownership_day(DAY, OWNERSHIP_FILINGS, agent=9100001) + other_forms(DAY, 2, agent=9100002)
    site = build_site(root, filings)
    # The stand-in's own rate gate is opened wide: a killed run and the next one each keep
    # their own 10/s limiter, and SEC's limit is tested elsewhere (test_fetch, test_sync).
    with EdgarStandin(root, max_rps=1000) as sec:
        yield site, sec


@pytest.fixture
def sec(crash_site: tuple[Site, EdgarStandin]) -> Iterator[EdgarStandin]:
    standin = crash_site[1]
    standin.faults.clear()
    standin.clear_log()
    yield standin
    standin.faults.clear()


@pytest.fixture(scope="module")
def reference(crash_site: tuple[Site, EdgarStandin], server_url: str, template_database: str):
    """Fingerprint of the database after one uninterrupted sync of DAY."""
    site, standin = crash_site
    with scratch_database(server_url, template_database) as url:
        report = sync_in_process(standin, url)
        assert report.exit_code == 0 and report.loaded == OWNERSHIP_FILINGS, report.summary()
        with psycopg.connect(conninfo(url), autocommit=True) as conn:
            prints = fingerprint(conn)
    assert prints["filings"][0] == OWNERSHIP_FILINGS and prints["non_derivative_transactions"][0] > 0
    return prints


def ownership_accessions(site: Site) -> list[str]:
    return sorted(f.accession for f in site.filings if f.is_ownership)


def finish_and_compare(sec: EdgarStandin, url: str, conn: psycopg.Connection, reference: dict) -> object:
    """Run the same sync again, uninterrupted: the database must end identical."""
    report = sync_in_process(sec, url)
    assert report.exit_code == 0, report.summary()
    assert report.failed == report.missing == 0
    now = fingerprint(conn)
    assert {t: v[0] for t, v in now.items()} == {t: v[0] for t, v in reference.items()}  # counts
    different = sorted(t for t in reference if now[t] != reference[t])
    assert different == [], f"tables whose content differs from an uninterrupted run: {different}"
    assert scalar(conn, "SELECT array_agg(DISTINCT status) FROM fetch_queue") == ["done"]
    return report


def archive_fetches(sec: EdgarStandin) -> list[str]:
    return [r.path.rsplit("/", 1)[1][:-4] for r in sec.requests if r.path.startswith("/Archives/edgar/data/")]


# ---------------------------------------------------------------------------------------------
# SIGKILL at every stage, then run again
# ---------------------------------------------------------------------------------------------


def test_killed_while_downloading_the_daily_index(sec, database_url, db_conn, reference, tmp_path):
    sec.faults.add(MASTER_INDEX, FaultKind.SLOW, times=None, delay=0.2, chunk=64)
    run = SyncProcess(sec, database_url, tmp_path)
    wait_for(lambda: any(r.path == MASTER_INDEX and r.body_bytes > 0 for r in sec.requests),
             "the daily index download to be under way", run)
    run.kill()
    wait_until_alone(db_conn)
    # Nothing was recorded from a half-read index: not the filings, not the index as read.
    assert counts(db_conn, ("fetch_queue", "discovered_sources", "filings")) == {
        "fetch_queue": 0, "discovered_sources": 0, "filings": 0}
    sec.faults.clear()
    finish_and_compare(sec, database_url, db_conn, reference)


def test_killed_mid_fetch(crash_site, sec, database_url, db_conn, reference, tmp_path):
    site, _ = crash_site
    last = ownership_accessions(site)[-1]
    sec.faults.add(f"*/{last}.txt", FaultKind.SLOW, times=None, delay=0.3, chunk=256)
    run = SyncProcess(sec, database_url, tmp_path)
    wait_for(lambda: any(r.path.endswith(f"/{last}.txt") and r.body_bytes > 0 for r in sec.requests)
             and scalar(db_conn, "SELECT count(*) FROM filings") >= BATCH,
             "some filings loaded while the last one is still downloading", run)
    run.kill()
    wait_until_alone(db_conn)
    loaded = {r[0] for r in db_conn.execute("SELECT accession_number FROM filings").fetchall()}
    assert last not in loaded and 0 < len(loaded) < OWNERSHIP_FILINGS
    # Every stored filing is whole: its raw bytes are there, its queue row may still say pending.
    assert scalar(db_conn, "SELECT count(*) FROM raw_submissions") == len(loaded)
    sec.faults.clear()
    sec.clear_log()
    finish_and_compare(sec, database_url, db_conn, reference)
    # Nothing fetched twice that was already stored.
    assert sorted(archive_fetches(sec)) == sorted(set(ownership_accessions(site)) - loaded)


def test_killed_inside_the_load_transaction(sec, database_url, db_conn, reference, tmp_path):
    # The loader writes filings, raw, children... then upserts issuers: hold issuers and the
    # run freezes with a batch half written inside its open transaction.
    with holding(database_url, "LOCK TABLE issuers IN EXCLUSIVE MODE") as lock:
        run = SyncProcess(sec, database_url, tmp_path)
        wait_for(lambda: backends_waiting(db_conn, "%INTO issuers%"), "the loader to block", run)
        run.kill()
        lock.release()
    wait_until_alone(db_conn)
    assert counts(db_conn) == dict.fromkeys(FILING_TABLES, 0)  # no half-written filing
    assert scalar(db_conn, "SELECT array_agg(DISTINCT status) FROM fetch_queue") == ["pending"]
    finish_and_compare(sec, database_url, db_conn, reference)


@pytest.mark.parametrize("commit", ["lands", "is-lost"])
def test_killed_during_commit(commit, sec, database_url, db_conn, reference, tmp_path):
    # A deferred constraint trigger runs at COMMIT and waits for an advisory lock we hold:
    # the run freezes inside COMMIT. After the SIGKILL the server either finishes that commit
    # (the client had sent it) or loses it (the session is cut first): both must converge.
    key = 0x52454C4941424C45  # "RELIABLE"
    db_conn.execute(f"""
        CREATE FUNCTION rel_hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock_shared({key}); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER rel_hold_commit AFTER INSERT ON filings
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rel_hold_commit();
    """)
    with holding(database_url, f"SELECT pg_advisory_lock({key})") as lock:
        run = SyncProcess(sec, database_url, tmp_path)
        wait_for(lambda: backends_waiting(db_conn, "COMMIT%", "advisory"), "the commit to block", run)
        committing = scalar(db_conn, f"SELECT pid {_OTHERS} AND wait_event = 'advisory'")
        run.kill()
        if commit == "is-lost":
            db_conn.execute("SELECT pg_terminate_backend(%s)", (committing,))
        lock.conn.execute(f"SELECT pg_advisory_unlock({key})")
        wait_until_alone(db_conn, exclude=(lock.pid,))
    db_conn.execute("DROP TRIGGER rel_hold_commit ON filings; DROP FUNCTION rel_hold_commit()")
    stored = counts(db_conn)
    if commit == "lands":
        assert 0 < stored["filings"] <= BATCH
        assert stored["raw_submissions"] == stored["filings"]
        # The queue rows were marked in the same transaction: they committed with the rows.
        assert pending(db_conn) == OWNERSHIP_FILINGS - stored["filings"]
    else:
        assert stored == dict.fromkeys(FILING_TABLES, 0)
        assert pending(db_conn) == OWNERSHIP_FILINGS
    report = finish_and_compare(sec, database_url, db_conn, reference)
    assert report.already_loaded == 0  # nothing stored that its queue row did not say


def test_queue_update_is_in_the_load_transaction(sec, database_url, db_conn, reference, tmp_path):
    # Issue 11: the queue's status changes in the same transaction as the filing's rows, so a
    # kill between "the rows committed" and "the queue updated" cannot exist. A trigger makes
    # the queue update wait for a lock we hold: the run freezes inside its load transaction,
    # after writing the batch's rows; they are not visible, and after the kill they are gone.
    key = 0x5155455545  # "QUEUE"
    db_conn.execute(f"""
        CREATE FUNCTION rel_hold_mark() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock_shared({key}); RETURN NEW; END $$;
        CREATE TRIGGER rel_hold_mark BEFORE UPDATE ON fetch_queue
            FOR EACH ROW WHEN (NEW.status = 'done') EXECUTE FUNCTION rel_hold_mark();
    """)
    with holding(database_url, f"SELECT pg_advisory_lock({key})") as lock:
        run = SyncProcess(sec, database_url, tmp_path)
        wait_for(lambda: backends_waiting(db_conn, "%UPDATE fetch_queue q SET%status = v.status%",
                                          "advisory"), "the queue update to block", run)
        in_flight = scalar(db_conn, "SELECT count(*) FROM filings")
        run.kill()
        lock.conn.execute(f"SELECT pg_advisory_unlock({key})")
        wait_until_alone(db_conn, exclude=(lock.pid,))
    db_conn.execute("DROP TRIGGER rel_hold_mark ON fetch_queue; DROP FUNCTION rel_hold_mark()")
    assert in_flight == 0  # the rows were written, uncommitted, when the queue update waited
    assert counts(db_conn) == dict.fromkeys(FILING_TABLES, 0)
    assert pending(db_conn) == OWNERSHIP_FILINGS
    sec.clear_log()
    report = finish_and_compare(sec, database_url, db_conn, reference)
    assert report.already_loaded == 0
    assert len(archive_fetches(sec)) == OWNERSHIP_FILINGS


# ---------------------------------------------------------------------------------------------
# The database goes away mid-run (what a PostgreSQL restart looks like to the client)
# ---------------------------------------------------------------------------------------------


def assert_clean_abort(run: SyncProcess) -> None:
    code = run.wait()
    output = run.output()
    assert code == 1, output
    assert "Traceback" not in output
    assert "lost the database connection" in run.stderr(), output
    assert "Run the same command again" in run.stderr(), output


def test_database_cut_off_while_loading(sec, database_url, db_conn, reference, tmp_path):
    secret = "Abort-S3CRET-pw"  # trust authentication ignores it; the messages must too
    url = make_url(database_url).set(password=secret).render_as_string(hide_password=False)
    with holding(database_url, "LOCK TABLE issuers IN EXCLUSIVE MODE") as lock:
        run = SyncProcess(sec, url, tmp_path)
        wait_for(lambda: backends_waiting(db_conn, "%INTO issuers%"), "the loader to block", run)
        assert terminate_others(db_conn, exclude=(lock.pid,)) >= 2
    assert_clean_abort(run)
    assert secret not in run.output()
    assert counts(db_conn) == dict.fromkeys(FILING_TABLES, 0)
    finish_and_compare(sec, database_url, db_conn, reference)


def test_database_cut_off_while_reading_the_index(sec, database_url, db_conn, reference, tmp_path):
    sec.faults.add(MASTER_INDEX, FaultKind.SLOW, times=None, delay=0.15, chunk=64)
    run = SyncProcess(sec, database_url, tmp_path)
    wait_for(lambda: any(r.path == MASTER_INDEX and r.body_bytes > 0 for r in sec.requests),
             "the daily index download to be under way", run)
    assert terminate_others(db_conn) >= 2  # the run's lock session and its working session
    assert_clean_abort(run)
    assert counts(db_conn, ("fetch_queue", "discovered_sources")) == {
        "fetch_queue": 0, "discovered_sources": 0}
    sec.faults.clear()
    finish_and_compare(sec, database_url, db_conn, reference)


# ---------------------------------------------------------------------------------------------
# The raw store cannot be written (disk full)
# ---------------------------------------------------------------------------------------------

DISK_FULL = 'could not extend file "base/16384/2613": No space left on device'


def test_raw_store_write_fails_for_one_filing(crash_site, sec, database_url, db_conn, reference):
    site, _ = crash_site
    accessions = ownership_accessions(site)
    victim = accessions[3]  # second filing of the second batch of 2
    db_conn.execute(f"""
        CREATE FUNCTION rel_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.accession_number = '{victim}' THEN
                RAISE EXCEPTION '{DISK_FULL}' USING ERRCODE = 'disk_full',
                    HINT = 'Check free disk space.';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER rel_disk_full BEFORE INSERT ON raw_submissions
            FOR EACH ROW EXECUTE FUNCTION rel_disk_full();
    """)
    report = sync_in_process(sec, database_url)
    assert (report.loaded, report.failed, report.exit_code) == (OWNERSHIP_FILINGS - 1, 1, 1), report.summary()
    assert report.failures == [(victim, f"DiskFull: {DISK_FULL}")]
    # Not a trace of the victim in any table...
    for table in FILING_TABLES:
        found = scalar(db_conn, f"SELECT count(*) FROM {table} WHERE accession_number = %s", (victim,))
        assert found == 0, f"{victim} left {found} row(s) in {table}"
    # ...the error says why, the queue will retry it, and the rest of its batch landed.
    errors = db_conn.execute(
        "SELECT stage, message FROM ingest_errors WHERE accession_number = %s", (victim,)).fetchall()
    assert errors == [("load", f"DiskFull: {DISK_FULL}")]
    assert db_conn.execute("SELECT status, last_error FROM fetch_queue WHERE accession_number = %s",
                           (victim,)).fetchone() == ("failed", f"DiskFull: {DISK_FULL}")
    stored = {r[0] for r in db_conn.execute("SELECT accession_number FROM filings").fetchall()}
    assert stored == set(accessions) - {victim}
    # Space is back: the next nightly run lands it, and the database is as if nothing happened
    # (but for the error kept in ingest_errors, which is history).
    db_conn.execute("DROP TRIGGER rel_disk_full ON raw_submissions; DROP FUNCTION rel_disk_full()")
    again = sync_in_process(sec, database_url)
    assert (again.loaded, again.failed, again.exit_code) == (1, 0, 0), again.summary()
    now = fingerprint(db_conn)
    assert now["ingest_errors"][0] == 1
    assert {t: v for t, v in now.items() if t != "ingest_errors"} == {
        t: v for t, v in reference.items() if t != "ingest_errors"}


# ---------------------------------------------------------------------------------------------
# Hostile and broken input, through the whole pipeline
# ---------------------------------------------------------------------------------------------

XML_DECL = b'<?xml version="1.0"?>'


def ownership_xml(body: bytes = b"", *, head: bytes = XML_DECL, issuer: bytes = b"HOSTILE TEST CORP",
                  owner: bytes = b"Owner One") -> bytes:
    return head + (
        b"<ownershipDocument><schemaVersion>X0508</schemaVersion><documentType>4</documentType>"
        b"<periodOfReport>2024-03-01</periodOfReport>"
        b"<issuer><issuerCik>0000000077</issuerCik><issuerName>" + issuer + b"</issuerName>"
        b"<issuerTradingSymbol>HTC</issuerTradingSymbol></issuer>"
        b"<reportingOwner><reportingOwnerId><rptOwnerCik>0000000078</rptOwnerCik>"
        b"<rptOwnerName>" + owner + b"</rptOwnerName></reportingOwnerId>"
        b"<reportingOwnerRelationship><isDirector>1</isDirector></reportingOwnerRelationship>"
        b"</reportingOwner>" + body + b"</ownershipDocument>"
    )


def purchase(day: bytes = b"2024-03-01", shares: bytes = b"100", price: bytes = b"10.5") -> bytes:
    return (
        b"<nonDerivativeTable><nonDerivativeTransaction>"
        b"<securityTitle><value>Common Stock</value></securityTitle>"
        b"<transactionDate><value>" + day + b"</value></transactionDate>"
        b"<transactionCoding><transactionFormType>4</transactionFormType>"
        b"<transactionCode>P</transactionCode><equitySwapInvolved>0</equitySwapInvolved>"
        b"</transactionCoding><transactionAmounts>"
        b"<transactionShares><value>" + shares + b"</value></transactionShares>"
        b"<transactionPricePerShare><value>" + price + b"</value></transactionPricePerShare>"
        b"<transactionAcquiredDisposedCode><value>A</value></transactionAcquiredDisposedCode>"
        b"</transactionAmounts><postTransactionAmounts><sharesOwnedFollowingTransaction>"
        b"<value>1000</value></sharesOwnedFollowingTransaction></postTransactionAmounts>"
        b"<ownershipNature><directOrIndirectOwnership><value>D</value></directOrIndirectOwnership>"
        b"</ownershipNature></nonDerivativeTransaction></nonDerivativeTable>"
    )


def entity_bomb() -> bytes:
    """Billion laughs: 10 levels of 10 references, a 10 GB expansion if anything expanded it."""
    entities = b'<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %c "%s">' % (98 + i, b"&%c;" % (97 + i) * 10) for i in range(9)
    )
    doctype = b"<!DOCTYPE ownershipDocument [" + entities + b"]>"
    return ownership_xml(b"<remarks>&j;</remarks>", head=XML_DECL + doctype)


def external_entity() -> bytes:
    dtd = (b'<!DOCTYPE ownershipDocument SYSTEM "http://127.0.0.1:9/evil.dtd" '
           b'[<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    return ownership_xml(b"<remarks>&x;</remarks>", head=XML_DECL + dtd)


def hostile_accession(n: int) -> str:
    return f"0000000001-24-{n:06d}"


def truncated_submission() -> bytes:
    raw = (FIXTURES / "submissions" / "0001209191-23-021175.txt").read_bytes()
    content = copy_as(raw, hostile_accession(6), DAY).content
    return content[: content.index(b"</ownershipDocument>") - 300]


# file name -> (bytes, what must happen). "error:<text>": parse_error + ingest_errors row with
# <text>; "parsed": loaded and parsed; "unmapped:<reason>": parsed, the bad value kept in
# unmapped_values; "refused:<text>": no filing, an ingest_errors row naming the file.
def hostile_files() -> dict[str, tuple[bytes, str]]:
    a = hostile_accession
    nul_header = make_submission(a(15), "4", DAY, [Filer(77, "ACME\x00CORP", "issuer")]).content
    return {
        f"{a(1)}.xml": (entity_bomb(), "error:DOCTYPE or ENTITY declaration; refused"),
        f"{a(2)}.xml": (external_entity(), "error:DOCTYPE or ENTITY declaration; refused"),
        f"{a(3)}.xml": (ownership_xml(b"<remarks>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</remarks>"),
                        "error:malformed XML: Excessive depth"),
        f"{a(4)}.xml": (ownership_xml(b"<remarks>" + b"x" * (10 * 1024 * 1024) + b"</remarks>"),
                        "error:over the 10,485,760-byte cap"),
        f"{a(5)}.xml": (XML_DECL + b"<edgarSubmission><schemaVersion>X0101</schemaVersion></edgarSubmission>",
                        "refused:not an ownership filing: not an ownership document: root element is"),
        f"{a(6)}.txt": (truncated_submission(), "header-only"),
        f"{a(7)}.xml": (ownership_xml(purchase(), head=b'<?xml version="1.0" encoding="UTF-16"?>',
                                      issuer="Zoë Ødegård".encode()).decode().encode("utf-16"), "parsed"),
        f"{a(8)}.xml": (ownership_xml(purchase(), issuer="Société Générale".encode("latin-1")), "parsed"),
        f"{a(9)}.xml": (ownership_xml(purchase(shares=b"1OO", price=b"$12.50")), "unmapped:not a number"),
        f"{a(10)}.xml": (ownership_xml(purchase(day=b"2023-02-30")), "unmapped:impossible date"),
        f"{a(11)}.txt": (make_submission(a(11), "10-K", DAY, [Filer(77, "HOSTILE TEST CORP")]).content,
                         "refused:not an ownership filing (form type '10-K')"),
        f"{a(12)}.xml": (ownership_xml(b"<remarks>bell &#7; here</remarks>"),
                         "error:xmlParseCharRef: invalid xmlChar value 7"),
        f"{a(13)}.xml": (b"", "refused:not an ownership filing: malformed XML: Document is empty"),
        f"{a(14)}.xml.gz": (b"not gzip at all", "refused:cannot read: Not a gzipped file"),
        f"{a(15)}.txt": (nul_header, "failed:NUL character in header issuer name"),
        "form4-without-accession.xml": (ownership_xml(purchase()), "refused:no accession number"),
    }


GOOD_FILES = ("0000320193-22-000061.txt", "0001127602-25-004598.nc", "0000002488-24-000005.sgml")


def test_hostile_and_broken_files_are_recorded_and_the_rest_loads(database_url, db_conn, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    cases = hostile_files()
    for name, (data, _) in cases.items():
        (folder / name).write_bytes(data)
    expected_good = {}
    for name in GOOD_FILES:  # real filings, in the same folder and the same batch
        raw = (FIXTURES / "load" / name).read_bytes()
        (folder / name).write_bytes(raw)
        expected_good[name[:20]] = parse_file(raw, name)
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "ingest", str(folder)],
        env={**os.environ, "DATABASE_URL": database_url}, cwd=REPO, capture_output=True, text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # some failed: exit 1, not a crash
    assert "Traceback" not in output
    # The empty file and the other XML are not filings (issue 10): refused, not stored.
    assert "loaded 13, replaced 0, unchanged 0, failed 6" in result.stdout, output
    assert "stored unparsed 6" in result.stdout, output

    filings = {r[0]: r[1:] for r in db_conn.execute(
        "SELECT accession_number, parsed, parse_error, form_type FROM filings").fetchall()}
    errors = db_conn.execute(
        "SELECT accession_number, source_name, stage, message FROM ingest_errors").fetchall()
    for name, (_, outcome) in cases.items():
        kind, _, text = outcome.partition(":")
        acc = name[:20]
        mine = [e for e in errors if e[0] == acc or (e[1] or "").endswith("/" + name)]
        if kind == "error":  # stored from what could be read, raw kept, error recorded
            parsed, parse_error, _ = filings[acc]
            assert not parsed and text in parse_error, (name, parse_error)
            assert [(e[2], e[3]) for e in mine] == [("parse", parse_error)], name
            assert scalar(db_conn, "SELECT count(*) FROM raw_submissions"
                                   " WHERE accession_number = %s", (acc,)) == 1
        elif kind in ("parsed", "unmapped"):
            parsed, parse_error, form_type = filings[acc]
            assert parsed and parse_error is None and form_type == "4", name
            assert scalar(db_conn, "SELECT count(*) FROM non_derivative_transactions"
                                   " WHERE accession_number = %s", (acc,)) == 1, name
            assert mine == [], name
            reasons = [r[0] for r in db_conn.execute(
                "SELECT reason FROM unmapped_values WHERE accession_number = %s", (acc,)).fetchall()]
            assert all(r.startswith(text) for r in reasons) and (kind == "unmapped") == bool(reasons), name
        elif kind == "header-only":  # kept from its header, raw stored, no document
            assert filings[acc][0] is False and filings[acc][2] == "4"
            # (whether an error is recorded too: test_truncated_submission_records_an_error)
        else:  # refused or failed: not a row anywhere but the error
            assert acc not in filings, name
            assert len(mine) == 1 and text in mine[0][3], (name, mine)
            assert mine[0][2] == "load" if kind == "failed" else mine[0][2] in ("read", "parse")
    # The XML-level values came through right (encodings, kept values).
    names = dict(db_conn.execute("SELECT accession_number, issuer_name FROM filings").fetchall())
    assert names[hostile_accession(7)] == "Zoë Ødegård" and names[hostile_accession(8)] == "Société Générale"
    kept = db_conn.execute("SELECT raw_value, reason FROM unmapped_values ORDER BY raw_value").fetchall()
    assert [v for v, _ in kept] == ["$12.50", "1OO", "2023-02-30"]
    # No entity was expanded and no file was read: nothing of /etc/passwd anywhere.
    dump = scalar(db_conn, "SELECT string_agg(t::text, '') FROM (SELECT * FROM filings) t") + scalar(
        db_conn, "SELECT coalesce(string_agg(message, ''), '') FROM ingest_errors")
    assert "root:" not in dump and "aaaaaaaaaaaaaaaaaaaa" not in dump
    # The good files in the same batch landed whole.
    for acc, parsed in expected_good.items():
        assert filings[acc][0] is True, acc
        for table, rows in parsed.document.entries.items():
            stored = scalar(db_conn, f"SELECT count(*) FROM {table} WHERE accession_number = %s", (acc,))
            assert stored == len(rows), (acc, table)
        assert scalar(db_conn, "SELECT count(*) FROM footnotes WHERE accession_number = %s",
                      (acc,)) == len(parsed.document.footnotes)


def test_truncated_submission_records_an_error():
    parsed = parse_file(truncated_submission(), f"{hostile_accession(6)}.txt")
    assert parsed.document is None
    assert parsed.parse_error, "a cut-off ownership XML must say so"


def test_hostile_filings_through_sync(database_url, db_conn, tmp_path, monkeypatch):
    """The same kind of input arriving from EDGAR: each bad filing recorded, the rest loads."""
    issuer, owner = Filer(77, "HOSTILE TEST CORP", "issuer"), Filer(78, "OWNER ONE", "reporting-owner")

    def form4(serial: int, xml: bytes, form: str = "4"):
        acc = f"0000000002-24-{serial:06d}"
        body = "<XML>\n" + xml.decode("latin-1") + "\n</XML>"
        return make_submission(acc, form, DAY, [issuer, owner], body=body)

    good = [form4(n, ownership_xml(purchase())) for n in (1, 2)]
    bomb = form4(3, entity_bomb())
    deep = form4(4, ownership_xml(b"<remarks>" + b"<a>" * 3000 + b"</a>" * 3000 + b"</remarks>"))
    ten_k = form4(5, b"")  # listed as a Form 4 in the index, but the document is a 10-K
    ten_k = replace(ten_k, content=make_submission(ten_k.accession, "10-K", DAY, [issuer]).content)
    odd = form4(6, ownership_xml(purchase(day=b"2024-02-31", shares=b"ten")))
    poison = form4(7, ownership_xml(purchase()))  # one the parser crashes on (a parser bug)
    site = build_site(tmp_path / "edgar", [*good, bomb, deep, ten_k, odd, poison])

    def buggy_parser(raw: bytes, name: str, accession: str | None = None):
        if accession == poison.accession:
            int("\xb2")  # what ingest.sgml did on a "CENTRAL INDEX KEY: \xb2" header line
        return parse_file(raw, name, accession)

    monkeypatch.setattr(worker_module, "parse_file", buggy_parser)
    with EdgarStandin(site.root) as standin, client_for(standin) as client, \
            Run(database_url, client, interactive=False) as run:
        report = run.sync([DAY])
    assert (report.loaded, report.failed, report.exit_code) == (5, 2, 1), report.summary()
    assert sorted(report.failures) == [
        (ten_k.accession, "parse failed: " + ten_k.archive_path(77)
         + ": not an ownership filing (form type '10-K')"),
        (poison.accession, "parse failed: internal parser error (ValueError): "
         "invalid literal for int() with base 10: '\xb2'"),
    ]
    rows = dict(db_conn.execute("SELECT accession_number, parse_error FROM filings").fetchall())
    assert rows.keys() == {f.accession for f in (*good, bomb, deep, odd)}
    assert "DOCTYPE or ENTITY" in rows[bomb.accession] and "Excessive depth" in rows[deep.accession]
    assert rows[good[0].accession] is None and rows[odd.accession] is None
    queue = dict(db_conn.execute("SELECT accession_number, status FROM fetch_queue").fetchall())
    assert queue.pop(ten_k.accession) == queue.pop(poison.accession) == "failed"
    assert set(queue.values()) == {"done"}
    errors = db_conn.execute("SELECT accession_number, stage FROM ingest_errors ORDER BY 1").fetchall()
    assert errors == [(bomb.accession, "parse"), (deep.accession, "parse"), (ten_k.accession, "parse"),
                      (poison.accession, "parse")]
    reasons = [r[0] for r in db_conn.execute(
        "SELECT reason FROM unmapped_values WHERE accession_number = %s ORDER BY 1", (odd.accession,))]
    assert reasons == ["impossible date: day is out of range for month", "not a number"]


def test_header_with_a_non_ascii_digit_cik_parses():
    raw = (b"<SEC-HEADER>\nACCESSION NUMBER: 0000000001-24-000099\nCONFORMED SUBMISSION TYPE: 4\n"
           b"REPORTING-OWNER:\n\tOWNER DATA:\n\t\tCOMPANY CONFORMED NAME: X\n"
           b"\t\tCENTRAL INDEX KEY: \xb2\n</SEC-HEADER>\n")
    parsed = parse_file(raw, "x.txt")
    assert parsed.header.filers[0].cik is None


# ---------------------------------------------------------------------------------------------
# Names and footnotes round-trip exactly: parse -> load -> SELECT
# ---------------------------------------------------------------------------------------------

TRICKY_TEXTS = [
    'O\'Brien "Jr." & Sons <Holdings>',
    "back\\slash \\N \\\\ \\t \\x00 %s %(x)s {0} '; DROP TABLE filings; --",  # COPY/format markers
    "Zoë Ødegård — 株式会社 Ελληνικά עברית 😀 \U0001f9d1\u200d\U0001f4bc",  # astral, ZWJ
    "nbsp\u00a0soft\u00adhyphen\u202eRTL-override\u202c\u2028line-sep \x7fDEL \x85NEL \ufeffBOM",
    "tab\tinside, CR LF\r\ninside, lone CR\rinside",  # written as &#9; &#13;&#10; &#13;
]


def xml_text(text: str) -> bytes:
    """Escape for XML; tab, CR and LF as character references so the parser keeps them."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\t", "&#9;").replace("\r", "&#13;").replace("\n", "&#10;").encode()


def test_names_and_footnotes_round_trip_exactly(db_conn):
    parsed_filings = []
    for n, text in enumerate(TRICKY_TEXTS, 1):
        t = xml_text(text)
        body = (purchase().replace(b"Common Stock", t)
                + b'<footnotes><footnote id="F1">' + t + b"</footnote></footnotes>"
                + b"<remarks>" + t + b"</remarks>"
                + b"<ownerSignature><signatureName>" + t + b"</signatureName>"
                b"<signatureDate>2024-03-01</signatureDate></ownerSignature>")
        xml = ownership_xml(body, head=b'<?xml version="1.0" encoding="UTF-8"?>', issuer=t, owner=t)
        xml = xml.replace(b"0000000077", b"%010d" % (7700 + n)).replace(b"0000000078", b"%010d" % (7800 + n))
        parsed = parse_file(xml, f"0000000003-24-{n:06d}.xml")
        assert parsed.parse_error is None, (text, parsed.parse_error)
        parsed_filings.append(parsed)
    results = Loader(db_conn).load(parsed_filings)
    assert [r.status for r in results] == ["loaded"] * len(TRICKY_TEXTS)
    for n, text in enumerate(TRICKY_TEXTS, 1):
        acc = f"0000000003-24-{n:06d}"
        stored = db_conn.execute(
            """SELECT f.issuer_name, f.remarks, o.rpt_owner_name, t.security_title, fn.text,
                      s.signature_name, i.name, p.name
               FROM filings f JOIN filing_owners o USING (accession_number)
               JOIN non_derivative_transactions t USING (accession_number)
               JOIN footnotes fn USING (accession_number) JOIN owner_signatures s USING (accession_number)
               JOIN issuers i ON i.cik = f.issuer_cik JOIN persons p ON p.cik = o.rpt_owner_cik
               WHERE f.accession_number = %s""", (acc,)).fetchone()
        assert stored == (text,) * 8, (text, stored)
        raw = scalar(db_conn, "SELECT raw FROM raw_submissions WHERE accession_number = %s", (acc,))
        assert gzip.decompress(raw) == parsed_filings[n - 1].raw  # the raw store is byte-exact
    # The analysts' view shows the same strings.
    owners = db_conn.execute("SELECT owner_names[1] FROM insider_trades WHERE accession_number LIKE"
                             " '0000000003-24-%' ORDER BY accession_number").fetchall()
    assert [o[0] for o in owners] == TRICKY_TEXTS


def test_what_xml_does_to_whitespace_and_control_characters(db_conn):
    """XML 1.0 rules, end to end: a literal CR LF becomes LF, a character reference keeps
    the character, leaf values are trimmed at both ends, and C0 controls other than tab, LF
    and CR cannot be written at all (even as &#1;): the filing is kept with its parse error."""
    cases = {
        b"a\r\nb\rc": "a\nb\nc",  # end-of-line normalisation
        b"a&#13;&#10;b&#13;c": "a\r\nb\rc",  # references survive
        b"  &#9;padded&#9; \n": "padded",  # leaf values are trimmed (whitespace of any kind)
        b"in&#9;side": "in\tside",
    }
    items = []
    for n, (raw_text, _) in enumerate(cases.items(), 1):
        items.append(parse_file(ownership_xml(owner=raw_text), f"0000000004-24-{n:06d}.xml"))
    bad = [parse_file(ownership_xml(owner=b"bell&#7;"), "0000000004-24-000098.xml"),
           parse_file(ownership_xml(owner=b"nul\x00byte"), "0000000004-24-000099.xml")]
    Loader(db_conn).load(items + bad)
    names = dict(db_conn.execute("SELECT accession_number, rpt_owner_name FROM filing_owners").fetchall())
    for n, expected in enumerate(cases.values(), 1):
        assert names[f"0000000004-24-{n:06d}"] == expected
    rows = dict(db_conn.execute("SELECT accession_number, parse_error FROM filings"
                                " WHERE parse_error IS NOT NULL").fetchall())
    assert "invalid xmlChar value 7" in rows["0000000004-24-000098"]
    assert "0000000004-24-000099" in rows  # a raw NUL byte: malformed, kept with its error
    assert scalar(db_conn, "SELECT count(*) FROM raw_submissions WHERE accession_number LIKE"
                           " '0000000004-24-00009%'") == 2


def test_database_cut_off_during_ingest_is_exit_1_and_a_rerun_finishes(database_url, db_conn,
                                                                       tmp_path):
    # An unreachable database at start-up is a configuration error (exit 2); lost once the
    # loading is under way it is a failed run (exit 1, "run again"), as for sync.
    folder = tmp_path / "in"
    folder.mkdir()
    for name in GOOD_FILES:
        (folder / name).write_bytes((FIXTURES / "load" / name).read_bytes())
    command = [sys.executable, "-m", "ingest", "ingest", str(folder)]
    env = {**os.environ, "DATABASE_URL": database_url}
    with holding(database_url, "LOCK TABLE issuers IN EXCLUSIVE MODE") as lock:
        proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        wait_for(lambda: backends_waiting(db_conn, "%INTO issuers%") or proc.poll() is not None,
                 "the loader to block on issuers")
        assert terminate_others(db_conn, exclude=(lock.pid,)) >= 1
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err
    assert "lost the database connection" in err and "Run the same command again" in err, err
    assert scalar(db_conn, "SELECT count(*) FROM filings") == 0  # the batch rolled back
    rerun = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "loaded 3, replaced 0, unchanged 0, failed 0" in rerun.stdout
