"""Waiting for something another process or thread does, without betting on how long it takes.

The tests run on loaded 2-core machines: a condition is polled until it holds, and the
timeout is only a guard against a hang (minutes, far beyond any real wait), never a margin
that a slow machine could miss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import pytest

POLL_SECONDS = 0.02


class Watched(Protocol):
    """A process under test: whether it still runs, and what it printed (for the failure)."""

    def alive(self) -> bool: ...

    def output(self) -> str: ...


def wait_for(condition: Callable[[], object], what: str, process: Watched | None = None,
             timeout: float = 120) -> None:
    """Poll ``condition`` until it is true; fail if ``process`` ends first or on a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and not process.alive():
            pytest.fail(f"the process ended before {what}:\n{process.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}" + (f"\n{process.output()}" if process else ""))
        time.sleep(POLL_SECONDS)
