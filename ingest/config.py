"""Settings read from the environment. One place, so every command agrees.

- ``DATABASE_URL``: :func:`database_url` (unset: the embedded PostgreSQL);
- ``EDGAR_INSIDER_HOME``: :func:`data_home`;
- ``EDGAR_RATE_STATE``: :func:`rate_state_path`;
- ``EDGAR_USER_AGENT``, ``EDGAR_BASE_URL``, ``EDGAR_DATA_URL``, ``EDGAR_MAX_RPS``,
  ``EDGAR_BLOCK_PAUSE_SECONDS``, ``EDGAR_OUTAGE_SECONDS``: :class:`EdgarSettings`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

__all__ = ["ConfigError", "EdgarSettings", "data_home", "database_url"]

DEFAULT_BASE_URL = "https://www.sec.gov"
DEFAULT_DATA_URL = "https://data.sec.gov"
SEC_MAX_RPS = 10.0
# SEC blocks a client that goes over its rate for 10 minutes, and every request during the
# block extends it (https://www.sec.gov/os/accessing-edgar-data): every worker waits that long.
DEFAULT_BLOCK_PAUSE_SECONDS = 600.0
# How long a run keeps trying when EDGAR gives no answer at all before it stops (exit 1,
# the rest left queued): long enough to ride out a network blip, short enough that an outage
# does not keep the nightly job up for hours marking filings failed.
DEFAULT_OUTAGE_SECONDS = 300.0
_MAX_SECONDS = 86_400.0

# SEC asks for "Sample Company Name AdminContact@<sample company domain>.com".
_CONTACT_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def rate_state_path(environ: Mapping[str, str] | None = None) -> Path:
    """The file through which every edgar-insider process on this machine shares SEC's request
    limit (``EDGAR_RATE_STATE``): by default one per user in /tmp, so ``watch`` and a nightly
    ``sync`` of the same user stay under 10 requests/s together. Users who share one IP
    address (SEC's limit is per address) point it at one file they can all write."""
    env = os.environ if environ is None else environ
    explicit = (env.get("EDGAR_RATE_STATE") or "").strip()
    if explicit:
        return Path(explicit).expanduser()
    return Path("/tmp") / f"edgar-insider-{os.geteuid()}.rate"


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """Where the embedded database and other local state live."""
    env = os.environ if environ is None else environ
    explicit = env.get("EDGAR_INSIDER_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "edgar-insider"


def database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``DATABASE_URL`` as set (stripped), or None for the embedded database."""
    env = os.environ if environ is None else environ
    return (env.get("DATABASE_URL") or "").strip() or None


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive, finite number of seconds (at most a day), or the default when unset."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= _MAX_SECONDS):
        raise ConfigError(f"{name} must be above 0 and at most {_MAX_SECONDS:g} seconds, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class EdgarSettings:
    user_agent: str
    base_url: str = DEFAULT_BASE_URL
    data_url: str = DEFAULT_DATA_URL
    max_rps: float = SEC_MAX_RPS
    block_pause_seconds: float = DEFAULT_BLOCK_PAUSE_SECONDS
    outage_seconds: float = DEFAULT_OUTAGE_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EdgarSettings:
        env = os.environ if environ is None else environ
        user_agent = (env.get("EDGAR_USER_AGENT") or "").strip()
        if not user_agent or not _CONTACT_RE.search(user_agent):
            raise ConfigError(
                "EDGAR_USER_AGENT is not set to a name with a contact e-mail. SEC refuses "
                "automated requests without one. Set it, for example:\n"
                '  export EDGAR_USER_AGENT="Jane Analyst jane@example.org"'
            )
        rps_text = (env.get("EDGAR_MAX_RPS") or "").strip()
        try:
            max_rps = float(rps_text) if rps_text else SEC_MAX_RPS
        except ValueError:
            raise ConfigError(f"EDGAR_MAX_RPS must be a number, got {rps_text!r}") from None
        if not (math.isfinite(max_rps) and 0 < max_rps <= SEC_MAX_RPS):
            raise ConfigError(
                f"EDGAR_MAX_RPS must be above 0 and at most {SEC_MAX_RPS:g} (SEC's limit), got {rps_text!r}"
            )
        return cls(
            user_agent=user_agent,
            base_url=(env.get("EDGAR_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            data_url=(env.get("EDGAR_DATA_URL") or DEFAULT_DATA_URL).rstrip("/"),
            max_rps=max_rps,
            block_pause_seconds=_seconds(env, "EDGAR_BLOCK_PAUSE_SECONDS", DEFAULT_BLOCK_PAUSE_SECONDS),
            outage_seconds=_seconds(env, "EDGAR_OUTAGE_SECONDS", DEFAULT_OUTAGE_SECONDS),
        )

    def validate(self) -> None:
        """Run :meth:`from_env`'s checks (and messages) on settings built by hand."""
        EdgarSettings.from_env({
            "EDGAR_USER_AGENT": self.user_agent or "",
            "EDGAR_MAX_RPS": repr(self.max_rps),
            "EDGAR_BLOCK_PAUSE_SECONDS": repr(self.block_pause_seconds),
            "EDGAR_OUTAGE_SECONDS": repr(self.outage_seconds),
        })
