"""One run of a kind per database, and never two fetching at once.

Two parts, both on the run's *working* connection (the one that loads; nothing idles):

* a session advisory lock per kind of run ('sync' for sync and backfill, 'watch'): a second
  run of the same kind finds it taken and exits 3 at once;
* a lease in ``run_locks``: the holder renews it every :data:`RENEW_EVERY` seconds and may
  fetch only while its last renewal is fresh (:meth:`RunLock.check`, called before every
  request). If its session is cut (a PostgreSQL restart, ``pg_terminate_backend``, an
  ``idle_session_timeout``), the advisory lock is gone at once but the lease is not: a new run
  that finds a live lease held by a process that may still be fetching refuses to start
  (exit 3, saying until when), while the old run fails its next renewal or check and stops
  before that time. A holder known to be dead (same host, its process gone: a SIGKILL) does
  not delay anyone, nor does a lease of the same process from a session it lost (``watch``
  reconnecting after a database restart: its fetches share this process's limiter).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
import zlib
from datetime import datetime

import psycopg

from .errors import LockLost, RunLocked

LEASE_SECONDS = 30.0
RENEW_EVERY = 5.0
# A request granted just before the lease runs out still travels to EDGAR: the holder stops
# this long before its lease does.
_SAFETY = 3.0

# pg_try_advisory_lock keys: "EDGARINS" as bytes for sync/backfill (the key of earlier
# releases, so an older version running beside a newer one still excludes it), others hashed.
_KEYS = {"sync": 0x4544474152494E53}


_KINDS = {"sync": "sync or backfill"}  # what each lock's name means to a user


def advisory_key(name: str) -> int:
    return _KEYS.get(name) or (0x45440000_00000000 | zlib.crc32(name.encode()))


def _alive(host: str, pid: int) -> bool:
    """False only when the holder surely is gone: on this host, no such process (or a zombie)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _ours(host: str, pid: int) -> bool:
    """A lease of this very process, from a session it lost (``watch`` reconnecting): its
    fetches all go through this process's own limiter and its pool has stopped."""
    return host == socket.gethostname() and pid == os.getpid()


class RunLock:
    """The lock of one run of kind ``name`` (a context manager)."""

    def __init__(self, conn: psycopg.Connection, name: str, command: str, *,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self.conn = conn
        self.name = name
        self.command = command
        self.lease_seconds = lease_seconds
        self.holder = uuid.uuid4().hex
        self._valid_until = 0.0
        self._renewed = 0.0

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        key = advisory_key(self.name)
        if not self.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            raise RunLocked(
                f"another edgar-insider {_KINDS.get(self.name, self.name)} is running against "
                "this database; this one exits without doing anything"
            )
        try:
            self._take_lease()
        except BaseException:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            raise

    def _take_lease(self) -> None:
        started = time.monotonic()
        with self.conn.transaction():
            row = self.conn.execute(
                "SELECT holder, host, pid, command, expires_at, expires_at > now() FROM run_locks"
                " WHERE name = %s FOR UPDATE", (self.name,)
            ).fetchone()
            if row is not None and row[5] and _alive(row[1], row[2]) and not _ours(row[1], row[2]):
                raise RunLocked(_still_fetching(self.name, row[3], row[1], row[2], row[4]))
            self.conn.execute(
                "INSERT INTO run_locks (name, holder, host, pid, command, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s))"
                " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, host = EXCLUDED.host,"
                " pid = EXCLUDED.pid, command = EXCLUDED.command, acquired_at = now(),"
                " renewed_at = now(), expires_at = EXCLUDED.expires_at",
                (self.name, self.holder, socket.gethostname(), os.getpid(), self.command,
                 self.lease_seconds),
            )
        self._renewed = started
        self._valid_until = started + self.lease_seconds - _SAFETY

    def renew(self) -> None:
        """Extend the lease (and this run's queue claims). Raises LockLost if it was taken."""
        started = time.monotonic()
        with self.conn.transaction():
            updated = self.conn.execute(
                "UPDATE run_locks SET renewed_at = now(),"
                " expires_at = now() + make_interval(secs => %s) WHERE name = %s AND holder = %s"
                " RETURNING expires_at",
                (self.lease_seconds, self.name, self.holder),
            ).fetchone()
            if updated is None:
                raise LockLost(f"the {self.name} run lock was taken over; this run stopped")
            self.conn.execute(
                "UPDATE fetch_queue SET claimed_until = %s WHERE claimed_by = %s AND status <> 'done'",
                (updated[0], self.holder),
            )
        self._renewed = started
        self._valid_until = started + self.lease_seconds - _SAFETY

    def renew_if_due(self) -> None:
        if time.monotonic() - self._renewed >= RENEW_EVERY:
            self.renew()

    def check(self) -> None:
        """Raise LockLost unless the lease is fresh: call before every request (any thread)."""
        if time.monotonic() >= self._valid_until:
            raise LockLost(
                f"could not renew the {self.name} run lock for {self.lease_seconds - _SAFETY:.0f} s "
                "(the database session ended or hung); stopped fetching so that no other run "
                "fetches beside this one. Run the same command again to finish."
            )

    def release(self) -> None:
        if self.conn.closed or self.conn.broken:
            return  # the session is gone: so is the advisory lock; the lease lapses
        try:
            self.conn.execute("DELETE FROM run_locks WHERE name = %s AND holder = %s",
                              (self.name, self.holder))
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (advisory_key(self.name),))
        except psycopg.Error:
            pass  # ending anyway; the session's end frees the lock, the lease lapses


def _still_fetching(name: str, command: str | None, host: str, pid: int, until: datetime) -> str:
    return (
        f"another edgar-insider {_KINDS.get(name, name)} ({command or name}, process {pid} on "
        f"{host}) lost its "
        f"database session and may still be fetching until {until:%Y-%m-%d %H:%M:%S %Z}; "
        "this one exits without doing anything (try again after that)"
    )
