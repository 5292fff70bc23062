"""Progress for long runs: a bar on a terminal, plain log lines under cron.

On a terminal, tqdm draws a bar with filings/s, requests/s and the ETA. Anywhere else
(cron, a pipe, CI) it writes one plain line every ``every`` filings and a summary, with
no control characters, so mail from cron stays readable.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from tqdm import tqdm

from .sgml import EASTERN  # EDGAR's clock


class Progress:
    def __init__(
        self,
        total: int,
        label: str,
        *,
        stream: TextIO | None = None,
        every: int = 500,
        requests: Callable[[], int] | None = None,
        interactive: bool | None = None,
        quiet: bool = False,
    ) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.label = label
        self.every = max(1, every)
        self.done = 0
        self.counts: dict[str, int] = {}
        self._requests = requests or (lambda: 0)
        self._requests_at_start = self._requests()
        self._started = time.monotonic()
        self._next_line = math.inf if quiet else self.every
        if quiet:
            interactive = False
        elif interactive is None:
            interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar = (
            tqdm(total=total, desc=label, unit="filing", file=self.stream, dynamic_ncols=True)
            if interactive
            else None
        )

    def advance(self, n: int, **counts: int) -> None:
        self.done += n
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        if self._bar is not None:
            self._bar.update(n)
            self._bar.set_postfix(req_s=f"{self.requests_per_second():.1f}", refresh=False)
            return
        if self.done >= self._next_line:
            self._next_line = self.done + self.every
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def requests_per_second(self) -> float:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return (self._requests() - self._requests_at_start) / elapsed

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        parts = [f"{self.label}: {self.done}/{self.total} filings"]
        parts += [f"{key} {value}" for key, value in sorted(self.counts.items())]
        parts.append(f"{self.done / elapsed:.1f} filings/s")
        parts.append(f"{self.requests_per_second():.1f} requests/s")
        if 0 < self.done < self.total:
            eta = (self.total - self.done) * elapsed / self.done
            parts.append(f"eta {eta:.0f}s")
        return ", ".join(parts)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class WatchLines:
    """What ``watch`` says: one plain line per poll when not on a terminal (cron, a service's
    journal), a live status line on a terminal; a waiting message always on its own line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._live = False

    def __call__(self, what: object) -> None:
        if isinstance(what, str):
            self._write(what, final=True)
            return
        self._write(self.poll_line(what), final=not self.interactive)

    @staticmethod
    def poll_line(poll: Any) -> str:
        now = datetime.now(EASTERN).strftime("%Y-%m-%d %H:%M:%S %Z")
        lag = ""
        if poll.lags:
            ordered = sorted(poll.lags)
            lag = f", lag median {ordered[len(ordered) // 2]:.0f} s, max {ordered[-1]:.0f} s"
        failed = f", {poll.failed} failed or missing" if poll.failed else ""
        partial = "" if poll.complete else " (feed not read to the end: read again next poll)"
        return (f"{now} watch: {poll.new} new filing(s) in the feed ({poll.requests} request(s))"
                f"{partial}; loaded {poll.loaded} since the last poll{lag}{failed}; "
                f"{poll.pending} to fetch")

    def _write(self, line: str, *, final: bool) -> None:
        if self.interactive:
            self.stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._live = self.interactive and not final

    def close(self) -> None:
        if self._live:
            self.stream.write("\n")
            self.stream.flush()
