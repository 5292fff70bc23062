"""ingest.fetch against the local EDGAR stand-in: rate limit, retries, blocks, refusals.

The client never goes above 10 requests per second here either. Tests that are not about the
limit run the stand-in with a higher limit, so that arrival jitter cannot turn into a 429
that the test did not ask for.

No test depends on how fast the machine is (CI runs on a loaded 2-core machine): the rate
limit is checked on the times of the limiter's grants and of the stand-in's arrivals (any
one-second window, and the order of events), never on how long a run took or how many
requests fitted in a burst; timeouts are far from the delays they must tell apart.
"""

from __future__ import annotations

import dataclasses
import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ingest import fetch
from ingest.config import ConfigError, EdgarSettings
from ingest.fetch import (
    EdgarAccessDenied,
    EdgarClient,
    FetchFailed,
    Forbidden,
    NotFound,
    RateLimiter,
    RetryPolicy,
    classify_sec_page,
    parse_retry_after,
)
from tests.edgar_standin import (
    ALL_FAULTS,
    RATE_THRESHOLD_PAGE,
    TRANSIENT_FAULTS,
    UNDECLARED_TOOL_PAGE,
    EdgarStandin,
    FaultKind,
    Site,
    SiteFiling,
    build_site,
    max_in_window,
)

FIXTURES = Path(__file__).parent / "fixtures" / "submissions"
USER_AGENT = "Edgar Insider Tests tests@example.org"
BLOCK_PAUSE = 1.0
FAST_RETRY = RetryPolicy(max_attempts=8, backoff_initial=0.05, backoff_max=0.4, jitter=0.05)

# Real Form 3/4/5 submissions (several with many reporting owners).
FIXTURE_NAMES = (
    "0000895345-23-000388.txt",
    "0001012975-17-000759.workshop-form4-altimmune-2017-10-13.txt",
    "0001209191-20-054135.workshop-form3-ford-2020-10-01.txt",
    "0000011544-20-000013.workshop-form5-berkley-2019-12-31.txt",
    "0000707549-25-000004.sec-edgar-parser-form4a-lam-2024-11-04.txt",
    "0001127602-23-003130.txt",
    "0001209191-23-021175.txt",
    "0000899243-23-002551.txt",
)


def _hundred_filings() -> list[SiteFiling]:
    """100 distinct filings: the real fixtures, copied under new accession numbers."""
    sources = [SiteFiling.from_submission((FIXTURES / name).read_bytes()) for name in FIXTURE_NAMES]
    filings = list(sources)
    n = 0
    while len(filings) < 100:
        source = sources[n % len(sources)]
        n += 1
        accession = f"0009999999-24-{n:06d}"
        content = source.content.replace(source.accession.encode(), accession.encode())
        day = date(2024, 1, 2) + timedelta(days=7 * (n % 10))  # Tuesdays
        filings.append(dataclasses.replace(source, accession=accession, content=content, filed=day))
    return filings


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("edgar"), _hundred_filings())


@pytest.fixture
def sec(site: Site) -> Iterator[EdgarStandin]:
    with EdgarStandin(site.root, max_rps=1000) as server:
        yield server


@pytest.fixture
def strict_sec(site: Site) -> Iterator[EdgarStandin]:
    """SEC's own limit: more than 10 requests in any second → 429."""
    with EdgarStandin(site.root, max_rps=10) as server:
        yield server


def _settings(server: EdgarStandin, **changes: object) -> EdgarSettings:
    base = EdgarSettings(
        user_agent=USER_AGENT,
        base_url=server.base_url,
        data_url=server.data_url,
        max_rps=10,
        block_pause_seconds=BLOCK_PAUSE,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


ClientFactory = Callable[..., EdgarClient]


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    clients: list[EdgarClient] = []

    def make(server: EdgarStandin, *, retry: RetryPolicy = FAST_RETRY, **kw: object) -> EdgarClient:
        limiter = kw.pop("limiter", None) or RateLimiter(10)  # fresh: tests must not share one
        client = EdgarClient(_settings(server), limiter, retry=retry, **kw)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _content(site: Site, path: str) -> bytes:
    return site.filing(path.rsplit("/", 1)[1].removesuffix(".txt")).content


def _fetch_all(client: EdgarClient, paths: list[str], threads: int = 8) -> list[bytes]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(client.get_archive, paths))


# --- rate limiter ----------------------------------------------------------------------------


class _PauseRecordingLimiter(RateLimiter):
    """Records each pause as (start, end). The limiter's condition is re-entrant: holding it
    while the pause is set makes "read the clock, pause" one step that no grant can split."""

    def __init__(self, max_rps: float) -> None:
        super().__init__(max_rps)
        self.pauses: list[tuple[float, float]] = []

    def pause_for(self, seconds: float) -> float:
        with self._cond:
            until = super().pause_for(seconds)
            self.pauses.append((until - seconds, until))
        return until


@pytest.mark.parametrize("spacing", [None, 0.04], ids=["bursts", "spaced"])
def test_limiter_never_grants_more_than_n_in_any_second(spacing: float | None) -> None:
    # Without spacing the limiter grants 10 at once and the 11th must wait a second: a
    # limiter that lets 11 through fails at once, however slow the machine.
    limiter = RateLimiter(10, margin=0.0, spacing=spacing)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: limiter.acquire(), range(25)))
    grants = limiter.grants
    assert limiter.granted == len(grants) == 25
    assert max_in_window(grants, 1.0) <= 10
    # the same fact as an order of events: grant n + 10 comes a second or more after grant n
    assert all(later - earlier >= 1.0 for earlier, later in zip(grants, grants[10:], strict=False))


def test_limiter_below_one_per_second_and_pause() -> None:
    limiter = RateLimiter(4)
    until = limiter.pause_for(0.3)
    limiter.pause_until(until - 0.2)  # a shorter pause never shortens it
    grants = [limiter.acquire() for _ in range(2)]
    assert all(g >= until for g in grants)
    limiter.set_max_rps(0.5)  # one grant per 2 s
    assert limiter.per_window == 1 and limiter.window == 2.0


def test_eight_threads_hammering_stay_within_sec_limit(
    site: Site, strict_sec: EdgarStandin, make_client: ClientFactory
) -> None:
    client = make_client(strict_sec)
    paths = site.archive_paths[:40]
    bodies = _fetch_all(client, paths, threads=8)
    assert bodies == [_content(site, p) for p in paths]
    grants = client.limiter.grants
    arrivals = sorted(r.t for r in strict_sec.requests)
    # Every request the stand-in saw took a grant (40, and one more per retry should a
    # scheduling delay on a loaded machine bunch arrivals into a refusal: the client waits
    # that out like any SEC refusal)...
    assert len(arrivals) == len(grants) == client.stats.requests >= 40
    # ...no second ever held 11 grants...
    assert max_in_window(grants, 1.0) <= 10
    # ...and no request reached the stand-in before its grant: the n-th arrival never
    # comes before the n-th grant (both clocks are this process's time.monotonic()).
    assert all(arrival >= grant for arrival, grant in zip(arrivals, grants, strict=True))


def test_clients_share_the_process_wide_limiter(sec: EdgarStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "_shared", None)
    first = EdgarClient(_settings(sec))
    second = EdgarClient(_settings(sec, max_rps=5))
    assert first.limiter is second.limiter is fetch.shared_limiter()
    assert first.limiter.max_rps == 5  # the stricter setting wins for everyone
    first.close()
    second.close()


# --- responses -------------------------------------------------------------------------------


def test_get_routes_www_and_data(site: Site, sec: EdgarStandin, make_client: ClientFactory) -> None:
    client = make_client(sec)
    path = site.archive_paths[0]
    assert client.get_archive(path.removeprefix("/Archives/")) == _content(site, path)
    assert client.get(path) == _content(site, path)
    cik = int(path.split("/")[4])
    doc = client.get_json(Site.submissions_path(cik))
    assert doc["cik"] == str(cik)
    assert client.get_data(Site.submissions_path(cik)) == client.get(
        sec.data_url + Site.submissions_path(cik)
    )
    assert [r.site for r in sec.requests] == ["www", "www", "data", "data", "data"]


def test_gzip_is_requested_and_used(site: Site, sec: EdgarStandin, make_client: ClientFactory) -> None:
    client = make_client(sec)
    path = site.archive_paths[0]
    assert client.get(path) == _content(site, path)
    record = sec.requests[0]
    assert "gzip" in record.accept_encoding and record.gzipped
    assert record.user_agent == USER_AGENT
    stats = client.stats.snapshot()
    assert stats["bytes_received"] == record.body_bytes < stats["bytes_decoded"] == len(_content(site, path))
    assert stats["requests"] == stats["documents"] == 1 and stats["by_status"] == {200: 1}


def test_404_raises_not_found_without_retry(sec: EdgarStandin, make_client: ClientFactory) -> None:
    client = make_client(sec)
    with pytest.raises(NotFound) as caught:
        client.get("/Archives/edgar/daily-index/2024/QTR1/form.20240106.idx")
    assert caught.value.status == 404
    assert len(sec.requests) == 1 and client.stats.retries == 0


def test_plain_403_raises_forbidden_without_retry(
    site: Site, sec: EdgarStandin, make_client: ClientFactory
) -> None:
    client = make_client(sec)
    form_path, _ = Site.daily_paths(site.days[0])
    sec.forbid(form_path)
    with pytest.raises(Forbidden) as caught:
        client.get(form_path)
    assert isinstance(caught.value, NotFound) and caught.value.status == 403
    assert len(sec.requests) == 1


def test_undeclared_tool_403_is_fatal(site: Site, make_client: ClientFactory) -> None:
    # SEC's edge also refuses some e-mail User-Agents (example.com-style): same page.
    with EdgarStandin(site.root, accept_user_agent=lambda ua: "example.org" not in ua) as sec:
        client = make_client(sec)
        with pytest.raises(EdgarAccessDenied, match="EDGAR_USER_AGENT") as caught:
            client.get(site.archive_paths[0])
        assert "Undeclared Automated Tool" in str(caught.value)
        assert len(sec.requests) == 1, "no retry: only the user can fix the User-Agent"


def test_refusal_page_served_with_200_is_never_a_document(
    site: Site, sec: EdgarStandin, make_client: ClientFactory
) -> None:
    (site.root / "www" / "Archives" / "blocked.html").write_bytes(UNDECLARED_TOOL_PAGE)
    client = make_client(sec)
    with pytest.raises(EdgarAccessDenied):
        client.get("/Archives/blocked.html")


def test_missing_user_agent_is_a_config_error(sec: EdgarStandin) -> None:
    with pytest.raises(ConfigError, match="EDGAR_USER_AGENT"):
        EdgarSettings.from_env({})
    for agent in ("", "python-requests/2.32", "Jane Analyst"):
        with pytest.raises(ConfigError, match="EDGAR_USER_AGENT is not set to a name with a contact e-mail"):
            EdgarClient(_settings(sec, user_agent=agent), RateLimiter(10))
    with pytest.raises(ConfigError, match="at most 10"):
        EdgarClient(_settings(sec, max_rps=20), RateLimiter(10))
    with pytest.raises(ConfigError, match="rate limiter allows"):
        EdgarClient(_settings(sec, max_rps=5), RateLimiter(10))
    assert sec.requests == []


def test_classify_sec_pages() -> None:
    assert classify_sec_page(UNDECLARED_TOOL_PAGE) == "undeclared-tool"  # despite its title
    assert classify_sec_page(RATE_THRESHOLD_PAGE) == "rate-limit"
    variant = (
        b"<html><h1>Your Request Originates from an Undeclared Automated Tool</h1><p>Your request "
        b"rate has exceeded the SEC's maximum allowable requests per second.</p></html>"
    )
    assert classify_sec_page(variant) == "rate-limit"
    assert classify_sec_page(b"<SEC-DOCUMENT>0000000000-24-000001.txt") is None


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Mon, 05 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 05 Jan 2026 11:00:00 GMT", now) == 0.0


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k in TRANSIENT_FAULTS if k is not FaultKind.SLOW])
def test_each_fault_is_retried(
    site: Site, sec: EdgarStandin, make_client: ClientFactory, kind: FaultKind
) -> None:
    client = make_client(sec)
    path = site.archive_paths[1]
    sec.faults.add(path, kind, times=2)
    assert client.get(path) == _content(site, path)
    assert [r.fault for r in sec.requests] == [kind.value, kind.value, None]
    assert client.stats.retries == 2 and client.limiter.granted == 3  # one grant per attempt


def test_slow_body_within_read_timeout_is_fine(
    site: Site, sec: EdgarStandin, make_client: ClientFactory
) -> None:
    client = make_client(sec)
    path = site.archive_paths[2]
    sec.faults.add(path, FaultKind.SLOW, delay=0.05, chunk=1024)
    assert client.get(path) == _content(site, path)
    assert len(sec.requests) == 1


def test_stalled_body_times_out_and_is_retried(
    site: Site, sec: EdgarStandin, make_client: ClientFactory
) -> None:
    # The body stalls for good (until the stand-in stops); a 2-s read timeout tells that
    # apart from a loaded machine's slowness, and the retry gets the whole document.
    client = make_client(sec, timeout=(10.0, 2.0))
    path = site.archive_paths[2]
    sec.faults.add(path, FaultKind.SLOW, delay=3600, chunk=1 << 30)
    assert client.get(path) == _content(site, path)
    assert [r.fault for r in sec.requests] == ["slow", None]
    assert client.stats.snapshot()["errors"] == {"timeout": 1}


def test_attempts_are_bounded(site: Site, sec: EdgarStandin, make_client: ClientFactory) -> None:
    client = make_client(sec, retry=dataclasses.replace(FAST_RETRY, max_attempts=3))
    path = site.archive_paths[0]
    sec.faults.add(path, FaultKind.HTTP_503, times=None)
    with pytest.raises(FetchFailed, match="after 3 attempt") as caught:
        client.get(path)
    assert caught.value.reason == "HTTP 503"
    assert len(sec.requests) == 3


@pytest.mark.parametrize("http_date", [False, True])
def test_retry_after_is_honoured(
    site: Site, sec: EdgarStandin, make_client: ClientFactory, http_date: bool
) -> None:
    client = make_client(sec)
    path = site.archive_paths[3]
    # An HTTP date has whole seconds: "now + 2 s" rounds down to a wait of 1-2 s.
    retry_at = time.time() + 2  # an HTTP date has whole seconds: this, rounded down
    value = email.utils.formatdate(retry_at, usegmt=True) if http_date else "1"
    sec.faults.add(path, FaultKind.RETRY_AFTER_429, retry_after=value)
    assert client.get(path) == _content(site, path)
    first, second = sec.requests
    if http_date:
        # not before the date (wall clock; the stand-in logs time.monotonic(), converted here
        # up to a few microseconds), however late the first answer came
        monotonic_of_date = int(retry_at) - (time.time() - time.monotonic())
        assert second.t >= monotonic_of_date - 0.01
    else:
        # a delay counts from the answer, which comes after the first request arrived
        assert second.t - first.t >= 1.0
    assert client.stats.blocks == 0


@pytest.mark.parametrize("kind", [FaultKind.THRESHOLD_403, FaultKind.BARE_429])
def test_block_pauses_every_worker(
    site: Site, sec: EdgarStandin, make_client: ClientFactory, kind: FaultKind
) -> None:
    limiter = _PauseRecordingLimiter(10)
    client = make_client(sec, limiter=limiter)
    paths = site.archive_paths[10:34]
    sec.faults.add(paths[4], kind)
    assert _fetch_all(client, paths, threads=4) == [_content(site, p) for p in paths]
    assert client.stats.blocks == 1 and client.stats.documents == len(paths)
    [(paused_at, resumed_at)] = limiter.pauses
    grants = limiter.grants
    arrivals = sorted(r.t for r in sec.requests)
    blocked_at = next(r.t for r in sec.requests if r.fault == kind.value)
    # The block is answered before it is seen, so the pause starts after it arrived...
    assert paused_at >= blocked_at
    # ...no worker is granted a request during the pause...
    assert [g for g in grants if paused_at <= g < resumed_at] == []
    # ...so what reaches the stand-in before the pause ends was granted before it began
    # (requests already on their way may still land after the block), and work resumes.
    assert sum(a < resumed_at for a in arrivals) <= sum(g < paused_at for g in grants)
    assert arrivals[-1] >= resumed_at


def test_server_side_block_is_waited_out(site: Site, make_client: ClientFactory) -> None:
    # A stand-in stricter than the client (2 req/s, 0.5-s block re-extended by each refused
    # request): the client must pause, come back, and still get every document.
    with EdgarStandin(site.root, max_rps=2, block_seconds=0.5, limit_status=403) as sec:
        client = make_client(sec)
        paths = site.archive_paths[40:44]
        assert _fetch_all(client, paths, threads=2) == [_content(site, p) for p in paths]
        assert client.stats.blocks >= 1
        assert client.stats.snapshot()["by_status"][403] == client.stats.blocks


def test_random_faults_every_document_byte_exact(
    site: Site, sec: EdgarStandin, make_client: ClientFactory
) -> None:
    client = make_client(sec)
    paths = [site.filing(f.accession).archive_path(f.filers[0].cik) for f in site.filings]
    assert len(set(paths)) == 100
    sec.faults.random(rate=0.2, kinds=ALL_FAULTS, seed=1, delay=0.02, chunk=4096)
    bodies = _fetch_all(client, paths, threads=8)
    for path, body in zip(paths, bodies, strict=True):
        assert body == _content(site, path), path
    fired = {kind for _, kind in sec.faults.fired}
    assert len(sec.faults.fired) >= 10 and len(fired) >= 6
    assert client.stats.retries == len(sec.faults.fired) - sum(
        k is FaultKind.SLOW for _, k in sec.faults.fired
    )
    assert max_in_window(client.limiter.grants, 1.0) <= 10


def test_counters_are_thread_safe(site: Site, sec: EdgarStandin, make_client: ClientFactory) -> None:
    client = make_client(sec)
    paths = site.archive_paths[:12]
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        for path in paths[i::4]:
            client.get(path)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = client.stats.snapshot()
    assert stats["requests"] == stats["documents"] == 12 == len(sec.requests)
    assert stats["bytes_received"] == sum(r.body_bytes for r in sec.requests)
