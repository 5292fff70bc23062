"""The Dockerfile, docker-compose.yml, deploy/crontab and the wheel's contents, read as
files (there is no Docker daemon here): the facts an operator relies on.

* The image: built in two stages, the compiler only in the first; the final stage runs as
  a non-root user, installs the project non-editable from wheels, and carries the crontab.
* The wheel carries the Alembic migrations (ingest/db.py finds them there).
* Compose: db, migrate and nightly, scheduled by supercronic with deploy/crontab, health
  checks, the configuration variables of README's table, no install at start-up, no
  sleep loop; `watch` beside the nightly job, both sharing the rate-limit file.
* Every `edgar-insider ...` in them is a real command with real options.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from ingest import db
from tests.cli_invocations import fenced_blocks, invocations, problems

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
CRONTAB = REPO / "deploy" / "crontab"
README = REPO / "README.md"
APP_SERVICES = ("migrate", "nightly")
COMPILERS = ("build-essential", "gcc", "g++", "clang", "make", "cc")

# ---------------------------------------------------------------------------
# A small Dockerfile reader
# ---------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (KEYWORD, arguments)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def dockerfile_stages(text: str) -> list[Stage]:
    """Stages in order; continuation lines joined, comments and parser directives dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


STAGES = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))
FINAL = STAGES[-1]
COMPOSE_DOC = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
SERVICES = COMPOSE_DOC["services"]


def _installs_a_compiler(run: str) -> bool:
    return "install" in run and any(re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", run) for c in COMPILERS)


def _configuration_variables() -> set[str]:
    """The variables named in the first column of README's configuration table."""
    table = README.read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


# ---------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------


def test_the_image_is_built_in_stages_with_the_compiler_only_in_the_builder() -> None:
    assert len(STAGES) >= 2
    builder = next(stage for stage in STAGES if stage.name == "builder")
    assert any(_installs_a_compiler(run) for run in builder.all("RUN"))
    assert any("pip wheel" in run for run in builder.all("RUN"))
    # The final stage starts from the plain base image, not from the builder...
    assert FINAL.base not in {stage.name for stage in STAGES[:-1]}
    assert FINAL.base == STAGES[0].base
    # ...installs no compiler, and copies only wheels and the scheduler's binary from it.
    assert not any(_installs_a_compiler(run) for run in FINAL.all("RUN"))
    copied = [args.split()[1:-1] for args in FINAL.all("COPY") if args.startswith("--from=")]
    assert copied and all(src in (["/wheels"], ["/usr/local/bin/supercronic"]) for src in copied)


def test_the_final_stage_runs_as_a_non_root_user() -> None:
    users = FINAL.all("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # Nothing after the last USER switches back or needs root.
    last_user = max(i for i, (key, _) in enumerate(FINAL.instructions) if key == "USER")
    assert not any(key == "RUN" for key, _ in FINAL.instructions[last_user:])


def test_the_project_is_installed_from_wheels_not_editable() -> None:
    runs = " ".join(FINAL.all("RUN"))
    assert "pip install" in runs and "--no-index" in runs and " -e " not in f" {runs} "
    # No source tree in the final image: the migrations come inside the wheel.
    assert not [args for args in FINAL.all("COPY") if not args.startswith("--from=")
                and args.split()[0] != "deploy/crontab"]


def test_the_image_has_the_crontab_the_nightly_service_runs() -> None:
    copies = dict(args.split()[-2:] for args in FINAL.all("COPY") if not args.startswith("--from="))
    assert copies["deploy/crontab"] == SERVICES["nightly"]["command"][1]


def test_the_image_environment_uses_the_documented_variables() -> None:
    env = " ".join(FINAL.all("ENV"))
    ours = set(re.findall(r"\b((?:EDGAR|DATABASE)_[A-Z_]+)=", env))
    assert ours and ours <= _configuration_variables()


def test_the_wheel_carries_the_migrations() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert setuptools["package-dir"]["ingest.migrations"] == "migrations"
    packaged = {REPO / "migrations"} | {
        REPO / "migrations" / package.removeprefix("ingest.migrations.")
        for package in setuptools["packages"] if package.startswith("ingest.migrations.")
    }
    patterns = setuptools["package-data"]["ingest.migrations"]
    for path in (REPO / "migrations").rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        assert path.parent in packaged, f"{path} is in no package of the wheel"
        assert path.suffix == ".py" or any(path.match(p) for p in patterns), f"{path} left out of the wheel"
    # Where an installed wheel puts them is where ingest/db.py looks first.
    assert db._PACKAGED_MIGRATIONS == Path(db.__file__).resolve().parent / "migrations"


# ---------------------------------------------------------------------------
# docker-compose.yml and the crontab
# ---------------------------------------------------------------------------


def test_compose_has_the_database_the_migration_the_nightly_job_and_watch() -> None:
    assert set(SERVICES) == {"db", "migrate", "nightly", "watch"}
    assert "healthcheck" in SERVICES["db"] and "healthcheck" in SERVICES["nightly"]
    nightly = SERVICES["nightly"]["depends_on"]
    assert nightly["db"]["condition"] == "service_healthy"
    assert nightly["migrate"]["condition"] == "service_completed_successfully"
    for name in APP_SERVICES:
        assert SERVICES[name]["build"] == "." and SERVICES[name]["image"] == SERVICES["nightly"]["image"]


def test_watch_runs_beside_the_nightly_job_sharing_the_rate_limit() -> None:
    watch = SERVICES["watch"]
    assert watch["command"][:2] == ["edgar-insider", "watch"]
    assert watch["restart"] == "unless-stopped"
    assert watch["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # One machine, one limit: both services point EDGAR_RATE_STATE at the same volume.
    for name in ("nightly", "watch"):
        state = SERVICES[name]["environment"]["EDGAR_RATE_STATE"]
        mounts = [v.split(":")[1] for v in SERVICES[name]["volumes"]]
        assert any(state.startswith(mount + "/") for mount in mounts), name
    assert SERVICES["nightly"]["environment"]["EDGAR_RATE_STATE"] == watch["environment"]["EDGAR_RATE_STATE"]


def test_nothing_is_installed_or_slept_when_a_container_starts() -> None:
    for name, service in SERVICES.items():
        command = " ".join(service.get("command") or [])
        assert "pip" not in command and "sleep" not in command, name
        assert "volumes" not in service or not any(v.startswith(".:") for v in service["volumes"]), name


def test_the_nightly_job_is_scheduled_by_supercronic_with_the_crontab() -> None:
    command = SERVICES["nightly"]["command"]
    assert command[0] == "supercronic" and len(command) == 2
    jobs = [line for line in CRONTAB.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    schedules = {}
    for job in jobs:
        fields = job.split(None, 5)
        assert len(fields) == 6, job
        minute, hour, day, month, weekday, line = fields
        assert re.fullmatch(r"\d+", minute) and re.fullmatch(r"\d+", hour), job
        assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24
        for args in invocations(line):
            schedules[args[0]] = (int(hour), day, month, weekday)
    assert set(schedules) >= {"sync", "verify", "backup"}
    # Daily, after EDGAR's index for the day before is complete (built from about 10 pm
    # New York time, i.e. 02:00-03:00 UTC).
    hour, day, month, weekday = schedules["sync"]
    assert (day, month, weekday) == ("*", "*", "*") and 4 <= hour <= 16


def test_the_app_services_use_the_documented_variables() -> None:
    documented = _configuration_variables()
    for name in APP_SERVICES:
        env = SERVICES[name]["environment"]
        assert set(env) <= documented, name
        assert {"DATABASE_URL", "EDGAR_USER_AGENT"} <= set(env)
        assert env["DATABASE_URL"].startswith("postgresql://") and "@db:5432/" in env["DATABASE_URL"]


def _compose_commands() -> list[str]:
    out = []
    for service in SERVICES.values():
        out.append(" ".join(service.get("command") or []))
        test = (service.get("healthcheck") or {}).get("test") or []
        out.append(" ".join(test[1:]) if test[:1] == ["CMD"] else " ".join(test))
    return out


@pytest.mark.parametrize("source", ["Dockerfile", "docker-compose.yml", "deploy/crontab", "README.md"])
def test_every_edgar_insider_command_is_real(source: str) -> None:
    if source == "Dockerfile":
        texts = [" ".join(re.findall(r'"([^"]*)"', args)) for args in FINAL.all("CMD")]
    elif source == "docker-compose.yml":
        texts = _compose_commands()
    elif source == "README.md":
        texts = [body for _, body in fenced_blocks(README.read_text(encoding="utf-8"), ("sh", "cron"))]
    else:
        texts = [(REPO / source).read_text(encoding="utf-8")]
    found = [args for text in texts for args in invocations(text)]
    assert found, f"no edgar-insider command found in {source}"
    assert [p for args in found for p in problems(args)] == []


def test_the_command_checker_catches_what_does_not_exist() -> None:
    assert problems(["sync", "--since", "2024-01-01"]) == []
    assert problems(["--help"]) == []
    assert problems(["synch"]) == ["edgar-insider has no command 'synch'"]
    assert problems(["backup", "--compress", "x"]) == ["edgar-insider backup has no option --compress"]
    line = ('cd /opt/edgar-insider && X=1 .venv/bin/edgar-insider sync'
            ' && edgar-insider verify --from "$(date -I)"')
    found = list(invocations(line))
    assert found == [["sync"], ["verify", "--from", "$(date -I)"]]
