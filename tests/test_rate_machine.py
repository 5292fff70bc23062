"""SEC's limit is per machine: edgar-insider processes share one request window
(``EDGAR_RATE_STATE``). Two real processes against one stand-in, and the state file itself."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest import fetch
from ingest.config import ConfigError, rate_state_path
from ingest.fetch import RateLimiter, shared_limiter
from tests.edgar_standin import EdgarStandin, FaultKind, Site, build_site, max_in_window
from tests.sitegen import ownership_day
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parent.parent
BLOCK_PAUSE = 1.0


# --- the shared window, in one process (two limiters = two open files, like two processes) ------


def _pair(tmp_path: Path, **options: object) -> tuple[RateLimiter, RateLimiter]:
    state = tmp_path / "edgar.rate"
    return RateLimiter(10, state=state, **options), RateLimiter(10, state=state, **options)  # type: ignore[arg-type]


def test_two_limiters_on_one_file_keep_one_grid(tmp_path: Path) -> None:
    first, second = _pair(tmp_path)

    def take(limiter: RateLimiter) -> None:
        for _ in range(12):
            limiter.acquire()

    threads = [threading.Thread(target=take, args=(lim,)) for lim in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = sorted(first.grants + second.grants)
    assert len(merged) == 24 and max_in_window(merged, 1.0) <= 10
    # One grid for both: whoever takes the next slot, consecutive grants are an interval apart
    # (less the catch-up a late wake-up may keep), never two processes' grids side by side.
    gaps = [b - a for a, b in zip(merged, merged[1:], strict=False)]
    assert min(gaps) >= first.interval - RateLimiter._CATCH_UP - 1e-9


def test_guard_counts_the_other_limiters_grants(tmp_path: Path) -> None:
    first, second = _pair(tmp_path, spacing=None, margin=0.0)  # bursts: only the guard
    burst = [first.acquire() for _ in range(10)]
    late = second.acquire()  # the 11th grant on the machine
    assert late >= burst[0] + 1.0
    assert max_in_window(burst + [late], 1.0) == 10


def test_a_pause_holds_every_limiter_on_the_file(tmp_path: Path) -> None:
    first, second = _pair(tmp_path)
    until = first.pause_for(0.3)
    assert second.paused_until == until
    assert second.acquire() >= until
    first.pause_until(until - 0.2)  # a shorter pause never shortens it
    assert second.paused_until == until


def test_sent_reports_reach_the_shared_window(tmp_path: Path) -> None:
    first, second = _pair(tmp_path, spacing=None, margin=0.0)
    grant = first.acquire(report_sent=True)
    with second._shared.held() as window:
        assert window.recent == [[grant, None]]
    first.sent(grant)
    with second._shared.held() as window:
        assert window.recent[0][0] == grant and window.recent[0][1] >= grant


def _write_state(
    path: Path, *, boot_id: bytes, paused_until: float, grants: list[tuple[float, float]]
) -> None:
    head = struct.pack("<8s16sddq", b"EIRATE01", boot_id, 0.0, paused_until, len(grants))
    pairs = b"".join(struct.pack("<dd", g, c) for g, c in grants)
    path.write_bytes(head + pairs + bytes(16 * (10 - len(grants))))


def test_state_from_before_a_reboot_is_reset(tmp_path: Path) -> None:
    state = tmp_path / "edgar.rate"
    now = time.monotonic()
    _write_state(state, boot_id=b"another boot....", paused_until=now + 3600, grants=[])
    limiter = RateLimiter(10, state=state)
    assert limiter.paused_until == 0.0
    assert limiter.acquire() < now + 3600


def test_state_from_another_clock_is_reset(tmp_path: Path) -> None:
    state = tmp_path / "edgar.rate"
    now = time.monotonic()
    future = [(now + 5000.0 + i, now + 5000.0 + i) for i in range(10)]
    _write_state(state, boot_id=fetch._boot_id(), paused_until=0.0, grants=future)
    assert RateLimiter(10, state=state).acquire() < now + 5000


@pytest.mark.parametrize("content", [b"", b"garbage", bytes(208), b"EIRATE01" + bytes(500)])
def test_a_torn_or_foreign_state_file_is_reset(tmp_path: Path, content: bytes) -> None:
    state = tmp_path / "edgar.rate"
    state.write_bytes(content)
    limiter = RateLimiter(10, state=state)
    grant = limiter.acquire()
    assert grant > 0 and len(state.read_bytes()) == fetch._MachineWindow.SIZE


def test_a_send_never_reported_by_a_killed_process_stops_counting(tmp_path: Path) -> None:
    # Ten grants, the oldest never reported sent (its process died mid-request) twenty
    # seconds ago: it counts as sent _SEND_CAP seconds after its grant, long gone by now.
    state = tmp_path / "edgar.rate"
    now = time.monotonic()
    grants = [(now - 20.0, float("nan"))] + [(now - 19.0 + i * 0.1, now - 19.0 + i * 0.1) for i in range(9)]
    _write_state(state, boot_id=fetch._boot_id(), paused_until=0.0, grants=grants)
    limiter = RateLimiter(10, state=state)
    with limiter._shared.held() as window:
        assert limiter._delay(window, time.monotonic()) <= 0


def test_state_must_be_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(ConfigError, match="EDGAR_RATE_STATE"):
        RateLimiter(10, state=tmp_path / "a-directory")
    os.mkfifo(tmp_path / "a-fifo")
    with pytest.raises(ConfigError, match="not a regular file"):
        RateLimiter(10, state=tmp_path / "a-fifo")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="EDGAR_RATE_STATE"):
        RateLimiter(10, state=tmp_path / "link")  # a symlink is never followed


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_another_users_file_in_a_world_writable_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    planted = shared / "edgar-insider.rate"
    planted.write_bytes(b"")
    os.chown(planted, 65534, 65534)
    planted.chmod(0o666)
    with pytest.raises(ConfigError, match="another user"):
        RateLimiter(10, state=planted)


def test_state_path_setting() -> None:
    assert rate_state_path({"EDGAR_RATE_STATE": "~/rate"}) == Path("~/rate").expanduser()
    assert rate_state_path({}) == Path(f"/tmp/edgar-insider-{os.geteuid()}.rate")


def test_the_shared_limiter_uses_the_machine_window(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fetch, "_shared", None)
    monkeypatch.setenv("EDGAR_RATE_STATE", str(tmp_path / "machine.rate"))
    limiter = shared_limiter()
    assert limiter.state_path == tmp_path / "machine.rate"
    limiter.acquire()
    assert (tmp_path / "machine.rate").stat().st_size == fetch._MachineWindow.SIZE
    with pytest.raises(ValueError, match="at most 10"):
        RateLimiter(20, state=tmp_path / "machine.rate")
    limiter.close()


# --- two real processes against one stand-in ---------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    filings = ownership_day(__import__("datetime").date(2025, 12, 12), 70, agent=9100001)
    return build_site(tmp_path_factory.mktemp("edgar"), filings)


def _paths(site: Site, first: int, count: int) -> list[str]:
    return [site.filings[i].archive_path(site.filings[i].filers[0].cik) for i in range(first, first + count)]


def _run_together(specs: list[dict], state: Path,
                  release: Callable[[int], None] | None = None) -> list[dict]:
    """Run one probe per spec, started together; the probe of spec ``i`` with ``then`` goes
    on to those paths once ``release(i)`` (the test's own wait for some event) has returned."""
    env = {**os.environ, "EDGAR_RATE_STATE": str(state)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.rate_probe", json.dumps(spec)], cwd=REPO, env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for spec in specs
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for index, (spec, proc) in enumerate(zip(specs, procs, strict=True)):
            if "then" in spec:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "waiting"
                if release is not None:
                    release(index)
                assert proc.stdin is not None
                proc.stdin.write("go on\n")
                proc.stdin.flush()
        reports = [json.loads(proc.communicate(timeout=300)[0]) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [proc.returncode for proc in procs] == [0] * len(procs)
    return reports


def _sizes(site: Site, paths: list[str]) -> list[int]:
    return [len(site.filing(p.rsplit("/", 1)[1][:-4]).content) for p in paths]


def test_two_processes_together_never_exceed_ten_in_any_second(site: Site, tmp_path: Path) -> None:
    first, second = _paths(site, 0, 30), _paths(site, 30, 30)
    # Each process's last path waits until the other's first request has arrived, so the two
    # overlap however a loaded machine schedules them.
    with EdgarStandin(site.root, max_rps=10) as sec:  # SEC's rule: an 11th request in a second: 429

        def once_the_other_has_asked(index: int) -> None:
            others = set((second if index == 0 else first)[:-1])
            wait_for(lambda: any(r.path in others for r in sec.requests), "the other process's request")

        reports = _run_together(
            [{"base_url": sec.base_url, "paths": paths[:-1], "then": paths[-1:], "threads": 2}
             for paths in (first, second)],
            tmp_path / "edgar.rate", release=once_the_other_has_asked,
        )
        log = sec.requests
    assert [r["sizes"] for r in reports] == [_sizes(site, first), _sizes(site, second)]
    assert {r.status for r in log} == {200} and len(log) == 60, "the stand-in refused a request"
    assert max_in_window([r.t for r in log], 1.0) <= 10
    one, two = (r["grants"] for r in reports)
    assert one[0] < two[-1] and two[0] < one[-1], "the processes did not run at the same time"
    merged = sorted(one + two)
    assert max_in_window(merged, 1.0) <= 10
    interval = (1.0 + 0.04) / 10
    gaps = [b - a for a, b in zip(merged, merged[1:], strict=False)]
    assert min(gaps) >= interval - RateLimiter._CATCH_UP - 1e-9  # one grid for both processes
    assert {r["state"] for r in reports} == {str(tmp_path / "edgar.rate")}


def test_a_block_pause_in_one_process_holds_the_other(site: Site, tmp_path: Path) -> None:
    blocked = _paths(site, 60, 1)[0]
    first = _paths(site, 0, 5) + [blocked] + _paths(site, 5, 5)
    second, second_then = _paths(site, 10, 10), _paths(site, 20, 30)
    state = tmp_path / "edgar.rate"

    def until_the_pause_is_set(_: int) -> None:
        # The second process goes on only once the first has set the pause in the shared
        # window, so it has requests left to hold however the two are scheduled (on a loaded
        # machine it once finished all of them before the first met its block).
        watcher = RateLimiter(10, state=state)
        wait_for(lambda: watcher.paused_until > 0, "the first process's block pause")
        watcher.close()

    with EdgarStandin(site.root, max_rps=10) as sec:
        sec.faults.add(blocked, FaultKind.BARE_429)  # SEC's block signal, once
        reports = _run_together(
            [{"base_url": sec.base_url, "paths": first, "threads": 1, "block_pause": BLOCK_PAUSE},
             {"base_url": sec.base_url, "paths": second, "then": second_then, "threads": 2,
              "block_pause": BLOCK_PAUSE}],
            state, release=until_the_pause_is_set,
        )
        log = sec.requests
    hit, other = reports
    assert hit["blocks"] == 1 and other["blocks"] == 0
    assert [r["sizes"] for r in reports] == [_sizes(site, first), _sizes(site, second + second_then)]
    pause_end = hit["paused_until"]
    assert other["paused_until"] == pause_end  # one pause, in the shared window
    pause_start = pause_end - BLOCK_PAUSE
    granted = sorted(hit["grants"] + other["grants"])
    assert [g for g in granted if pause_start + 1e-6 < g < pause_end] == []
    assert any(g >= pause_end for g in other["grants"]), "the other process went on after the pause"
    blocked_arrival = next(r.t for r in log if r.fault == FaultKind.BARE_429.value)
    assert blocked_arrival < pause_start + 1e-6  # the pause came from that answer
    assert max_in_window([r.t for r in log], 1.0) <= 10
