"""Why a command stops, and the one place that turns it into an exit code and one line.

Every stage raises its own few exceptions (``ingest.fetch`` raises ``EdgarUnreachable``,
``ingest.db`` raises ``DatabaseUnavailable``, the run lock ``RunLocked``/``LockLost``); the
foreign ones (psycopg's ``OperationalError``, a write refused to a read-only role) are
translated here, in :func:`as_stop`, and nowhere else. The CLI catches what a command raises,
asks :func:`as_stop`, prints ``error: <the line>`` and exits with its code; a run that ends
normally gets its code from :func:`exit_code_for`.

Exit codes (README, "Commands"):

* 0: all done;
* 1: the command ran but not everything landed: a filing failed, is missing on EDGAR or was
  stored unparsed (``edgar-insider status`` lists them), or the run stopped early because
  the database or EDGAR went away or its lock was lost. Committed work stays: run it again;
* 2: usage or configuration error (a setting, a malformed database URL, a refused login, a
  database schema that needs ``migrate``, a User-Agent SEC refuses);
* 3: another run holds this database's lock for the same kind of work.

This module imports only the standard library (psycopg lazily), so every stage may use it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Protocol


class ExitCode(IntEnum):
    OK = 0
    INCOMPLETE = 1
    CONFIG = 2
    LOCKED = 3


class Stop(Exception):
    """A reason to end a command, with the exit code it means. The message is one line."""

    exit_code: ExitCode = ExitCode.INCOMPLETE


class ConfigError(Stop):
    """A setting is missing or invalid; the message says what to set."""

    exit_code = ExitCode.CONFIG


class RunLocked(Stop):
    """Another run holds this database's lock for the same kind of work."""

    exit_code = ExitCode.LOCKED


class RunStopped(Stop):
    """The run stopped early; what it committed stays, and running it again finishes it."""

    exit_code = ExitCode.INCOMPLETE


class DatabaseUnavailable(RunStopped):
    """The database cannot be reached at start-up (refused, unknown host, timed out): an
    outage, not a configuration error. Nothing was changed."""


class DatabaseLost(RunStopped):
    """The database went away (or failed) while a run was under way."""


class LockLost(RunStopped):
    """The run could not renew its lock in time (its database session ended): it stopped
    before another run could start, so the two never fetch at the same time."""


class EdgarUnreachable(RunStopped):
    """EDGAR gave no answer at all for longer than the outage bound (DNS, refused, timeouts).

    ``reason``: 'dns', 'refused', 'timeout', 'reset' or 'connection'; ``host``: what was
    asked for; ``tries`` and ``seconds``: how hard and how long it was tried.
    """

    def __init__(self, host: str, reason: str, detail: str, tries: int, seconds: float) -> None:
        self.host, self.reason, self.tries, self.seconds = host, reason, tries, seconds
        super().__init__(
            f"EDGAR unreachable: {host}: {_REASONS.get(reason, reason)} ({detail}); "
            f"{tries} tries over {seconds:.0f} s without an answer"
        )


_REASONS = {
    "dns": "host name not found (DNS)",
    "refused": "connection refused",
    "timeout": "timed out",
    "reset": "connection reset",
    "connection": "connection failed",
}

# SQLSTATE classes that mean the session is gone: connection exception, operator intervention
# (shutdown, terminated backend). Anything else concerns one statement (a bad value, disk
# full, a timeout) and is that write's problem, not the run's.
_SESSION_GONE_CLASSES = ("08", "57P")
# Refused at login because of who we are or what we asked for: configuration, not an outage
# (invalid authorization, invalid catalog name = no such database).
_LOGIN_REFUSED_CLASSES = ("28", "3D")


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (else its type's name)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Connection(Protocol):
    broken: bool
    closed: bool


def connection_lost(exc: BaseException, conn: _Connection | None = None) -> bool:
    """True when the database session is gone (server restart, admin shutdown, network)."""
    if conn is not None and (conn.broken or conn.closed):
        return True
    import psycopg

    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate or ""
    return not state or state.startswith(_SESSION_GONE_CLASSES)


def login_refused(exc: BaseException) -> bool:
    """A connection attempt refused for a configuration reason (password, role, database)."""
    state = getattr(exc, "sqlstate", None) or ""
    if state.startswith(_LOGIN_REFUSED_CLASSES):
        return True
    text = str(exc).lower()  # libpq reports some refusals before any SQLSTATE exists
    return "password authentication failed" in text or "does not exist" in text


def database_lost(exc: BaseException) -> DatabaseLost:
    state = getattr(exc, "sqlstate", None) or ""
    what = (
        "lost the database connection"
        if not state or state.startswith(_SESSION_GONE_CLASSES)
        else "the database failed"
    )
    return DatabaseLost(
        f"{what} ({first_line(exc)}); nothing half-written was kept. "
        "Run the same command again to finish the remaining filings."
    )


def as_stop(exc: BaseException) -> Stop | None:
    """The one translation: our own reasons as they are, the database's into ours, None for
    anything else (a bug: the caller lets it show)."""
    if isinstance(exc, Stop):
        return exc
    import psycopg
    import sqlalchemy.exc

    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return ConfigError(
            f"the database refused a write ({first_line(exc)}): DATABASE_URL must name the role "
            "that owns the edgar-insider tables, not a read-only one"
        )
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None:
        return as_stop(exc.orig)
    if isinstance(exc, psycopg.OperationalError):
        return database_lost(exc)
    return None


class _Report(Protocol):
    failed: int
    missing: int
    unparsed: int
    source_failures: int


def exit_code_for(report: _Report | Any) -> ExitCode:
    """A finished run: 1 when any filing failed, is missing or was stored unparsed, or an
    index or a data-set quarter could not be read."""
    if report.failed or report.missing or report.unparsed or report.source_failures:
        return ExitCode.INCOMPLETE
    return ExitCode.OK
