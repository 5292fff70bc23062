"""Nobody in: no password in any output, a reader that cannot write, and accession numbers
validated wherever they come from (see docs/reliability.md).

The test server trusts local connections, so a password in DATABASE_URL is ignored by the
server but still travels through every code path that could print it: the commands below
really run with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import sql
from sqlalchemy.engine import make_url

import ingest.analyst
from ingest import db
from ingest.cli import cli
from ingest.config import EdgarSettings
from ingest.discover import parse_master_idx, parse_submissions, submissions_page_path
from ingest.fetch import EdgarClient, RateLimiter, RetryPolicy
from ingest.parse import accession_from_name, parse_file
from ingest.records import ParseError
from ingest.runs import Run
from ingest.workqueue import is_safe_entry
from tests.edgar_standin import EdgarStandin, Site, build_site
from tests.sitegen import ownership_day

DAY = date(2024, 3, 5)
USER_AGENT = "edgar-insider security tests security@example.org"
REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "load" / "0000320193-22-000061.txt"  # Apple, Form 4

SECRET = "S3CR3T-7d1f"  # distinctive: survives URL encoding unchanged
PASSWORD = f"pa:ss@w/rd#?%{SECRET}"  # needs %-encoding in a URL: both forms are looked for


def with_password(url: str, password: str = PASSWORD, **parts: object) -> str:
    return make_url(url).set(password=password, **parts).render_as_string(hide_password=False)


def leaks(text: str, password: str = PASSWORD) -> list[str]:
    """Which forms of the password appear in ``text``."""
    encoded = make_url("postgresql://u@h/d").set(password=password).render_as_string(hide_password=False)
    encoded = encoded.split("//u:", 1)[1].split("@h", 1)[0]
    return [form for form in {password, encoded, SECRET} if form in text]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["-vv", *args], env=env, catch_exceptions=True)


def everything_printed(result: Result) -> str:
    """stdout, stderr and any exception with its traceback: all a user or a log could see."""
    text = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += "".join(traceback.format_exception(result.exception))
    return text


@pytest.fixture
def edgar(tmp_path: Path) -> Iterator[tuple[Site, EdgarStandin]]:
    site = build_site(tmp_path / "edgar", ownership_day(DAY, 3, agent=9200001))
    with EdgarStandin(tmp_path / "edgar") as standin:
        yield site, standin


def edgar_env(standin: EdgarStandin | None, database_url: str) -> dict[str, str]:
    base = standin.base_url if standin else "http://127.0.0.1:1"
    data = standin.data_url if standin else "http://127.0.0.1:1"
    return {"DATABASE_URL": database_url, "EDGAR_USER_AGENT": USER_AGENT, "EDGAR_BASE_URL": base,
            "EDGAR_DATA_URL": data, "EDGAR_BLOCK_PAUSE_SECONDS": "1"}


def database_text(conn: psycopg.Connection) -> str:
    """Every row of every table as text (raw submissions included, as hex)."""
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()]
    return "".join(
        conn.execute(sql.SQL("SELECT coalesce(string_agg(t::text, ''), '') FROM {} t").format(
            sql.Identifier(table))).fetchone()[0]
        for table in tables
    )


# ---------------------------------------------------------------------------------------------
# No password or full DATABASE_URL in any output, at -vv
# ---------------------------------------------------------------------------------------------


def test_commands_never_print_the_password(database_url, db_conn, edgar, tmp_path):
    _, standin = edgar
    url = with_password(database_url)
    env = edgar_env(standin, url)
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(GOOD, inputs)
    (inputs / "broken.xml.gz").write_bytes(b"not gzip")
    runs = {
        "migrate": invoke("migrate", env=env),
        "ingest": invoke("ingest", "--workers", "0", str(inputs), env=env),
        "sync": invoke("sync", "--date", DAY.isoformat(), env=env),
        "verify": invoke("verify", "--date", DAY.isoformat(), env=env),
        "reparse": invoke("reparse", "--all", "--workers", "0", env=env),
        "status": invoke("status", env=env),
    }
    expected = {"migrate": 0, "ingest": 1, "sync": 0, "verify": 0, "reparse": 0, "status": 0}
    for name, result in runs.items():
        assert result.exit_code == expected[name], (name, everything_printed(result))
        assert leaks(everything_printed(result)) == [], name
    assert "***" in runs["migrate"].output and "INFO ingest" in runs["sync"].output  # really verbose
    assert "loaded 3" in runs["sync"].output
    assert leaks(database_text(db_conn)) == []  # not in ingest_errors, source names, ...


def test_grant_reader_never_prints_the_password(database_url, db_conn, reader_role):
    analyst = ingest.analyst
    result = CliRunner().invoke(analyst.grant_reader_command, [reader_role, "--password", PASSWORD],
                                env={"DATABASE_URL": with_password(database_url)})
    assert result.exit_code == 0, everything_printed(result)
    assert "LOGIN" in result.output and leaks(everything_printed(result)) == []


def unreachable_urls(server_url: str) -> dict[str, str]:
    return {
        "closed port": with_password("postgresql://edgar@127.0.0.1:1/edgar"),
        "no such database": with_password(server_url, database=f"edgar_missing_{uuid.uuid4().hex[:8]}"),
        "no such role": with_password(server_url, username=f"nobody_{uuid.uuid4().hex[:8]}"),
        "not PostgreSQL": f"mysql://root:{SECRET}@127.0.0.1/edgar",
    }


@pytest.mark.parametrize("case", ["closed port", "no such database", "no such role", "not PostgreSQL"])
def test_unusable_database_is_a_clean_error_without_the_password(case, server_url, tmp_path):
    # Misconfigured (no such database, role, scheme) is exit 2; down (a closed port) is an
    # outage, exit 1 (issue 10): the same configuration works once the server is back.
    expected = 1 if case == "closed port" else 2
    url = unreachable_urls(server_url)[case]
    env = edgar_env(None, url)
    shutil.copy(GOOD, tmp_path)
    for args in (["status"], ["migrate"], ["ingest", "--workers", "0", str(tmp_path)], ["reparse"],
                 ["sync", "--date", DAY.isoformat()], ["verify", "--date", DAY.isoformat()],
                 ["backfill", "--cik", "320193"]):
        result = invoke(*args, env=env)
        printed = everything_printed(result)
        assert result.exit_code == expected, (args, printed)
        assert "Traceback" not in printed and leaks(printed) == [], (args, printed)
        assert "Error:" in result.output, (args, printed)


def test_unparseable_url_never_prints_the_password():
    result = invoke("status", env={"DATABASE_URL": f"postgresql://edgar:{SECRET}@127.0.0.1:notaport/edgar"})
    assert leaks(everything_printed(result)) == []


def test_unparseable_url_is_a_configuration_error():
    result = invoke("status", env={"DATABASE_URL": f"postgresql://edgar:{SECRET}@127.0.0.1:notaport/edgar"})
    assert result.exit_code == 2, everything_printed(result)


def test_password_in_the_query_string_is_masked(database_url):
    url = make_url(database_url).update_query_dict({"password": SECRET}).render_as_string(
        hide_password=False
    )
    result = invoke("migrate", env={"DATABASE_URL": url})
    assert result.exit_code == 0, everything_printed(result)
    assert leaks(everything_printed(result)) == []


def test_password_with_a_space_is_never_printed(database_url):
    url = with_password(database_url, password=f"correct horse {SECRET}")
    assert "%20" in url or "+" in url or " " in url
    result = invoke("status", env={"DATABASE_URL": url})
    assert leaks(everything_printed(result), f"correct horse {SECRET}") == []
    assert result.exit_code == 0, everything_printed(result)


def test_sync_process_debug_log_holds_no_password(database_url, edgar):
    """The real thing: a separate process, as cron runs it, at -vv."""
    _, standin = edgar
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(edgar_env(standin, with_password(database_url)))
    result = subprocess.run([sys.executable, "-m", "ingest.cli", "-vv", "sync", "--date", DAY.isoformat()],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "INFO ingest" in result.stderr and "loaded 3" in result.stdout
    assert leaks(result.stdout + result.stderr) == []


# ---------------------------------------------------------------------------------------------
# The reader role reads, and that is all
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def reader_role(db_conn: psycopg.Connection) -> Iterator[str]:
    """A unique role name; the role is dropped afterwards (roles are cluster-wide)."""
    role = f"edgar_sec_reader_{uuid.uuid4().hex[:10]}"
    try:
        yield role
    finally:
        db_conn.execute("RESET ROLE")
        if db_conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            ident = sql.Identifier(role)
            db_conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
            db_conn.execute(sql.SQL("DROP ROLE {}").format(ident))


WRITES = [
    "INSERT INTO filings (accession_number, parsed, source_kind, raw_sha256, parser_version)"
    " VALUES ('0000000009-24-000001', true, 'xml', 'x', 1)",
    "UPDATE filings SET issuer_name = 'pwned'",
    "DELETE FROM raw_submissions",
    "TRUNCATE ingest_errors",
    "INSERT INTO fetch_queue (accession_number, path, form_type, filed_date, origin)"
    " VALUES ('0000000009-24-000001', '/x', '4', '2024-01-01', 'sync')",
    "UPDATE fetch_queue SET status = 'done'",
    "CREATE TABLE public.reader_was_here (x int)",
    "CREATE VIEW public.reader_view AS SELECT 1 AS x",
    "ALTER TABLE filings ADD COLUMN pwned text",
    "DROP TABLE footnotes",
    "CREATE SCHEMA reader_schema",
]


def test_reader_can_select_but_not_write(database_url, db_conn, reader_role, tmp_path):
    analyst = ingest.analyst
    shutil.copy(GOOD, tmp_path)
    loaded = invoke("ingest", "--workers", "0", str(tmp_path), env={"DATABASE_URL": database_url})
    assert loaded.exit_code == 0, loaded.output
    analyst.grant_reader(db_conn, reader_role, password=PASSWORD)
    reader_url = with_password(database_url, username=reader_role)
    before = database_text(db_conn)
    with psycopg.connect(db.libpq_conninfo(reader_url), autocommit=True) as reader:
        assert reader.execute("SELECT count(*) FROM insider_trades").fetchone()[0] > 0
        assert reader.execute("SELECT count(*) FROM raw_submissions").fetchone()[0] == 1
        for statement in WRITES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)
    assert database_text(db_conn) == before
    # The writer's commands run with the reader's login change nothing, and say why.
    result = invoke("ingest", "--workers", "0", str(tmp_path), env={"DATABASE_URL": reader_url})
    assert result.exit_code != 0 and leaks(everything_printed(result)) == []
    assert "permission denied" in everything_printed(result)
    assert database_text(db_conn) == before


def test_writer_command_with_reader_login_is_a_clean_error(database_url, db_conn, reader_role, tmp_path):
    analyst = ingest.analyst
    analyst.grant_reader(db_conn, reader_role, password=PASSWORD)
    shutil.copy(GOOD, tmp_path)
    result = invoke("ingest", "--workers", "0", str(tmp_path),
                    env={"DATABASE_URL": with_password(database_url, username=reader_role)})
    printed = everything_printed(result)
    assert result.exit_code == 2 and not isinstance(result.exception, psycopg.Error), printed


def test_sync_with_reader_login_is_a_clean_error(database_url, db_conn, reader_role, edgar):
    analyst = ingest.analyst
    analyst.grant_reader(db_conn, reader_role, password=PASSWORD)
    env = edgar_env(edgar[1], with_password(database_url, username=reader_role))
    result = invoke("sync", "--date", DAY.isoformat(), env=env)
    printed = everything_printed(result)
    assert result.exit_code == 2, printed
    assert "Traceback" not in printed and leaks(printed) == []
    assert "permission denied for table" in result.output
    assert db_conn.execute("SELECT count(*) FROM fetch_queue").fetchone()[0] == 0


# ---------------------------------------------------------------------------------------------
# Accession numbers: validated wherever they come from
# ---------------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd.xml", "....xml", "0000000001-24-00000X.xml",
    "00000000011-24-000001.xml", "0000000001-24-0000011.xml", "0000000001_24_000001.xml",
    "/etc/0000000001-24-000001/../passwd", "0000000001-24-000001\x00.xml", "",
]


def test_accessions_from_file_names_are_digits_or_nothing():
    for name in HOSTILE_NAMES:
        found = accession_from_name(name)
        assert found is None or (found.isascii() and found.replace("-", "").isdigit()), (name, found)
    # A real accession inside a noisy name is found, and only its digits are taken.
    assert accession_from_name("../x/0000000001-24-000001; DROP TABLE filings.xml") == "0000000001-24-000001"


def test_ingest_validates_names_headers_and_the_accession_option(database_url, db_conn, tmp_path):
    env = {"DATABASE_URL": database_url}
    raw = GOOD.read_bytes()
    folder = tmp_path / "in"
    folder.mkdir()
    # A header naming "../x" as its accession; the file name has none either.
    (folder / "notes.txt").write_bytes(raw.replace(b"0000320193-22-000061", b"../../etc/x"))
    # The same, but the file name carries a good one: the name is used, the header's is not.
    (folder / "0000000001-24-000777; rm -rf.txt").write_bytes(raw.replace(b"0000320193-22-000061", b"../x"))
    result = invoke("ingest", "--workers", "0", str(folder), env=env)
    assert result.exit_code == 1, result.output
    assert "loaded 1, replaced 0, unchanged 0, failed 1" in result.output
    stored = [r[0] for r in db_conn.execute("SELECT accession_number FROM filings").fetchall()]
    assert stored == ["0000000001-24-000777"]
    # --accession is checked before anything is stored.
    single = tmp_path / "form4.xml"
    single.write_bytes((FIXTURES / "load" / "0000320193-22-000061.xml").read_bytes())
    for bad in ("../x", "0000000001-24-000001/../../x", "0000000001-24-000001' OR '1'='1", " "):
        result = invoke("ingest", "--workers", "0", "--accession", bad, str(single), env=env)
        assert result.exit_code == 1, (bad, result.output)
        assert "is not an accession number" in result.output
    assert [r[0] for r in db_conn.execute("SELECT accession_number FROM filings").fetchall()] == stored
    sources = db_conn.execute("SELECT stage, message FROM ingest_errors ORDER BY id").fetchall()
    assert len(sources) == 5 and {s for s, _ in sources} == {"parse"}
    assert all(r[0] is None for r in db_conn.execute("SELECT accession_number FROM ingest_errors"))


FULL_WIDTH = "０００００００００１-２４-０００００１"  # U+FF10.. digits: str.isdigit(), \d, not ASCII


def test_unicode_digit_accessions_are_refused():
    assert accession_from_name(f"{FULL_WIDTH}.xml") is None
    with pytest.raises(ParseError):
        parse_file(b"<ownershipDocument/>", "x.xml", accession=FULL_WIDTH)


def master_index(rows: list[str]) -> bytes:
    head = ["Description:           Daily Index of EDGAR Dissemination Feed",
            "Last Data Received:    Mar  5, 2024", "Comments:              webmaster@sec.gov",
            "Anonymous FTP:         ftp://ftp.sec.gov/edgar/", " ",
            "CIK|Company Name|Form Type|Date Filed|File Name", "-" * 80]
    return ("\n".join(head + rows) + "\n").encode("utf-8")


def test_index_rows_with_bad_accessions_or_paths_are_never_fetched(database_url, db_conn, tmp_path):
    filings = ownership_day(DAY, 2, agent=9200002)
    site = build_site(tmp_path / "edgar", filings)
    good_rows = [line for line in (site.root / "www" / Site.daily_paths(DAY)[1].lstrip("/")).read_text()
                 .splitlines() if line.count("|") == 4 and line[0].isdigit()]
    evil = [
        "1|EVIL|4|20240305|edgar/data/1/../../../../etc/passwd",
        "1|EVIL|4|20240305|edgar/data/1/0000000001-24-00000X.txt",
        "1|EVIL|4|20240305|edgar/data/1/../../../../secret/0000000005-24-000005.txt",
        "1|EVIL|4|20240305|edgar/data/1/%2e%2e/%2e%2e/0000000006-24-000006.txt",
        "1|EVIL|4|20240305|edgar/data/1/0000000007-24-000007.txt?../../x.txt",
        f"1|EVIL|4|20240305|edgar/data/1/{FULL_WIDTH}.txt",
        "1|EVIL|4|20240305|edgar/data/1/0000000008-24-000008.txt/../../../../x/0000000008-24-000008.txt",
        "1|EVIL|4|20240305|https://evil.example.com/Archives/edgar/data/1/0000000009-24-000009.txt",
    ]
    (site.root / "www" / Site.daily_paths(DAY)[1].lstrip("/")).write_bytes(master_index(good_rows + evil))
    with EdgarStandin(site.root) as standin:
        settings = EdgarSettings(user_agent=USER_AGENT, base_url=standin.base_url, data_url=standin.data_url,
                                 block_pause_seconds=1.0)
        client = EdgarClient(settings, limiter=RateLimiter(10),
                             retry=RetryPolicy(max_attempts=2, backoff_initial=0.05, backoff_max=0.1))
        with client, Run(database_url, client, interactive=False) as run:
            report = run.sync([DAY])
        requested = standin.paths()
    queued = sorted(r[0] for r in db_conn.execute("SELECT accession_number FROM fetch_queue").fetchall())
    # Only the host-less form of the last row is a well-formed archive path.
    assert queued == sorted([f.accession for f in filings] + ["0000000009-24-000009"])
    assert all(acc.isascii() for acc in queued)
    fetched = [p for p in requested if "daily-index" not in p]
    assert all(p.startswith("/Archives/edgar/data/") and ".." not in p and "%" not in p
               for p in fetched), fetched
    assert not any("secret" in p or "etc" in p or p.endswith("/x.txt") for p in requested), requested
    assert report.loaded == 2 and report.missing == 1  # 0000000009-24-000009 is not on "EDGAR"


def test_submissions_json_accessions_and_page_names_are_checked():
    doc = {"cik": "320193", "name": "APPLE INC", "filings": {"recent": {
        "accessionNumber": ["../../../etc/passwd", "0000320193-24-000001", "0000320193-24-00000X",
                            FULL_WIDTH, "0000320193-24-000002/../x"],
        "form": ["4"] * 5, "filingDate": ["2024-03-05"] * 5,
    }, "files": []}}
    result = parse_submissions(json.dumps(doc).encode())
    # What discovery lets through, the queue checks again (ASCII digits, the path's own name).
    assert [e.accession_number for e in result.entries if is_safe_entry(e)] == ["0000320193-24-000001"]
    assert len(result.bad_lines) >= 3
    for name in ("../../etc/passwd", "CIK0000320193-submissions-001.json/../../x",
                 "CIK0000320193-submissions-001.json?x", "..%2fCIK0000320193-submissions-001.json"):
        with pytest.raises(ValueError):
            submissions_page_path(name)
    # Index parsing: a row without a well-formed accession in its file name is skipped.
    parsed = parse_master_idx(master_index(["1|X|4|20240305|edgar/data/1/0000000001-24-00000X.txt",
                                            "1|X|4|20240305|edgar/data/1/../../etc/passwd"]))
    assert parsed.entries == [] and len(parsed.bad_lines) == 2
