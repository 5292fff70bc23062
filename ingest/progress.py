"""Progress for long runs: a bar on a terminal, plain log lines under cron.

On a terminal, tqdm draws a bar with filings/s, requests/s and the ETA. Anywhere else
(cron, a pipe, CI) it writes one plain line every ``every`` filings and a summary, with
no control characters, so mail from cron stays readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm


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
        self._next_line = self.every
        if interactive is None:
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
