"""docs/operations.md says what the code does: every command in its fenced ``sh``, ``cron``
and ``ini`` blocks is a real ``edgar-insider`` command with real options, every exit code
is explained, and every line it quotes from ``status`` is one that ``status`` prints."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_invocations import fenced_blocks, invocations, problems

REPO = Path(__file__).resolve().parent.parent
OPERATIONS = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
# What status prints (ingest/status.py) and what a run's summary says (ingest/pipeline.py).
STATUS_SOURCE = "".join(
    (REPO / "ingest" / name).read_text(encoding="utf-8") for name in ("status.py", "pipeline.py")
)
CHECKED_BLOCKS = ("sh", "cron", "ini")


def shell_of(language: str, body: str) -> str:
    """The shell a block runs: all of an ``sh`` or ``cron`` block; a systemd unit's
    ``Exec...=`` lines (its other lines are not shell)."""
    if language != "ini":
        return body
    return "\n".join(line for line in body.splitlines() if re.match(r"Exec\w*=", line))


def section(title: str) -> str:
    return OPERATIONS.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_documented_command_is_real() -> None:
    found = [
        args
        for language, body in fenced_blocks(OPERATIONS, CHECKED_BLOCKS)
        for args in invocations(shell_of(language, body))
    ]
    used = {args[0] for args in found if args}
    # Install, schedule, monitor, back up, restore, upgrade: all shown as commands.
    assert {"migrate", "sync", "verify", "status", "backup", "restore"} <= used
    assert [p for args in found for p in problems(args)] == []


def test_the_systemd_verify_line_is_checked_too() -> None:
    ini = "\n".join(shell_of("ini", body) for _, body in fenced_blocks(OPERATIONS, ("ini",)))
    assert ["verify", "--from", "$$(date -d -3days -I)", "--to", "$$(date -d yesterday -I)"] in list(
        invocations(ini)
    )


def test_every_exit_code_is_explained() -> None:
    rows = re.findall(r"^\| (\d) \|", section("Exit codes: what to do"), re.MULTILINE)
    assert rows == ["0", "1", "2", "3"]


def test_the_status_lines_quoted_are_the_ones_status_prints() -> None:
    quoted = re.findall(r"^\| `([^`]+)`", section("`status` warnings: what to do"), re.MULTILINE)
    assert len(quoted) >= 7
    for line in quoted:
        fragments = [f for f in line.split("...") if len(f.strip()) >= 4]
        assert fragments and all(f in STATUS_SOURCE for f in fragments), line


def test_the_monitoring_section_documents_json_and_check() -> None:
    monitor = section("Monitor")
    assert "placeholder" not in monitor
    assert "status --json" in monitor and "status --check" in monitor
