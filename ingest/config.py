"""Settings read from the environment. One place, so every command agrees."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_URL = "https://www.sec.gov"
DEFAULT_DATA_URL = "https://data.sec.gov"
SEC_MAX_RPS = 10.0

# SEC asks for "Sample Company Name AdminContact@<sample company domain>.com".
_CONTACT_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


class ConfigError(Exception):
    """A setting is missing or invalid; the message says what to set."""


def rate_state_path(environ: dict[str, str] | None = None) -> Path:
    """The file through which every edgar-insider process on this machine shares SEC's request
    limit (``EDGAR_RATE_STATE``): by default one per user in /tmp, so ``watch`` and a nightly
    ``sync`` of the same user stay under 10 requests/s together. Users who share one IP
    address (SEC's limit is per address) point it at one file they can all write."""
    env = os.environ if environ is None else environ
    explicit = (env.get("EDGAR_RATE_STATE") or "").strip()
    if explicit:
        return Path(explicit).expanduser()
    return Path("/tmp") / f"edgar-insider-{os.geteuid()}.rate"


def data_home() -> Path:
    """Where the embedded database and other local state live."""
    explicit = os.environ.get("EDGAR_INSIDER_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "edgar-insider"


@dataclass(frozen=True, slots=True)
class EdgarSettings:
    user_agent: str
    base_url: str = DEFAULT_BASE_URL
    data_url: str = DEFAULT_DATA_URL
    max_rps: float = SEC_MAX_RPS
    block_pause_seconds: float = 600.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> EdgarSettings:
        env = os.environ if environ is None else environ
        user_agent = (env.get("EDGAR_USER_AGENT") or "").strip()
        if not user_agent or not _CONTACT_RE.search(user_agent):
            raise ConfigError(
                "EDGAR_USER_AGENT is not set to a name with a contact e-mail. SEC refuses "
                "automated requests without one. Set it, for example:\n"
                '  export EDGAR_USER_AGENT="Jane Analyst jane@example.org"'
            )
        try:
            max_rps = float(env.get("EDGAR_MAX_RPS") or SEC_MAX_RPS)
        except ValueError as exc:
            raise ConfigError(f"EDGAR_MAX_RPS must be a number, got {env['EDGAR_MAX_RPS']!r}") from exc
        if not 0 < max_rps <= SEC_MAX_RPS:
            raise ConfigError(
                f"EDGAR_MAX_RPS must be above 0 and at most {SEC_MAX_RPS:g} (SEC's limit), got {max_rps:g}"
            )
        try:
            pause = float(env.get("EDGAR_BLOCK_PAUSE_SECONDS") or 600)
        except ValueError as exc:
            raise ConfigError("EDGAR_BLOCK_PAUSE_SECONDS must be a number of seconds") from exc
        return cls(
            user_agent=user_agent,
            base_url=(env.get("EDGAR_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            data_url=(env.get("EDGAR_DATA_URL") or DEFAULT_DATA_URL).rstrip("/"),
            max_rps=max_rps,
            block_pause_seconds=pause,
        )
