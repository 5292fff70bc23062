"""Watch benchmark: a simulated trading day published on the stand-in while a subject polls.

    python -m benchmarks.bench_watch --subject poller                  # the feed poller alone
    python -m benchmarks.bench_watch --subject watch --factor 10 --window 15:00-19:00
    python -m benchmarks.bench_watch --rhythm                          # print the day's rhythm

The day: ``--filings`` (2,500) distinct ownership filings (corpus submissions under new
accession numbers, ``tests/sitegen.py``) accepted between 06:00 and 22:00 US Eastern at the
real intraday rhythm. The rhythm is derived, every run, from the acceptance times of the
Form 4/4A filings in the 52 real feed pages of 10-12 Dec 2025 (``tests/fixtures/feeds/``):
1,579 filings counted per half hour, each half hour averaged over the days the capture covers
in full (11 Dec for all of them; 12 Dec up to 18:00; 10 Dec from 17:00). Busiest: 16:00-17:00.

Time is compressed by ``--factor``: a day-second lasts 1/factor wall seconds. The publisher
thread publishes each filing on the stand-in (``EdgarStandin.publish``: archive files, daily
index rows, feed entries) when the compressed clock reaches its acceptance time (plus
``--publish-delay`` day-seconds, drawn uniformly per filing, if given). The subject polls
every ``--interval`` day-seconds (so every interval/factor wall seconds) and reports each
filing it gets through ``on_loaded(accession)``. Measured:

* lag, per filing, from its publication to ``on_loaded``, in wall seconds (and x factor:
  "day" seconds; only the waiting between polls compresses, requests and loading do not, so
  the day figure overstates those parts when the factor is large);
* requests per day-minute at the stand-in (feed pages and everything else), from its log;
* filings never reported (missing) and reported twice.

Subjects:

* ``poller``: ``ingest.feed.FeedPoller`` over an ``EdgarClient`` (machine-wide limiter on a
  temp ``EDGAR_RATE_STATE``): the discovery part of ``watch`` only, no fetch or load.
* ``watch``: ``edgar-insider watch --interval S`` as a subprocess on a scratch database
  (``--server``), after ``edgar-insider sync --date`` of the day before (the nightly job);
  a filing counts as loaded when it is in ``filings``. Needs the ``watch`` command: until it
  exists this subject stops with a message. Choose a factor at which the busiest half hour
  stays below ~9 filings per wall second (at most 10 requests/s are allowed): ``--factor 10``
  for the whole day, or a ``--window`` around the peak.

Figures to report, never pass/fail (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Protocol

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # tests.* (the stand-in) lives beside the package
    sys.path.insert(0, str(REPO))

FEEDS = REPO / "tests" / "fixtures" / "feeds"
DAY = date(2026, 3, 10)  # a Tuesday
PREVIOUS_DAY = date(2026, 3, 9)
OPEN, CLOSE = clock_time(6, 0), clock_time(22, 0)  # EDGAR accepts Forms 3/4/5 until 22:00 ET
BIN_MINUTES = 30
USER_AGENT = "edgar-insider benchmark bench@example.org"


# --------------------------------------------------------------------------- the day


def intraday_rhythm(feeds: Path = FEEDS) -> list[tuple[clock_time, float]]:
    """(half-hour start, share of the day's filings) from the real feed pages.

    Each half hour counts the ownership filings accepted in it, averaged over the capture's
    days that cover it in full: the capture runs from its oldest to its newest acceptance time.
    """
    from ingest.feed import group_filings, parse_feed
    from tests.standin_feed import EASTERN

    pages = sorted(feeds.glob("*-http200.atom"))
    times = [f.accepted_at.astimezone(EASTERN) for f in
             group_filings(e for p in pages for e in parse_feed(p.read_bytes()).entries)]
    first, last = min(times), max(times)
    counts = collections.Counter((t.date(), _bin(t.time())) for t in times)
    days = sorted({t.date() for t in times})
    bins = _bins()
    weights = []
    for start in bins:
        covering = [d for d in days if _covers(first, last, d, start)]
        weights.append(statistics.fmean(counts[(d, start)] for d in covering) if covering else 0.0)
    total = sum(weights)
    return [(start, weight / total) for start, weight in zip(bins, weights, strict=True)]


def _bins() -> list[clock_time]:
    day = datetime.combine(DAY, OPEN)
    end = datetime.combine(DAY, CLOSE)
    out = []
    while day < end:
        out.append(day.time())
        day += timedelta(minutes=BIN_MINUTES)
    return out


def _bin(moment: clock_time) -> clock_time:
    minutes = (moment.hour * 60 + moment.minute) // BIN_MINUTES * BIN_MINUTES
    return clock_time(minutes // 60, minutes % 60)


def _covers(first: datetime, last: datetime, day: date, start: clock_time) -> bool:
    begin = datetime.combine(day, start, tzinfo=first.tzinfo)
    return first <= begin and begin + timedelta(minutes=BIN_MINUTES) <= last


def acceptance_times(count: int, rhythm: list[tuple[clock_time, float]], *, seed: int = 1,
                     window: tuple[clock_time, clock_time] = (OPEN, CLOSE)) -> list[datetime]:
    """``count`` acceptance times on DAY (US Eastern), drawn from the rhythm within ``window``."""
    from tests.standin_feed import EASTERN

    rng = random.Random(seed)
    chosen = [(start, share) for start, share in rhythm if window[0] <= start < window[1]]
    starts = rng.choices([s for s, _ in chosen], weights=[w for _, w in chosen], k=count)
    return sorted(
        datetime.combine(DAY, start, tzinfo=EASTERN)
        + timedelta(seconds=rng.uniform(0, BIN_MINUTES * 60))
        for start in starts
    )


# --------------------------------------------------------------------------- subjects


class Subject(Protocol):
    """What the benchmark measures: starts polling the stand-in, reports loaded filings."""

    name: str

    def start(self, base_url: str, data_url: str, interval: float,
              on_loaded: Callable[[str], None]) -> None: ...

    def stop(self) -> dict: ...


class PollerSubject:
    """``ingest.feed.FeedPoller`` alone: publication to discovery."""

    name = "poller"

    def __init__(self, known: set[str], state: Path) -> None:
        self._known = set(known)
        self._state = state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls: list[dict] = []

    def start(self, base_url: str, data_url: str, interval: float,
              on_loaded: Callable[[str], None]) -> None:
        from ingest.config import EdgarSettings
        from ingest.feed import FeedPoller
        from ingest.fetch import EdgarClient, RateLimiter, RetryPolicy

        settings = EdgarSettings(user_agent=USER_AGENT, base_url=base_url, data_url=data_url)
        client = EdgarClient(settings, RateLimiter(10, state=self._state),
                             retry=RetryPolicy(max_attempts=2, backoff_initial=0.05, backoff_max=0.1))
        poller = FeedPoller(client, known=lambda accs: set(accs) & self._known)

        def run() -> None:
            next_poll = time.monotonic()
            while not self._stop.is_set():
                result = poller.poll()
                for filing in result.filings:
                    self._known.add(filing.accession_number)
                    on_loaded(filing.accession_number)
                self.polls.append({"requests": result.requests, "pages": result.pages,
                                   "new": len(result.filings), "complete": result.complete})
                next_poll += interval
                self._stop.wait(max(0.0, next_poll - time.monotonic()))
            client.close()

        self._thread = threading.Thread(target=run, name="bench-poller", daemon=True)
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        requests = [p["requests"] for p in self.polls]
        return {
            "polls": len(self.polls),
            "incomplete_polls": sum(not p["complete"] for p in self.polls),
            "feed_requests_per_poll": {"median": statistics.median(requests) if requests else None,
                                       "max": max(requests, default=None)},
            "type4_pages_per_poll": dict(collections.Counter(p["pages"].get("4", 0) for p in self.polls)),
        }


class WatchSubject:
    """``edgar-insider watch`` as a subprocess on a scratch database; loaded = in ``filings``.

    The nightly job of the day before runs first (``sync --date``), as it would have.
    """

    name = "watch"

    def __init__(self, server: str, state: Path, log: Path) -> None:
        self._server = server
        self._state = state
        self._log = log
        self._stack = contextlib.ExitStack()
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._watcher: threading.Thread | None = None

    def start(self, base_url: str, data_url: str, interval: float,
              on_loaded: Callable[[str], None]) -> None:
        from benchmarks.bench_ingest import ScratchDatabase, cli_command

        if subprocess.run([*cli_command(), "watch", "--help"], cwd=REPO, capture_output=True).returncode:
            raise SystemExit("bench_watch: `edgar-insider watch` does not exist yet; "
                             "use --subject poller")
        database = self._stack.enter_context(ScratchDatabase(self._server, prefix="edgar_bench_watch"))
        database.migrate()
        env = {**database.env(), "EDGAR_USER_AGENT": USER_AGENT, "EDGAR_BASE_URL": base_url,
               "EDGAR_DATA_URL": data_url, "EDGAR_RATE_STATE": str(self._state)}
        subprocess.run([*cli_command(), "sync", "--date", PREVIOUS_DAY.isoformat()], cwd=REPO,
                       env=env, check=True, capture_output=True)
        log = self._stack.enter_context(open(self._log, "ab"))
        self._proc = subprocess.Popen([*cli_command(), "watch", "--interval", f"{interval:g}"],
                                      cwd=REPO, env=env, stdout=log, stderr=log)
        self._watcher = threading.Thread(target=self._watch_database, args=(database.url, on_loaded),
                                         name="bench-watch-db", daemon=True)
        self._watcher.start()

    def _watch_database(self, url: str, on_loaded: Callable[[str], None]) -> None:
        import psycopg

        seen: set[str] = set()
        with psycopg.connect(url, autocommit=True) as conn:
            while not self._stop.wait(0.1):
                for (accession,) in conn.execute("SELECT accession_number FROM filings").fetchall():
                    if accession not in seen:
                        seen.add(accession)
                        on_loaded(accession)

    def stop(self) -> dict:
        if self._proc is not None:
            self._proc.terminate()  # SIGTERM: stops after the current batch
            try:
                code = self._proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                code = self._proc.wait()
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=30)
        self._stack.close()
        return {"exit_code": code if self._proc is not None else None, "log": str(self._log)}


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass
class Clock:
    """Compressed time: wall ``t0`` is day-time ``start``; one wall second is ``factor`` day seconds."""

    t0: float
    start: datetime
    factor: float

    def wall(self, moment: datetime) -> float:
        return self.t0 + (moment - self.start).total_seconds() / self.factor

    def day(self, wall: float) -> datetime:
        return self.start + timedelta(seconds=(wall - self.t0) * self.factor)


def _seed_filings(count: int = 20) -> list:
    """Filings of the evening before: in the feed from the start, known to the subject."""
    from tests.sitegen import ownership_day, with_acceptance
    from tests.standin_feed import EASTERN

    evening = datetime.combine(PREVIOUS_DAY, clock_time(18, 0), tzinfo=EASTERN)
    return [with_acceptance(f, evening + timedelta(minutes=5 * n))
            for n, f in enumerate(ownership_day(PREVIOUS_DAY, count, agent=9300001))]


def run(*, subject_name: str, filings: int, factor: float, interval: float,
        window: tuple[clock_time, clock_time], publish_delay: float, seed: int,
        server: str, verbose: bool = True) -> dict:
    from tests.edgar_standin import EdgarStandin, build_site
    from tests.sitegen import ownership_day, with_acceptance
    from tests.standin_feed import EASTERN, FEED_PATH

    rhythm = intraday_rhythm()
    accepted = acceptance_times(filings, rhythm, seed=seed, window=window)
    rng = random.Random(seed + 1)
    day = [with_acceptance(f, when) for f, when in zip(ownership_day(DAY, filings, agent=9300002),
                                                        accepted, strict=True)]
    published_at_day = [when + timedelta(seconds=rng.uniform(0, publish_delay)) for when in accepted]
    order = sorted(range(filings), key=lambda i: published_at_day[i])
    folder = Path(tempfile.mkdtemp(prefix="edgar-bench-watch-"))
    seeds = _seed_filings()
    published: dict[str, float] = {}
    loaded: dict[str, float] = {}
    doubled: list[str] = []
    lock = threading.Lock()

    def on_loaded(accession: str) -> None:
        now = time.monotonic()
        with lock:
            if accession in loaded:
                doubled.append(accession)
            else:
                loaded[accession] = now

    subject: Subject = (
        PollerSubject({f.accession for f in seeds}, folder / "edgar.rate") if subject_name == "poller"
        else WatchSubject(server, folder / "edgar.rate", folder / "watch.log")
    )
    try:
        site = build_site(folder / "edgar", seeds)
        with EdgarStandin(folder / "edgar", site=site, max_rps=10) as sec:
            begin = datetime.combine(DAY, window[0], tzinfo=EASTERN)
            clock = Clock(time.monotonic() + 2.0, begin, factor)
            subject.start(sec.base_url, sec.data_url, interval / factor, on_loaded)
            for i in order:
                delay = clock.wall(published_at_day[i]) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sec.publish(day[i])
                published[day[i].accession] = time.monotonic()
            drain_until = time.monotonic() + 3 * interval / factor + 30
            while time.monotonic() < drain_until and len(loaded.keys() & published.keys()) < filings:
                time.sleep(0.2)
            subject_figures = subject.stop()
            log = sec.requests
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _report(subject_name, filings, factor, interval, window, published, loaded, doubled,
                   log, clock, FEED_PATH, subject_figures, verbose)


def _report(subject: str, filings: int, factor: float, interval: float,
            window: tuple[clock_time, clock_time], published: dict[str, float],
            loaded: dict[str, float], doubled: list[str], log: list, clock: Clock,
            feed_path: str, subject_figures: dict, verbose: bool) -> dict:
    lags = sorted(loaded[a] - published[a] for a in published if a in loaded)
    per_minute: dict[str, collections.Counter] = {
        "feed": collections.Counter(), "other": collections.Counter()}
    for record in log:
        minute = clock.day(record.t).replace(second=0, microsecond=0)
        per_minute["feed" if record.path == feed_path else "other"][minute] += 1
    minutes = sorted(set(per_minute["feed"]) | set(per_minute["other"]))
    totals = [per_minute["feed"][m] + per_minute["other"][m] for m in minutes]

    def spread(values: list[float]) -> dict:
        if not values:
            return {}
        return {"median": round(statistics.median(values), 3),
                "p90": round(values[int(0.9 * (len(values) - 1))], 3), "max": round(max(values), 3)}

    result = {
        "subject": subject,
        "filings": filings,
        "window": f"{window[0]:%H:%M}-{window[1]:%H:%M}",
        "factor": factor,
        "interval_day_s": interval,
        "interval_wall_s": round(interval / factor, 3),
        "found": len(lags),
        "missing": len(published) - len(lags),
        "reported_twice": len(doubled),
        "lag_wall_s": spread(lags),
        "lag_day_s": spread([lag * factor for lag in lags]),
        "requests": {"feed": sum(per_minute["feed"].values()), "other": sum(per_minute["other"].values()),
                     "refused": sum(1 for r in log if r.status in (403, 429))},
        "requests_per_day_minute": {"median": statistics.median(totals) if totals else 0,
                                    "max": max(totals, default=0),
                                    "feed_max": max(per_minute["feed"].values(), default=0)},
        **subject_figures,
    }
    if verbose:
        print(f"[watch] {json.dumps(result)}", file=sys.stderr)
    return result


def _window(text: str) -> tuple[clock_time, clock_time]:
    start, end = text.split("-")
    return clock_time.fromisoformat(start), clock_time.fromisoformat(end)


def _print_rhythm() -> None:
    for start, share in intraday_rhythm():
        print(f"{start:%H:%M}  {share * 100:5.2f}%  {'#' * round(share * 200)}")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.bench_ingest import DEFAULT_SERVER

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_watch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subject", choices=("poller", "watch"), default="poller")
    parser.add_argument("--filings", type=int, default=2500, help="filings in the whole day [%(default)s]")
    parser.add_argument("--factor", type=float, default=60.0, help="time compression [%(default)s]")
    parser.add_argument("--interval", type=float, default=60.0,
                        help="poll interval, day seconds [%(default)s]")
    parser.add_argument("--window", type=_window, default=(OPEN, CLOSE),
                        help="part of the day to simulate, HH:MM-HH:MM [06:00-22:00]")
    parser.add_argument("--publish-delay", type=float, default=0.0,
                        help="publication up to this many day seconds after acceptance [%(default)s]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    parser.add_argument("--rhythm", action="store_true", help="print the derived rhythm and exit")
    args = parser.parse_args(argv)
    if args.rhythm:
        _print_rhythm()
        return 0
    share = sum(s for start, s in intraday_rhythm() if args.window[0] <= start < args.window[1])
    filings = max(1, round(args.filings * share))  # the window's part of a day of --filings
    result = run(subject_name=args.subject, filings=filings, factor=args.factor,
                 interval=args.interval, window=args.window, publish_delay=args.publish_delay,
                 seed=args.seed, server=args.server)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
