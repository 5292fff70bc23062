"""Fetch stage: the one way this project talks HTTP to EDGAR.

SEC's fair-access rules (https://www.sec.gov/os/accessing-edgar-data) shape everything here:

* at most ``EDGAR_MAX_RPS`` (≤ 10) requests in *every* sliding second, for the whole machine
  (every thread, and every edgar-insider process sharing ``EDGAR_RATE_STATE``), retries
  included (:class:`RateLimiter`, one acquisition per HTTP request);
* a declared User-Agent with a contact e-mail, ``Accept-Encoding: gzip, deflate``;
* when SEC blocks (403 "Request Rate Threshold Exceeded" page, or 429 without Retry-After), every
  worker stops for ``block_pause_seconds``: retrying inside the block only extends it;
* an HTML refusal page is never returned as a document;
* when EDGAR gives no answer at all (DNS, refused, timeouts) for every try of a request, or for
  longer than ``outage_seconds``, :class:`~ingest.errors.EdgarUnreachable` says so in one line:
  the run stops and leaves its work queued instead of marking filings failed for hours.

The client knows nothing about parsing or the database: it returns verified bytes (length
checked against Content-Length, gzip checked end to end) or raises one of the errors below.

Example::

    client = EdgarClient(EdgarSettings.from_env())
    raw = client.get_archive("edgar/data/320193/0000320193-23-000079.txt")
    doc = client.get_json("/submissions/CIK0000320193.json")   # data.sec.gov
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import fcntl
import gzip
import http.client
import json
import logging
import math
import os
import random
import re
import socket
import stat
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import requests
import tenacity
import urllib3
from requests.adapters import HTTPAdapter

from ingest.config import SEC_MAX_RPS, ConfigError, EdgarSettings, rate_state_path
from ingest.errors import EdgarUnreachable, first_line

log = logging.getLogger(__name__)

__all__ = [
    "EdgarAccessDenied",
    "EdgarClient",
    "EdgarUnreachable",
    "FetchError",
    "FetchFailed",
    "FetchStats",
    "Forbidden",
    "NotFound",
    "RateLimiter",
    "RetryPolicy",
    "Unavailable",
    "classify_sec_page",
    "parse_retry_after",
    "shared_limiter",
]

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class FetchError(Exception):
    """Base of every error this module raises. ``url`` is what was asked for."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(message)
        self.url = url


class Unavailable(FetchError):
    """EDGAR answered that the document is not there for us. Not retried; callers record it
    as missing. Base of :class:`NotFound` and :class:`Forbidden`.
    """

    def __init__(self, url: str, status: int) -> None:
        super().__init__(url, f"HTTP {status} for {url}")
        self.status = status


class NotFound(Unavailable):
    """404 / 410, or a plain 403 (:class:`Forbidden`)."""


class Forbidden(NotFound):
    """403 that is neither a rate block nor a User-Agent refusal.

    A NotFound, because that is what it means on EDGAR: some weekend/holiday daily indexes
    and a new quarter's full-index answer 403 instead of 404.
    """


class EdgarAccessDenied(FetchError, ConfigError):
    """SEC refuses our User-Agent ("Undeclared Automated Tool"). Fatal: retrying cannot help;
    a configuration error (exit 2): set EDGAR_USER_AGENT."""


class FetchFailed(FetchError):
    """Gave up: attempts exhausted, or an answer that retrying cannot fix."""

    def __init__(self, url: str, attempts: int, reason: str) -> None:
        super().__init__(url, f"{url}: failed after {attempts} attempt(s): {reason}")
        self.attempts = attempts
        self.reason = reason


class _Transient(Exception):
    """An attempt failed in a way another attempt may fix.

    ``wait``: seconds the server asked for (Retry-After); 0 when the rate limiter already holds
    every worker (SEC block); None for exponential backoff with jitter.
    """

    def __init__(self, reason: str, wait: float | None = None, no_answer: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.no_answer = no_answer  # 'dns', 'refused', 'timeout', ...: EDGAR never answered


# ---------------------------------------------------------------------------------------------
# Rate limiter
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Window:
    """What the limiter decides from: the last grants, the even-spacing grid, a block pause.

    ``recent``: oldest first, each ``[grant time, time it counts from (None: not sent yet)]``.
    Times are ``time.monotonic()``: CLOCK_MONOTONIC on Linux, one clock for every process of
    the machine, so processes can share a window.
    """

    recent: list[list[float | None]] = field(default_factory=list)
    next_slot: float = 0.0  # earliest next grant on the even-spacing grid
    paused_until: float = 0.0


class _ProcessWindow:
    """The window kept in this process's memory: the limit holds across its threads."""

    capacity: int | None = None  # the limiter keeps its own last per_window grants

    def __init__(self) -> None:
        self._window = _Window()

    @contextlib.contextmanager
    def held(self) -> Iterator[_Window]:
        yield self._window  # the limiter's condition lock already serialises threads


class _MachineWindow:
    """The window kept in a small file (:func:`ingest.config.rate_state_path`) that every
    process on the machine locks (``flock``) for the few microseconds of a decision, so that
    ``watch``, ``sync`` and ``backfill`` running at once stay under SEC's limit together.

    Layout (little-endian, 208 bytes): magic, the kernel's boot id (CLOCK_MONOTONIC restarts
    at boot: a file from before a reboot is stale and is reset), next slot, pause end, count,
    then :attr:`capacity` pairs (grant, counts-from; NaN: not sent yet), oldest first.

    A process killed while holding the lock releases it (the kernel drops a dead process's
    flock). One killed between a grant and its send leaves that grant unsent: it counts as
    sent ``RateLimiter._SEND_CAP`` seconds after it was granted, so it can hold the others
    back for that long, once. A block pause it set holds everyone to its end, as SEC's does.
    """

    capacity = int(SEC_MAX_RPS)  # the guard never needs more than the last 10 grants
    _MAGIC = b"EIRATE01"
    _HEAD = struct.Struct("<8s16sddq")
    _PAIR = struct.Struct("<dd")
    SIZE = _HEAD.size + capacity * _PAIR.size

    def __init__(self, path: Path) -> None:
        self.path = path
        self._boot_id = _boot_id()
        self._fd = -1
        self._pid = -1
        self._open()

    def _open(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"cannot use {self.path} to share the request rate with other processes "
                f"({exc.strerror}); set EDGAR_RATE_STATE to a file this user can write"
            ) from exc
        try:
            _check_state_file(self.path, fd)
        except ConfigError:
            os.close(fd)
            raise
        self._fd, self._pid = fd, os.getpid()

    def close(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1

    @contextlib.contextmanager
    def held(self) -> Iterator[_Window]:
        if self._pid != os.getpid():  # a forked child must not share its parent's lock
            self._open()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(self._fd, self.SIZE + 1, 0)
            window = self._decode(raw)
            yield window
            encoded = self._encode(window)
            if encoded != raw:
                os.pwrite(self._fd, encoded, 0)
                if len(raw) > self.SIZE:  # not our layout: keep nothing of it
                    os.ftruncate(self._fd, self.SIZE)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _decode(self, raw: bytes) -> _Window:
        if len(raw) != self.SIZE:
            return _Window()
        magic, boot_id, next_slot, paused_until, count = self._HEAD.unpack_from(raw)
        if magic != self._MAGIC or boot_id != self._boot_id or not 0 <= count <= self.capacity:
            return _Window()
        recent: list[list[float | None]] = []
        for i in range(count):
            grant, counted = self._PAIR.unpack_from(raw, self._HEAD.size + i * self._PAIR.size)
            recent.append([grant, None if math.isnan(counted) else counted])
        if recent and recent[-1][0] > time.monotonic() + 1.0:  # type: ignore[operator]
            return _Window()  # times from another clock: nothing to keep
        return _Window(recent, next_slot, paused_until)

    def _encode(self, window: _Window) -> bytes:
        recent = window.recent[-self.capacity :]
        parts = [self._HEAD.pack(self._MAGIC, self._boot_id, window.next_slot,
                                 window.paused_until, len(recent))]
        parts += [self._PAIR.pack(g, math.nan if c is None else c) for g, c in recent]
        parts.append(bytes(self._PAIR.size * (self.capacity - len(recent))))
        return b"".join(parts)


def _boot_id() -> bytes:
    """16 bytes naming this boot of the kernel (zeros where the kernel does not say)."""
    try:
        text = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return uuid.UUID(text).bytes
    except (OSError, ValueError):
        return bytes(16)


def _check_state_file(path: Path, fd: int) -> None:
    """A regular file; in a directory anyone can write to (/tmp), also one of our own, else
    another user could feed this process a pause that never ends."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} is not a regular file; set EDGAR_RATE_STATE to another path")
    parent = os.stat(path.parent)
    if parent.st_mode & stat.S_IWOTH and info.st_uid != os.geteuid():
        raise ConfigError(
            f"{path} belongs to another user (uid {info.st_uid}) in a directory anyone can "
            "write to; remove it, or set EDGAR_RATE_STATE to a file in a directory of yours"
        )


class RateLimiter:
    """At most ``max_rps`` grants in ANY sliding window of one second, across threads, and
    with ``state`` (a file path) across every process on the machine that uses that file.

    Not an average and not a per-second bucket: a bucket allows 2×N requests around a bucket
    edge, which is how SEC clients at "9.9 req/s" got blocked
    (https://github.com/sec-edgar/sec-edgar/issues/280). Two rules:

    * the guard (the contract): the limiter keeps the times of the last N grants; the next
      grant waits until the oldest is more than ``1 s + margin`` ago. N + 1 grants therefore
      always span more than one second, whatever the threads do;
    * even spacing (``spacing`` not None): grants are also spread out, one every
      ``(1 s + spacing) / N`` (0.104 s at 10 req/s: ≈ 9.6 req/s sustained) on a fixed grid, so
      N + 1 consecutive grants span about ``1 s + spacing``.

    SEC counts arrivals, not our grants, and the time from grant to arrival varies (thread
    scheduling, connection setup, network). What matters is the difference between two
    requests' delays. With the guard alone, N grants go out together at each window edge and
    arrive queued behind each other: measured against the local stand-in (4-8 threads on 2
    CPUs), arrivals bunched up to ~45 ms closer than grants, and a 10 ms margin drew 429s (the
    old default was a 100 ms margin, ≈ 9.1 req/s). Spaced grants travel alone, so arrival
    delays vary far less. Two more things shrink the delay the limiter cannot see:

    * :class:`EdgarClient`'s own session takes its grant inside the connection, after
      connection set-up and right before the request bytes are written (``_GrantOnSend``);
    * a grant taken with ``acquire(report_sent=True)`` counts in the guard from the moment
      :meth:`sent` reports the request written: a thread descheduled between grant and send
      cannot make its request land late in a window that the next grants then fill.

    A grant that wakes up a little late (up to ``_CATCH_UP`` s: thread wake-up, the GIL) keeps
    the grid, so wake-up latency does not lower the rate; later than that (idle, or a pause)
    the grid restarts from that grant. ``spacing=None`` lets grants burst (guard only).
    See benchmarks/RESULTS.md for the measurements.

    For ``max_rps`` below 1, the window grows instead: one grant per ``1/max_rps`` seconds.

    :meth:`pause_until` holds every thread (SEC block: nobody may send until it is over), and
    with ``state`` every process sharing the file.

    ``state``: SEC's limit is per machine, not per process. Processes that pass the same file
    keep one window between them (:class:`_MachineWindow`): the last grants, the grid and the
    pause are read and written under a file lock at each decision, so two processes take
    turns on one grid (together ≈ 9.6/s, like one) and a block pause one of them meets holds
    the other. Each process still applies its own ``max_rps``, ``margin`` and ``spacing`` to
    the shared window (at most 10 per window). A process waiting re-reads the file at least
    every ``_RECHECK`` s, since the others cannot wake it.
    """

    _CATCH_UP = 0.005
    _SEND_CAP = 10.0  # an unreported send counts as done this long after its grant
    _RECHECK = 0.25  # longest wait before looking at a shared window again

    def __init__(
        self,
        max_rps: float = SEC_MAX_RPS,
        *,
        margin: float = 0.02,
        spacing: float | None = 0.04,
        history: int = 100_000,
        state: str | os.PathLike[str] | None = None,
    ) -> None:
        if margin < 0 or (spacing is not None and spacing < 0):
            raise ValueError("margin and spacing must not be negative")
        self.margin = margin
        self.spacing = spacing
        self._shared: _ProcessWindow | _MachineWindow = (
            _ProcessWindow() if state is None else _MachineWindow(Path(state))
        )
        self._cond = threading.Condition()
        self.set_max_rps(max_rps)
        self._history: collections.deque[float] = collections.deque(maxlen=history)
        self.granted = 0

    @property
    def state_path(self) -> Path | None:
        """The file the window is shared through (None: this process only)."""
        return self._shared.path if isinstance(self._shared, _MachineWindow) else None

    def acquire(self, *, report_sent: bool = False) -> float:
        """Block until a request may go; return the grant time (time.monotonic()).

        ``report_sent``: the caller calls :meth:`sent` with the returned time once the request
        is written (or failed); until then the guard counts it as not yet sent.
        """
        with self._cond:
            while True:
                with self._shared.held() as window:
                    now = time.monotonic()
                    delay = self._delay(window, now)
                    if delay <= 0:
                        self._grant(window, now, report_sent)
                        return now
                self._cond.wait(min(delay, self._RECHECK))

    def _grant(self, window: _Window, now: float, report_sent: bool) -> None:
        window.recent.append([now, None if report_sent else now])
        del window.recent[: -self._keep]
        if self.interval:
            window.next_slot = max(window.next_slot, now - self._CATCH_UP) + self.interval
        self._history.append(now)
        self.granted += 1

    def sent(self, grant: float) -> None:
        """The request granted at ``grant`` has been written (or given up): it counts from now."""
        with self._cond, self._shared.held() as window:
            for entry in window.recent:
                if entry[0] == grant and entry[1] is None:
                    entry[1] = time.monotonic()
                    self._cond.notify_all()
                    return

    def _delay(self, window: _Window, now: float) -> float:
        delay = max(window.paused_until, window.next_slot) - now
        if len(window.recent) >= self.per_window:
            granted, counted = window.recent[-self.per_window]
            if counted is None:  # not written yet: it counts from some time after now
                counted = now if now < granted + self._SEND_CAP else granted + self._SEND_CAP
            delay = max(delay, counted + self.window + self.margin - now)
        return delay

    def set_max_rps(self, max_rps: float) -> None:
        """Change the rate in place (threads already waiting obey the new one)."""
        if max_rps <= 0:
            raise ValueError(f"max_rps must be positive, got {max_rps}")
        per_window = max(1, int(max_rps))
        capacity = self._shared.capacity
        if capacity is not None and per_window > capacity:
            raise ValueError(f"a shared window holds at most {capacity} grants")
        with self._cond:
            self.max_rps = max_rps
            self.per_window = per_window
            self._keep = capacity or per_window  # the others may need up to the capacity
            self.window = 1.0 if max_rps >= 1 else 1.0 / max_rps
            self.interval = (
                0.0 if self.spacing is None else (self.window + self.spacing) / self.per_window
            )
            self._cond.notify_all()

    def pause_until(self, until: float) -> None:
        """No grant before ``until`` (time.monotonic()). Only ever extends a pause."""
        with self._cond, self._shared.held() as window:
            if until > window.paused_until:
                window.paused_until = until
                self._cond.notify_all()

    def pause_for(self, seconds: float) -> float:
        """Pause every thread for ``seconds`` from now; return the end of the pause.

        "Now" is read under the window's lock: every grant is either before it or after the
        end of the pause."""
        with self._cond, self._shared.held() as window:
            until = time.monotonic() + seconds
            if until > window.paused_until:
                window.paused_until = until
                self._cond.notify_all()
            return until

    @property
    def paused_until(self) -> float:
        with self._cond, self._shared.held() as window:
            return window.paused_until

    @property
    def grants(self) -> list[float]:
        """This process's grant times, oldest first (the last ``history`` of them)."""
        with self._cond:
            return list(self._history)

    def close(self) -> None:
        """Release the shared window's file (the limiter is not used after this)."""
        if isinstance(self._shared, _MachineWindow):
            self._shared.close()


_shared_lock = threading.Lock()
_shared: RateLimiter | None = None


def shared_limiter(max_rps: float = SEC_MAX_RPS) -> RateLimiter:
    """The limiter every :class:`EdgarClient` uses unless given its own.

    SEC's limit is per user, whatever the number of clients and processes: all clients in a
    process share one, and its window is shared with every other edgar-insider process of the
    machine through :func:`ingest.config.rate_state_path` (``EDGAR_RATE_STATE``). It is
    created at the first call; a later call asking for a *lower* rate gets it lowered (never a
    faster one). Raises ConfigError when the state file cannot be used.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = RateLimiter(max_rps, state=rate_state_path())
        elif max_rps < _shared.max_rps:
            _shared.set_max_rps(max_rps)
        return _shared

# ---------------------------------------------------------------------------------------------
# Taking the grant at the last moment
# ---------------------------------------------------------------------------------------------

# SEC counts a request when it arrives, so the grant is best taken as close as possible to the
# moment the request leaves. requests and urllib3 spend 1-3 ms (tens of ms when the machine is
# busy) between ``session.get`` and the socket write; connection set-up (TCP, TLS) takes
# longer still. Measured against the stand-in, that variable delay was almost all of the
# grant-to-arrival jitter. So the client's own session takes the grant inside the connection,
# after it is connected and right before the request bytes are written.


class _GrantOnSend:
    """Mixin for urllib3 connections: one limiter grant just before the request is sent."""

    limiter: RateLimiter  # set on the per-limiter subclass

    def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
        if self.sock is None and self.auto_open:  # type: ignore[attr-defined]
            self.connect()  # type: ignore[attr-defined]  # set-up is not the request
        grant = self.limiter.acquire(report_sent=True)
        try:
            super().endheaders(message_body, encode_chunked=encode_chunked)  # type: ignore[misc]
        finally:
            self.limiter.sent(grant)


def _limited_pool_classes(limiter: RateLimiter) -> dict[str, type]:
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    attrs = {"limiter": limiter}
    http_conn = type("LimitedHTTPConnection", (_GrantOnSend, HTTPConnection), attrs)
    https_conn = type("LimitedHTTPSConnection", (_GrantOnSend, HTTPSConnection), attrs)
    return {
        "http": type("LimitedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type(
            "LimitedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
        ),
    }


class _LimitedAdapter(HTTPAdapter):
    """An HTTPAdapter whose every request takes one grant from ``limiter``.

    Direct connections take it in the connection (:class:`_GrantOnSend`). A request through a
    proxy (HTTPS_PROXY and the like: urllib3 builds those connections itself) takes it here,
    before it is handed to urllib3.
    """

    def __init__(self, limiter: RateLimiter, **kwargs: Any) -> None:
        self.limiter = limiter
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _limited_pool_classes(self.limiter)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        proxies = kwargs.get("proxies") or (args[4] if len(args) > 4 else None)
        if requests.utils.select_proxy(request.url, proxies or {}):
            self.limiter.acquire()
        return super().send(request, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# SEC pages and headers
# ---------------------------------------------------------------------------------------------

# SEC serves both refusals as 403 HTML and they share words: the User-Agent page has been seen
# titled "Request Rate Threshold Exceeded", and the rate page headed "Undeclared Automated Tool".
# The message text (title removed) decides; rate wording wins, since a block pause is
# recoverable while a wrong "fix your User-Agent" stops the run.
_RATE_MARKERS = (
    "request rate threshold exceeded",
    "request rate has exceeded",
    "maximum allowable requests",
)
_UNDECLARED_MARKERS = ("undeclared automated tool", "declare your traffic")


def classify_sec_page(page: bytes) -> Literal["rate-limit", "undeclared-tool"] | None:
    """Which SEC refusal an HTML page is, if any."""
    text = page[:65536].decode("utf-8", "replace").lower()
    body = re.sub(r"<title>.*?</title>", " ", text, flags=re.DOTALL)
    if any(marker in body for marker in _RATE_MARKERS):
        return "rate-limit"
    if any(marker in body for marker in _UNDECLARED_MARKERS):
        return "undeclared-tool"
    if "request rate threshold exceeded" in text:
        return "rate-limit"
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _decode(body: bytes, encoding: str) -> bytes:
    """Undo Content-Encoding strictly: a cut or corrupt stream raises (urllib3 does not check
    that a gzip stream is complete)."""
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)  # EOFError if cut short, BadGzipFile/zlib.error if corrupt
    if encoding == "deflate":
        for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):  # zlib-wrapped, or raw as some send
            inflater = zlib.decompressobj(wbits)
            try:
                data = inflater.decompress(body) + inflater.flush()
            except zlib.error:
                continue
            if inflater.eof:
                return data
        raise zlib.error("corrupt or incomplete deflate stream")
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def _lenient_decode(body: bytes, encoding: str) -> bytes:
    """Best effort, for error pages we only inspect."""
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body)
        if encoding == "deflate":
            return zlib.decompressobj().decompress(body)
    except zlib.error:
        return b""
    return body


# ---------------------------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------------------------


@dataclass
class FetchStats:
    """Thread-safe counters for progress reporting. Read them with :meth:`snapshot`."""

    requests: int = 0  # HTTP requests sent (one per limiter grant)
    bytes_received: int = 0  # body bytes on the wire (compressed)
    bytes_decoded: int = 0  # body bytes returned to callers
    documents: int = 0  # successful get() calls
    retries: int = 0
    blocks: int = 0  # SEC blocks seen (each paused every worker)
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def count_status(self, status: int) -> None:
        with self._lock:
            self.by_status[status] += 1

    def count_error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "bytes_received": self.bytes_received,
                "bytes_decoded": self.bytes_decoded,
                "documents": self.documents,
                "retries": self.retries,
                "blocks": self.blocks,
                "by_status": dict(self.by_status),
                "errors": dict(self.errors),
            }


# ---------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Backoff: ``initial·2ⁿ`` (capped at ``backoff_max``) + up to ``jitter`` s
    random, so workers that failed together do not retry together."""

    max_attempts: int = 8
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    jitter: float = 1.0
    max_retry_after: float = 900.0  # a longer Retry-After is capped (SEC's own block: 600 s)


_DATA_PREFIXES = ("/submissions/", "/api/")
_MAX_REDIRECTS = 5
_ERROR_PAGE_LIMIT = 65536
_BODY_READ_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class EdgarClient:
    """Rate-limited, retrying HTTP client for www.sec.gov and data.sec.gov.

    Thread-safe: share one client between worker threads (the session's pool is sized for
    ``pool_size`` concurrent connections). Every HTTP request, retries and redirects included,
    takes one grant from ``limiter`` (default: the process-wide :func:`shared_limiter`).

    ``sleep`` is what backoff waits call (tests inject a fast or recording one); SEC block
    pauses are enforced by the limiter and last ``settings.block_pause_seconds``.
    """

    def __init__(
        self,
        settings: EdgarSettings,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = (10.0, 30.0),
        pool_size: int = 8,
    ) -> None:
        settings.validate()
        self.settings = settings
        self.limiter = limiter if limiter is not None else shared_limiter(settings.max_rps)
        if self.limiter.max_rps > settings.max_rps:
            raise ConfigError(
                f"the rate limiter allows {self.limiter.max_rps:g} req/s but EDGAR_MAX_RPS is "
                f"{settings.max_rps:g}"
            )
        self.retry = retry or RetryPolicy()
        self.stats = FetchStats()
        self._sleep = sleep
        # When EDGAR last answered (any HTTP response below 500, or the end of a block pause):
        # how long an outage has lasted.
        self._last_answer = time.monotonic()
        self.timeout = timeout  # (connect, read); read is per socket read, not the whole body
        self._owns_session = session is None
        # Our own session takes each grant inside the connection, right before sending
        # (_LimitedAdapter); a session passed in gets its grant here, before session.get.
        self.session = (
            session if session is not None else self._new_session(pool_size, self.limiter)
        )
        self._headers = {
            "User-Agent": settings.user_agent,
            "Accept-Encoding": "gzip, deflate",
        }

    @staticmethod
    def _new_session(pool_size: int, limiter: RateLimiter) -> requests.Session:
        session = requests.Session()
        # max_retries=0: urllib3 must not retry on its own, behind the rate limiter's back.
        adapter = _LimitedAdapter(
            limiter, pool_connections=4, pool_maxsize=pool_size, max_retries=0
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> EdgarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------------

    def get(self, url_or_path: str) -> bytes:
        """The document's bytes (decoded from gzip), verified complete.

        ``url_or_path``: a full URL, or a path: ``/submissions/...`` and ``/api/...`` go to
        data.sec.gov, anything else to www.sec.gov.
        Raises :class:`NotFound`/:class:`Forbidden` (not retried), :class:`EdgarAccessDenied`
        (fatal), :class:`FetchFailed` (attempts exhausted).
        """
        url = self._resolve(url_or_path)
        started = time.monotonic()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.max_attempts) | self._outage_over,
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
        )
        try:
            body = retrying(self._attempt, url)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            attempts = exc.last_attempt.attempt_number
            no_answer = getattr(last, "no_answer", None)
            if no_answer and self._last_answer <= started:  # not one answer in all those tries
                raise EdgarUnreachable(
                    urlsplit(url).netloc, no_answer, getattr(last, "reason", str(last)),
                    attempts, time.monotonic() - started,
                ) from last
            reason = getattr(last, "reason", str(last))
            raise FetchFailed(url, attempts, reason) from last
        self.stats.add(documents=1)
        # Yield the interpreter once: the grant is taken as late as possible, so a response
        # can be complete before the (in-process) server thread that sent it has run again;
        # the test stand-in does its bookkeeping there. Costs microseconds; fetching waits
        # ~100 ms per request for the limiter anyway.
        time.sleep(0)
        return body

    def get_archive(self, path: str) -> bytes:
        """A www.sec.gov file. Index-style paths ("edgar/data/…") get the "/Archives/" prefix."""
        path = path.lstrip("/")
        if not path.startswith("Archives/"):
            path = "Archives/" + path
        return self.get(f"{self.settings.base_url}/{path}")

    def get_data(self, path: str) -> bytes:
        """A data.sec.gov file, e.g. ``submissions/CIK0000320193.json``."""
        return self.get(f"{self.settings.data_url}/{path.lstrip('/')}")

    def get_json(self, url_or_path: str) -> Any:
        """:meth:`get`, parsed as JSON."""
        url = self._resolve(url_or_path)
        body = self.get(url)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise FetchFailed(url, 1, f"invalid JSON: {exc}") from exc

    # -- one attempt -------------------------------------------------------------------------

    def _resolve(self, url_or_path: str) -> str:
        if "://" in url_or_path:
            return url_or_path
        path = "/" + url_or_path.lstrip("/")
        base = self.settings.data_url if path.startswith(_DATA_PREFIXES) else self.settings.base_url
        return base + path

    def _attempt(self, url: str) -> bytes:
        # Redirects are followed here, not by requests, so each hop takes a limiter grant.
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send(url)
            with response:
                location = response.headers.get("Location")
                if response.is_redirect and location:
                    self.stats.count_status(response.status_code)
                    url = requests.compat.urljoin(url, location)
                    continue
                return self._handle(url, response)
        raise FetchFailed(url, 1, f"more than {_MAX_REDIRECTS} redirects")

    def _send(self, url: str) -> requests.Response:
        if not self._owns_session:
            self.limiter.acquire()  # else the session's adapter takes it, right before sending
        self.stats.add(requests=1)
        try:
            return self.session.get(
                url,
                headers=self._headers,
                timeout=self.timeout,
                stream=True,  # read raw bytes ourselves: length and gzip get verified
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            self.stats.count_error("timeout")
            raise _Transient(f"timeout: {exc}", no_answer="timeout") from exc
        except requests.ConnectionError as exc:
            self.stats.count_error("connection")
            kind = _connection_failure(exc)
            raise _Transient(f"connection error: {_innermost(exc)}", no_answer=kind) from exc

    def _handle(self, url: str, response: requests.Response) -> bytes:
        status = response.status_code
        self.stats.count_status(status)
        if status < 500:
            self._last_answer = time.monotonic()
        if status == 200:
            body = self._read_body(response)
            self._refuse_html_block(url, response, body)
            return body
        if status in (404, 410):
            raise NotFound(url, status)
        page = self._read_error_page(response)
        if status in (403, 429):
            self._handle_refusal(url, status, response, page)
        if status == 408 or status >= 500:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            raise _Transient(f"HTTP {status}", wait)
        raise FetchFailed(url, 1, f"HTTP {status}")

    def _read_body(self, response: requests.Response) -> bytes:
        expected = response.headers.get("Content-Length", "")
        try:
            raw = response.raw.read(decode_content=False)
        except _BODY_READ_ERRORS as exc:
            kind = "timeout" if "timed out" in str(exc).lower() else "truncated"
            self.stats.count_error(kind)
            raise _Transient(f"body read failed ({kind}): {exc}") from exc
        self.stats.add(bytes_received=len(raw))
        if expected.isdigit() and len(raw) != int(expected):
            self.stats.count_error("truncated")
            raise _Transient(f"truncated body: {len(raw)} of {expected} bytes")
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        try:
            body = _decode(raw, encoding)
        except (OSError, EOFError, zlib.error) as exc:
            self.stats.count_error("bad-encoding")
            raise _Transient(f"corrupt {encoding} body: {exc}") from exc
        except ValueError as exc:
            raise FetchFailed(response.url, 1, str(exc)) from exc
        self.stats.add(bytes_decoded=len(body))
        return body

    def _read_error_page(self, response: requests.Response) -> bytes:
        try:
            raw = response.raw.read(_ERROR_PAGE_LIMIT, decode_content=False)
        except _BODY_READ_ERRORS:
            return b""
        return _lenient_decode(raw, response.headers.get("Content-Encoding", "").strip().lower())

    def _handle_refusal(self, url: str, status: int, response: requests.Response, page: bytes) -> NoReturn:
        kind = classify_sec_page(page)
        if kind == "undeclared-tool":
            raise self._access_denied(url)
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None:  # SEC's 429 carries no Retry-After: it is the block
                # (https://github.com/daniel3303/Equibles/pull/3357)
                self._block(url, "HTTP 429 without Retry-After")
            # A 429 speaks for the whole client (SEC limits per user): everyone waits.
            self.limiter.pause_for(min(wait, self.retry.max_retry_after))
            raise _Transient(f"HTTP 429, Retry-After {wait:g} s", wait=0.0)
        if kind == "rate-limit":
            self._block(url, "HTTP 403 Request Rate Threshold Exceeded")
        raise Forbidden(url, status)

    def _refuse_html_block(self, url: str, response: requests.Response, body: bytes) -> None:
        # Pitfall 4: a refusal page must never be saved as the document, whatever the status.
        if not _looks_like_html(response, body) or len(body) > _ERROR_PAGE_LIMIT:
            return
        kind = classify_sec_page(body)
        if kind == "undeclared-tool":
            raise self._access_denied(url)
        if kind == "rate-limit":
            self._block(url, "HTTP 200 with the Request Rate Threshold Exceeded page")

    def _access_denied(self, url: str) -> EdgarAccessDenied:
        return EdgarAccessDenied(
            url,
            f"SEC refused {url} as an 'Undeclared Automated Tool': it does not accept the "
            f"User-Agent {self.settings.user_agent!r}. Set EDGAR_USER_AGENT to your name or "
            'company and a contact e-mail, e.g. export EDGAR_USER_AGENT="Jane Analyst '
            'jane@example.org", then run again.',
        )

    def _block(self, url: str, reason: str) -> NoReturn:
        """SEC blocked us: hold every worker for the block pause, then try again."""
        pause = self.settings.block_pause_seconds
        until = self.limiter.pause_for(pause)
        self._last_answer = max(self._last_answer, until)  # a block is an answer, not an outage
        self.stats.add(blocks=1)
        log.warning("SEC block (%s) on %s: pausing all requests for %g s", reason, url, pause)
        raise _Transient(f"{reason}; paused {pause:g} s", wait=0.0)

    # -- retry plumbing ----------------------------------------------------------------------

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.wait is not None:
            return min(exc.wait, self.retry.max_retry_after)
        # Spelled out rather than tenacity.wait_exponential_jitter, whose arguments were
        # renamed between the tenacity versions pyproject allows.
        exponent = max(0, state.attempt_number - 1)
        backoff = min(self.retry.backoff_initial * 2**exponent, self.retry.backoff_max)
        wait = backoff + random.uniform(0, self.retry.jitter)
        if isinstance(exc, _Transient) and exc.no_answer:  # one more try when the bound is up
            wait = max(0.0, min(wait, self._outage_left()))
        return wait

    def _outage_left(self) -> float:
        return self._last_answer + self.settings.outage_seconds - time.monotonic()

    def _outage_over(self, state: tenacity.RetryCallState) -> bool:
        """Stop retrying: EDGAR has not answered for longer than the outage bound."""
        exc = state.outcome.exception() if state.outcome else None
        return isinstance(exc, _Transient) and bool(exc.no_answer) and self._outage_left() <= 0

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.stats.add(retries=1)
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info(
            "retrying %s in %.2f s (attempt %d): %s",
            state.args[0] if state.args else "?",
            wait,
            state.attempt_number,
            exc,
        )


def _looks_like_html(response: requests.Response, body: bytes) -> bool:
    if "html" in response.headers.get("Content-Type", "").lower():
        return True
    return body[:200].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def _connection_failure(exc: BaseException) -> str:
    """What kind of 'no answer' a requests ConnectionError was: dns, refused, reset, timeout."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror) or type(current).__name__ == "NameResolutionError":
            return "dns"
        if isinstance(current, ConnectionRefusedError):
            return "refused"
        if isinstance(current, ConnectionResetError):
            return "reset"
        if isinstance(current, TimeoutError | socket.timeout):
            return "timeout"
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        stack += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    text = str(exc).lower()
    for marker, kind in (("name or service not known", "dns"), ("failed to resolve", "dns"),
                         ("refused", "refused"), ("reset", "reset"), ("timed out", "timeout")):
        if marker in text:
            return kind
    return "connection"


def _innermost(exc: BaseException) -> str:
    """The most specific message of a chained network error (urllib3 nests several)."""
    current: BaseException = exc
    for _ in range(10):
        reason = getattr(current, "reason", None)
        nested = reason if isinstance(reason, BaseException) else current.__cause__ or current.__context__
        if nested is None:
            break
        current = nested
    return first_line(current)
