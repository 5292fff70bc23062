"""`edgar-insider watch` against the stand-in's live latest-filings feed (issue 14).

The stand-in publishes filings while a real `watch` process polls it every second. Nothing
here waits on a wall-clock margin: each test waits (with a generous deadline) for what it
expects in the database, then checks what happened from the stand-in's request log and the
tables (which poll found a filing, how often it was fetched).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from ingest import db
from ingest.sgml import EASTERN
from tests.checksums import table_checksums
from tests.edgar_standin import EdgarStandin, FaultKind, Site, build_site
from tests.sitegen import ownership_day, with_acceptance
from tests.standin_feed import QuirkKind
from tests.waiting import wait_for

DAY = date(2024, 3, 5)  # a Tuesday
REPO = Path(__file__).resolve().parent.parent
USER_AGENT = "edgar-insider watch tests watch@example.org"
FEED = "/cgi-bin/browse-edgar"
FILING_TABLES = ("filings", "raw_submissions", "filing_owners", "non_derivative_transactions",
                 "non_derivative_holdings", "derivative_transactions", "derivative_holdings",
                 "footnotes", "footnote_references", "owner_signatures", "unmapped_values")
# Not content: when a row was written, and which filer's archive folder the same .txt came
# from (EDGAR serves it under every filer; the feed names the issuer's, the index any filer's).
VOLATILE = {"filings": {"ingested_at", "updated_at", "source_name"}}


def accepted(filings: list, start: datetime) -> list:
    """The filings accepted one second apart from ``start`` (US Eastern)."""
    return [with_acceptance(f, start + timedelta(seconds=n)) for n, f in enumerate(filings)]


def morning(count: int) -> list:
    return accepted(ownership_day(DAY, count, agent=9300001), datetime(2024, 3, 5, 10, 0, tzinfo=EASTERN))


def afternoon(count: int, first_serial: int = 1, minute: int = 0) -> list:
    start = datetime(2024, 3, 5, 16, minute, tzinfo=EASTERN)
    return accepted(ownership_day(DAY, count, agent=9300002, first_serial=first_serial), start)


@pytest.fixture
def edgar(tmp_path: Path) -> Iterator[tuple[Site, EdgarStandin]]:
    site = build_site(tmp_path / "edgar", morning(4))
    with EdgarStandin(site.root, site=site) as sec:
        yield site, sec


def env_for(url: str, sec: EdgarStandin, agent: str = USER_AGENT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EDGAR_USER_AGENT")}
    env.update({"DATABASE_URL": url, "EDGAR_USER_AGENT": agent, "EDGAR_BASE_URL": sec.base_url,
                "EDGAR_DATA_URL": sec.data_url, "EDGAR_BLOCK_PAUSE_SECONDS": "1",
                "EDGAR_OUTAGE_SECONDS": "5"})
    return env


class WatchProcess:
    def __init__(self, url: str, sec: EdgarStandin, folder: Path, *extra: str) -> None:
        self.log = folder / f"watch-{time.monotonic_ns()}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ingest", "watch", "--interval", "1", *extra],
                env=env_for(url, sec), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def polls(self) -> int:
        return self.output().count(" watch: ")

    def stop(self, timeout: float = 120) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def watches(tmp_path: Path) -> Iterator[list[WatchProcess]]:
    started: list[WatchProcess] = []
    yield started
    for watch in started:
        if watch.proc.poll() is None:
            watch.kill()


def stored(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT accession_number FROM filings")}


def fetch_statuses(sec: EdgarStandin) -> dict[str, list[int]]:
    """Per filing, the status of every request for its submission, in order."""
    statuses: dict[str, list[int]] = {}
    for record in sec.requests:
        if record.path.startswith("/Archives/edgar/data/") and record.path.endswith(".txt"):
            statuses.setdefault(record.path.rsplit("/", 1)[1][:-4], []).append(record.status)
    return statuses


def assert_each_filing_downloaded_once(sec: EdgarStandin) -> None:
    """Every filing requested was served exactly once. A request the stand-in refused (its
    SEC rule counts arrivals, and on a loaded machine requests granted a second apart can
    arrive closer) and then retried is not a second download."""
    statuses = fetch_statuses(sec)
    assert statuses, "no filing was fetched"
    twice = {a: s for a, s in statuses.items() if s.count(200) != 1}
    assert twice == {}, twice


def start_watch(watches: list, url: str, sec: EdgarStandin, folder: Path, *extra: str) -> WatchProcess:
    watch = WatchProcess(url, sec, folder, *extra)
    watches.append(watch)
    return watch


def test_new_filings_are_loaded_by_the_next_poll(edgar, database_url, db_conn, tmp_path, watches):
    site, sec = edgar
    watch = start_watch(watches, database_url, sec, tmp_path)
    wait_for(lambda: len(stored(db_conn)) == 4, "the morning's filings", watch)
    new = afternoon(3)
    published = time.monotonic()
    for filing in new:
        sec.publish(filing)
    wanted = {f.accession for f in new}
    wait_for(lambda: wanted <= stored(db_conn), "the published filings", watch)
    # Found by the first poll after publication (or the one under way): at most two reads of
    # the feed's first page came between publication and the first fetch of a new filing.
    first_fetch = min(r.t for r in sec.requests if any(a in r.path for a in wanted))
    polls_between = [r for r in sec.requests if r.path == FEED and "start=0" in r.query
                     and published <= r.t <= first_fetch and "type=4" in r.query]
    assert 1 <= len(polls_between) <= 2
    trades = db_conn.execute("SELECT count(DISTINCT accession_number) FROM insider_trades"
                             " WHERE accession_number = ANY(%s)", (list(wanted),)).fetchone()[0]
    with_trades = db_conn.execute(
        "SELECT count(DISTINCT accession_number) FROM non_derivative_transactions"
        " WHERE accession_number = ANY(%s)", (list(wanted),)).fetchone()[0]
    assert trades == with_trades  # in insider_trades, as analysts see them
    assert watch.stop() == 0
    output = watch.output()
    assert "Traceback" not in output and "new filing(s) in the feed" in output
    assert_each_filing_downloaded_once(sec)


def test_more_than_a_page_between_two_polls_is_all_caught(edgar, database_url, db_conn, tmp_path,
                                                        watches):
    site, sec = edgar
    watch = start_watch(watches, database_url, sec, tmp_path)
    wait_for(lambda: len(stored(db_conn)) == 4, "the morning's filings", watch)
    new = afternoon(150)
    for filing in new:
        sec.publish(filing)
    wait_for(lambda: len(stored(db_conn)) == 154, "all 150 published filings", watch, timeout=240)
    assert watch.stop() == 0
    assert_each_filing_downloaded_once(sec)


def test_feed_that_repeats_reorders_drops_or_is_down_loses_nothing(edgar, database_url, db_conn,
                                                                  tmp_path, watches):
    site, sec = edgar
    watch = start_watch(watches, database_url, sec, tmp_path)
    wait_for(lambda: len(stored(db_conn)) == 4, "the morning's filings", watch)
    new = afternoon(12)
    sec.feed.quirk(QuirkKind.REPEAT, new[1].accession, times=3)
    sec.feed.quirk(QuirkKind.REORDER, new[4].accession, times=3)
    sec.feed.quirk(QuirkKind.DROP, new[7].accession, times=2)
    sec.faults.add(f"{FEED}?*type=4*", FaultKind.HTTP_503, times=4)  # briefly down
    for filing in new:
        sec.publish(filing)
    wait_for(lambda: len(stored(db_conn)) == 16, "every published filing", watch, timeout=240)
    assert watch.stop() == 0
    assert_each_filing_downloaded_once(sec)
    assert "Traceback" not in watch.output()


def test_a_second_watch_exits_3(edgar, database_url, db_conn, tmp_path, watches):
    site, sec = edgar
    first = start_watch(watches, database_url, sec, tmp_path)
    wait_for(lambda: first.polls() >= 1, "the first watch's first poll", first)
    second = subprocess.run([sys.executable, "-m", "ingest", "watch"], env=env_for(database_url, sec),
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert second.returncode == 3, second.stderr
    assert "another edgar-insider watch is running" in second.stderr
    assert first.stop() == 0


def test_watch_and_sync_together_store_each_filing_once_as_sync_alone(
    edgar, database_url, db_conn, tmp_path, watches, _migrated_databases
):
    site, sec = edgar
    new = afternoon(20)
    watch = start_watch(watches, database_url, sec, tmp_path)
    wait_for(lambda: len(stored(db_conn)) == 4, "the morning's filings", watch)
    for filing in new:
        sec.publish(filing)
    sync = subprocess.run([sys.executable, "-m", "ingest", "sync", "--date", DAY.isoformat()],
                          env=env_for(database_url, sec, "sync sync@example.org"), cwd=REPO,
                          capture_output=True, text=True, timeout=240)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    wait_for(lambda: len(stored(db_conn)) == 24, "every filing", watch)
    assert watch.stop() == 0
    assert_each_filing_downloaded_once(sec)  # never the same filing twice between the two
    together = table_checksums(db_conn, skip=VOLATILE)
    # The same day by sync alone, on a database of its own.
    name = _migrated_databases.take()
    alone_url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        alone = subprocess.run([sys.executable, "-m", "ingest", "sync", "--date", DAY.isoformat()],
                               env=env_for(alone_url, sec), cwd=REPO, capture_output=True,
                               text=True, timeout=240)
        assert alone.returncode == 0, alone.stdout + alone.stderr
        with psycopg.connect(db.libpq_conninfo(alone_url), autocommit=True) as conn:
            by_sync = table_checksums(conn, skip=VOLATILE)
    finally:
        db.dispose_engines()
        _migrated_databases.release(name)
    assert {t: together[t] for t in FILING_TABLES} == {t: by_sync[t] for t in FILING_TABLES}


def test_killed_mid_batch_then_restarted_loses_and_doubles_nothing(edgar, database_url, db_conn,
                                                                   tmp_path, watches):
    site, sec = edgar
    watch = start_watch(watches, database_url, sec, tmp_path, "--batch-size", "1")
    wait_for(lambda: len(stored(db_conn)) == 4, "the morning's filings", watch)
    sec.faults.add("/Archives/edgar/data/*.txt", FaultKind.SLOW, times=None, delay=0.1, chunk=512)
    for filing in afternoon(10):
        sec.publish(filing)
    wait_for(lambda: len(stored(db_conn)) >= 6, "some afternoon filings", watch)
    watch.kill()
    sec.faults.clear()
    again = start_watch(watches, database_url, sec, tmp_path)
    wait_for(lambda: len(stored(db_conn)) == 14, "every filing after the restart", again)
    assert again.stop() == 0
    counts = db_conn.execute("SELECT (SELECT count(*) FROM filings), (SELECT count(*) FROM raw_submissions),"
                             " (SELECT count(*) FROM fetch_queue WHERE status = 'done')").fetchone()
    assert counts == (14, 14, 14)


def test_a_database_restart_is_waited_out(edgar, database_url, db_conn, tmp_path, watches):
    site, sec = edgar
    watch = start_watch(watches, database_url, sec, tmp_path)
    wait_for(lambda: len(stored(db_conn)) == 4, "the morning's filings", watch)
    db_conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    for filing in afternoon(3):
        sec.publish(filing)
    wait_for(lambda: len(stored(db_conn)) == 7, "the filings published after the restart", watch)
    assert watch.proc.poll() is None  # never an exit for a transient fault
    assert watch.stop() == 0
    output = watch.output()
    assert "waiting" in output and "then going on" in output and "Traceback" not in output


# ---------------------------------------------------------------------------
# The watch's work source, step by step (no subprocess, no clock)
# ---------------------------------------------------------------------------


class _NoNewFilings:
    def poll(self):  # noqa: ANN201 - a FeedPoller stand-in
        from ingest.feed import PollResult

        return PollResult()


def test_a_filing_stored_after_its_queue_row_was_read_is_not_handed_out_again(database_url):
    """The queue is read a page at a time and handed out lazily. A filing of an earlier poll,
    still pending when the page was read, can be stored before it comes up: it must not be
    fetched again (seen as a second download of the same filing on a loaded machine)."""
    import threading

    from ingest.discover import IndexEntry
    from ingest.pipeline import IDLE, WatchSource
    from ingest.runlock import RunLock
    from ingest.worker import Outcome, Status
    from ingest.workqueue import enqueue

    def entry(accession: str) -> IndexEntry:
        return IndexEntry(accession, "4", 1, "Issuer", DAY,
                          f"/Archives/edgar/data/1/{accession}.txt")

    conn = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    try:
        lock = RunLock(conn, "watch", "test")
        lock.acquire()
        source = WatchSource(conn, lock, _NoNewFilings(), 0, threading.Event(), lambda report: None)
        tasks = source.tasks()
        with conn.transaction():
            enqueue(conn, [entry("0000000001-24-000002")], "watch")
        first = next(tasks)  # poll 1 hands it out
        assert first.item.accession_number == "0000000001-24-000002"
        assert next(tasks) is IDLE
        with conn.transaction():  # a filing that sorts before it arrives
            enqueue(conn, [entry("0000000001-24-000001")], "watch")
        # poll 2 reads both rows (the first still pending) and hands out the new one
        assert next(tasks).item.accession_number == "0000000001-24-000001"
        # now the run stores the first filing, as its loop does between two tasks
        with conn.transaction():
            source.record(conn, [Outcome("test", status=Status.LOADED, task=first.item)])
        assert next(tasks) is IDLE  # not the first filing again
    finally:
        conn.close()
