"""What analysts need besides the views of migration 0003: a read-only role, and the
worked queries of ``docs/queries.md`` as data (so tests and benchmarks run exactly the SQL
the documentation shows).

``grant_reader(conn, role)`` creates (if missing) a role that can read every table and view
of schema ``public`` and nothing else, including tables created later; the CLI command
``grant-reader`` (``grant_reader_command``) wraps it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import click
import psycopg
from psycopg import sql

from . import db

SCHEMA = "public"

# A plain, unquoted-style PostgreSQL identifier: lower case so that what the user typed is
# what psql users will type (no case-folding surprises), at most 63 bytes (NAMEDATALEN - 1).
_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Built-in and predefined roles are never ours to touch.
_RESERVED_PREFIXES = ("pg_",)
_RESERVED_NAMES = frozenset({"public", "current_user", "session_user", "current_role", "none"})

DOCUMENTED_QUERIES = db.REPO_ROOT / "docs" / "queries.md"

# Migration 0009's SQL function: owner summaries, amendment links and amended lines of
# these filings and of every amendment family they touch, recomputed.
REFRESH_ANALYST_ROWS = "SELECT refresh_analyst_rows(%s::text[])"


def refresh_analyst_rows(cur: psycopg.Cursor, accessions: Sequence[str]) -> None:
    """Bring what the analyst views read from stored rows up to date with the filings just
    written (or deleted), in the caller's transaction: the loader calls it in every batch."""
    cur.execute(REFRESH_ANALYST_ROWS, (list(accessions),))


class InvalidRoleName(ValueError):
    """The role name is not a safe, plain identifier."""


class UnsuitableRole(ValueError):
    """The role exists and is more than a reader (administrator, table owner, yourself)."""


@dataclass(slots=True)
class GrantResult:
    role: str
    created: bool
    login: bool
    relations: int  # tables and views readable now
    warnings: list[str] = field(default_factory=list)


def validate_role_name(role: str) -> str:
    """Return ``role`` if it is a plain lower-case identifier, else raise InvalidRoleName."""
    if not isinstance(role, str) or not _ROLE_RE.fullmatch(role):
        raise InvalidRoleName(
            f"{role!r} is not a valid role name: use 1-63 characters, lower-case letters, digits "
            "and underscores, not starting with a digit"
        )
    if role in _RESERVED_NAMES or role.startswith(_RESERVED_PREFIXES):
        raise InvalidRoleName(f"{role!r} is a reserved role name")
    return role


def grant_reader(
    conn: psycopg.Connection, role: str, *, create: bool = True, password: str | None = None
) -> GrantResult:
    """Make ``role`` a read-only reader of schema ``public``.

    Creates the role when it does not exist (``create``; NOLOGIN, or LOGIN with
    ``password``), or sets LOGIN + the new password on an existing one when ``password`` is
    given. An existing role that is more than a reader (superuser or other administrative
    attribute, the connected user, owner of tables here) raises UnsuitableRole, untouched.

    Grants CONNECT on the current database, USAGE on the schema, SELECT on every table and
    view in it, and default privileges so tables and views created later (by the user
    running this, and by the owner of the schema's tables, i.e. whoever runs migrations)
    are readable too. Grants nothing else: no INSERT, UPDATE, DELETE, TRUNCATE,
    REFERENCES, TRIGGER or CREATE. Runs in one transaction.
    """
    validate_role_name(role)
    ident = sql.Identifier(role)
    warnings: list[str] = []
    with conn.transaction():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        created = False
        if exists is None:
            if not create:
                raise LookupError(f"role {role!r} does not exist (and creating it was not asked for)")
            if password is None:
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident))
            else:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(password))
                )
            created = True
        else:
            problem = _not_a_reader(conn, role)
            if problem:
                raise UnsuitableRole(f"role {role!r} {problem}; refusing to touch it: pick another name")
            if password is not None:
                conn.execute(
                    sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(password))
                )
        login = bool(
            conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)).fetchone()[0]
        )
        schema = sql.Identifier(SCHEMA)
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), ident)
        )
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, ident))
        for owner in _table_creators(conn):
            conn.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
                ).format(sql.Identifier(owner), schema, ident)
            )
        relations = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')",
            (SCHEMA,),
        ).fetchone()[0]
        if _public_can_create(conn):
            warnings.append(
                "every role (PUBLIC) may CREATE in schema public on this server (PostgreSQL < 15 "
                "default), so this reader can too; run REVOKE CREATE ON SCHEMA public FROM PUBLIC "
                "to make it strictly read-only"
            )
    return GrantResult(role=role, created=created, login=login, relations=relations, warnings=warnings)


def _not_a_reader(conn: psycopg.Connection, role: str) -> str | None:
    """Why an EXISTING role cannot be made (or kept) a read-only reader, or None.

    A role with administrative attributes, the connected user, or the owner of tables of the
    schema can write whatever SELECT grants are added; altering its password would even lock
    an administrator out.
    """
    row = conn.execute(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls, "
        "rolname = current_user, EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relowner = r.oid) "
        "FROM pg_roles r WHERE rolname = %s",
        (SCHEMA, role),
    ).fetchone()
    if row[0]:
        return "has administrative attributes (superuser, createrole, createdb, replication or bypassrls)"
    if row[1]:
        return "is the user running this"
    if row[2]:
        return f"owns tables in schema {SCHEMA}"
    return None


def _table_creators(conn: psycopg.Connection) -> list[str]:
    """Roles whose future tables the reader must see: the current user and the owners of
    the schema's existing tables (the migrating user, when that is someone else)."""
    rows = conn.execute(
        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p')",
        (SCHEMA,),
    ).fetchall()
    current = conn.execute("SELECT current_user").fetchone()[0]
    owners = [current, *sorted(r[0] for r in rows if r[0] != current)]
    # ALTER DEFAULT PRIVILEGES FOR ROLE x needs membership in x (superusers have it).
    return [
        o for o in owners
        if o == current
        or conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (o,)).fetchone()[0]
    ]


def _public_can_create(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(coalesce(n.nspacl, "
        "acldefault('n', n.nspowner))) a WHERE n.nspname = %s AND a.grantee = 0 "
        "AND a.privilege_type = 'CREATE')",
        (SCHEMA,),
    ).fetchone()
    return bool(row[0])


@click.command("grant-reader")
@click.argument("role")
@click.option(
    "--password",
    envvar="EDGAR_READER_PASSWORD",
    default=None,
    help="Give the role LOGIN with this password (or set EDGAR_READER_PASSWORD). Without it "
    "a new role is NOLOGIN: grant it to login roles (GRANT reader TO alice).",
)
@click.option(
    "--create/--no-create",
    default=True,
    show_default=True,
    help="Create the role when it does not exist.",
)
def grant_reader_command(role: str, password: str | None, create: bool) -> None:
    """Create (if needed) a read-only ROLE for analysts: SELECT on every table and view,
    now and in the future, and nothing else."""
    try:
        validate_role_name(role)
    except InvalidRoleName as exc:
        raise click.BadParameter(str(exc), param_hint="ROLE") from exc
    target = db.ready()
    with db.connect(target.url, autocommit=True) as conn:
        try:
            result = grant_reader(conn, role, create=create, password=password)
        except (LookupError, UnsuitableRole) as exc:
            raise click.ClickException(str(exc)) from exc
    state = "created" if result.created else "updated"
    kind = "LOGIN" if result.login else "NOLOGIN"
    click.echo(
        f"role {result.role} {state} ({kind}): SELECT on {result.relations} tables and views "
        f"of schema {SCHEMA}, and on those created later; nothing else"
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


# ---------------------------------------------------------------------------
# docs/queries.md as data
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class DocumentedQuery:
    """One worked question of docs/queries.md: its heading, SQL, and documented result."""

    title: str
    sql: str
    columns: list[str]
    rows: list[list[str]]  # cells as documented (NULL shown as an empty cell)


_HEADING = re.compile(r"^##\s+(?P<title>.+?)\s*$")
_FENCE_SQL = re.compile(r"^```sql\s*$")
_FENCE_END = re.compile(r"^```\s*$")
_NO_ROWS = re.compile(r"^\(0 rows\)\s*$")


def documented_queries(text: str | None = None) -> list[DocumentedQuery]:
    """Every ``## heading`` of docs/queries.md that has a ```sql block, with the result
    table that follows the block (a Markdown table, or the line ``(0 rows)``).

    Raises ValueError when a section has SQL but no result, or a result table is ragged.
    """
    if text is None:
        text = Path(DOCUMENTED_QUERIES).read_text(encoding="utf-8")
    lines = text.splitlines()
    out: list[DocumentedQuery] = []
    title: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = _HEADING.match(line)
        if heading:
            title = heading.group("title")
            i += 1
            continue
        if _FENCE_SQL.match(line):
            if title is None:
                raise ValueError(f"line {i + 1}: SQL block before any ## heading")
            body: list[str] = []
            i += 1
            while i < len(lines) and not _FENCE_END.match(lines[i]):
                body.append(lines[i])
                i += 1
            i += 1
            columns, rows, i = _result_after(lines, i, title)
            out.append(DocumentedQuery(title, "\n".join(body).strip(), columns, rows))
            continue
        i += 1
    return out


def _result_after(lines: list[str], i: int, title: str) -> tuple[list[str], list[list[str]], int]:
    while i < len(lines):
        line = lines[i].strip()
        if _NO_ROWS.match(line):
            return [], [], i + 1
        if line.startswith("|"):
            break
        if _HEADING.match(lines[i]) or _FENCE_SQL.match(lines[i]):
            raise ValueError(f"{title!r}: no result table after its SQL")
        i += 1
    else:
        raise ValueError(f"{title!r}: no result table after its SQL")
    table: list[list[str]] = []
    while i < len(lines) and lines[i].strip().startswith("|"):
        table.append(split_table_row(lines[i]))
        i += 1
    if len(table) < 2 or not all(set(c) <= set("-: ") for c in table[1]):
        raise ValueError(f"{title!r}: the result is not a Markdown table")
    columns, rows = table[0], table[2:]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"{title!r}: row {row} has {len(row)} cells, expected {len(columns)}")
    return columns, rows, i


def split_table_row(line: str) -> list[str]:
    """``| a | b\\|c |`` -> ``['a', 'b|c']`` (``\\|`` is a literal pipe)."""
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    cells = re.split(r"(?<!\\)\|", inner)
    return [c.strip().replace("\\|", "|") for c in cells]


def format_cell(value: object) -> str:
    """A query result value as docs/queries.md shows it: NULL empty, booleans true/false,
    numbers and dates as PostgreSQL prints them, arrays comma-separated."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(v) for v in value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def markdown_table(columns: list[str], rows: list[tuple]) -> str:
    """Rows as the Markdown table documented under a query (``(0 rows)`` when empty)."""
    if not rows:
        return "(0 rows)"

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(format_cell(v)) for v in row) + " |" for row in rows]
    return "\n".join(lines)
