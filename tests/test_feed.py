"""ingest.feed: the latest-filings Atom feed, read from EDGAR's own pages, and the poller
against the stand-in (publishing while it polls, with every feed quirk)."""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.config import EdgarSettings
from ingest.discover import OWNERSHIP_FORMS
from ingest.feed import (
    FEED_TYPES,
    FeedEntry,
    FeedFormatError,
    FeedPoller,
    feed_url,
    group_filings,
    parse_feed,
)
from ingest.fetch import EdgarAccessDenied, EdgarClient, FetchFailed, RateLimiter, RetryPolicy
from ingest.workqueue import is_safe_entry
from tests.edgar_standin import (
    RATE_THRESHOLD_PAGE,
    EdgarStandin,
    FaultKind,
    Filer,
    SiteFiling,
    build_site,
    make_submission,
)
from tests.sitegen import copy_as, ownership_day, template_submissions, with_acceptance
from tests.standin_feed import EASTERN, FEED_PATH, QuirkKind

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
REAL_PAGES = sorted(FEEDS.glob("*-http200.atom"))
PAST_END = FEEDS / "getcurrent-type4-start5100-http503.atom"
ET = timezone(timedelta(hours=-5))
USER_AGENT = "Edgar Insider Tests tests@example.org"
DAY = date(2025, 12, 12)
NOON = datetime(2025, 12, 12, 12, 0, tzinfo=EASTERN)


def _page(start: int) -> bytes:
    return (FEEDS / f"getcurrent-type4-start{start:04d}-http200.atom").read_bytes()


# --- parser, on EDGAR's own pages ----------------------------------------------------------------


def test_every_real_page_parses_completely() -> None:
    entries = [e for page in REAL_PAGES for e in parse_feed(page.read_bytes()).entries]
    assert len(entries) == 5100
    assert all(not parse_feed(page.read_bytes()).bad_entries for page in REAL_PAGES)
    roles = {e.role for e in entries}
    assert roles == {"Reporting", "Issuer", "Filer", "Subject", "Filed by"}
    for e in entries:
        # The index link sits in the entry's own filer folder, under its accession.
        assert e.index_url == (
            f"https://www.sec.gov/Archives/edgar/data/{e.cik}/"
            f"{e.accession_number.replace('-', '')}/{e.accession_number}-index.htm"
        )
        assert e.accepted_at.utcoffset() == timedelta(hours=-5)


def test_first_real_entry_field_by_field() -> None:
    page = parse_feed(_page(0))
    assert page.title == "Latest Filings - Fri, 12 Dec 2025 18:03:57 EST"
    assert page.updated == datetime(2025, 12, 12, 18, 3, 57, tzinfo=ET)
    assert page.entries[0] == FeedEntry(
        accession_number="0002063236-25-000004",
        form_type="4",
        filed_date=date(2025, 12, 12),
        accepted_at=datetime(2025, 12, 12, 18, 2, 43, tzinfo=ET),
        cik=2063236,
        name="Perez Daniel Antonio",
        role="Reporting",
        index_url="https://www.sec.gov/Archives/edgar/data/2063236/000206323625000004/"
        "0002063236-25-000004-index.htm",
        size="10 KB",
    )


def test_names_with_parentheses_ampersands_and_apostrophes() -> None:
    names = {(e.cik, e.name) for page in REAL_PAGES for e in parse_feed(page.read_bytes()).entries}
    assert (1580575, "Baker Bros. Advisors (GP) LLC") in names
    assert (1187388, "GAPCO GMBH & CO KG") in names
    assert (1382617, "O'Shea Robert J") in names


def test_filed_date_is_not_always_the_acceptance_date() -> None:
    # A 424B2 accepted at 21:24 on the 11th is filed on the 12th: the summary's date is kept.
    entry = next(e for e in parse_feed(_page(2100)).entries
                 if e.accession_number == "0001213900-25-120890")
    assert (entry.filed_date, entry.accepted_at.date()) == (date(2025, 12, 12), date(2025, 12, 11))


@pytest.mark.parametrize(
    "body",
    [PAST_END.read_bytes(), RATE_THRESHOLD_PAGE, b"", b"<?xml version='1.0'?><rss/>"],
    ids=["503-page", "block-page", "empty", "not-atom"],
)
def test_what_is_not_a_feed_raises(body: bytes) -> None:
    with pytest.raises(FeedFormatError):
        parse_feed(body)


def test_a_malformed_entry_is_skipped_and_reported() -> None:
    raw = _page(0).decode("latin-1")
    entries = raw.split("<entry>")
    entries[1] = entries[1].replace("(0002063236) (Reporting)", "without a cik")  # title
    entries[2] = entries[2].replace("accession-number=0002063236-25-000004",
                                    "accession-number=0002063236-25-999999")  # id vs AccNo
    entries[3] = entries[3].replace("Filed:", "Flied:")
    entries[4] = entries[4].replace("2025-12-12T18:02:41-05:00", "yesterday")
    page = parse_feed("<entry>".join(entries).encode("latin-1"))
    assert [(b.position, b.reason.split(" ")[0]) for b in page.bad_entries] == [
        (0, "title"), (1, "id"), (2, "summary"), (3, "updated")]
    assert len(page.entries) == 96 and page.entry_count == 100


def test_entities_are_never_expanded() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&c;</title></feed>')
    page = parse_feed(bomb)
    assert page.entries == [] and len(page.title) < 100


def test_filings_merge_their_entries_and_keep_ownership_forms_only() -> None:
    entries = parse_feed(_page(0)).entries + parse_feed(_page(100)).entries
    filings = group_filings(entries)
    assert len({f.accession_number for f in filings}) == len(filings)
    assert {f.form_type for f in filings} <= OWNERSHIP_FORMS
    assert {e.form_type for e in entries} - OWNERSHIP_FORMS  # there were 424B2s to drop
    general_atlantic = next(f for f in filings if f.accession_number == "0000950142-25-003181")
    # eleven entries (an issuer and ten owners), split over the end of page 0 and page 1
    assert len(general_atlantic.filers) == 11
    entry = general_atlantic.index_entry()
    assert (entry.cik, entry.company_name) == (1832466, "Alignment Healthcare, Inc.")  # the issuer
    assert entry.path == "/Archives/edgar/data/1832466/0000950142-25-003181.txt"
    assert all(is_safe_entry(f.index_entry()) for f in filings)
    assert len(group_filings(entries, forms=None)) > len(filings)


def test_an_entry_pushed_onto_the_next_page_is_one_filing() -> None:
    # While EDGAR was paged, a filing accepted between two requests pushed the last entries of
    # page 4400 onto the top of page 4500: the same entries twice, one filing.
    first, second = parse_feed(_page(4400)).entries, parse_feed(_page(4500)).entries
    assert second[0] == first[-2]  # ROCKWELL AUTOMATION (Issuer), 0001669058-25-000005
    assert second[0].accepted_at > first[-1].accepted_at  # an older entry came first
    rockwell = [f for f in group_filings(first + second) if f.accession_number == "0001669058-25-000005"]
    assert len(rockwell) == 1 and {f.role for f in rockwell[0].filers} == {"Reporting", "Issuer"}


def test_feed_types_cover_every_ownership_form() -> None:
    assert FEED_TYPES == ("3", "4", "5")
    assert all(any(form.startswith(prefix) for prefix in FEED_TYPES) for form in OWNERSHIP_FORMS)
    assert feed_url("4", 200) == (
        "/cgi-bin/browse-edgar?action=getcurrent&type=4&owner=include&count=100&start=200&output=atom")


# --- the poller on EDGAR's recorded answers ------------------------------------------------------


class RecordedEdgar:
    """A fetcher answering with the 52 recorded pages of 12 Dec 2025 (type=4 only), and the
    recorded 503 past the end as EdgarClient reports it after its retries."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def get(self, url: str) -> bytes:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert query["type"] == ["4"] and query["count"] == ["100"]
        start = int(query["start"][0])
        self.asked.append(start)
        path = FEEDS / f"getcurrent-type4-start{start:04d}-http200.atom"
        if not path.exists():
            raise FetchFailed(url, 8, "HTTP 503")
        return path.read_bytes()


def _recorded_ownership() -> dict[str, datetime]:
    entries = [e for page in REAL_PAGES for e in parse_feed(page.read_bytes()).entries]
    return {f.accession_number: f.accepted_at for f in group_filings(entries)}


def test_nothing_known_reads_to_the_503_and_takes_it_for_the_end_when_it_repeats() -> None:
    edgar = RecordedEdgar()
    poller = FeedPoller(edgar, known=lambda accessions: (), types=("4",))
    first = poller.poll()
    assert edgar.asked == list(range(0, 5200, 100))  # 51 pages and the 503
    assert first.newest == datetime(2025, 12, 12, 18, 2, 43, tzinfo=ET)
    assert not first.complete and "start=5100" in first.errors[0]
    assert sorted(f.accession_number for f in first.filings) == sorted(_recorded_ownership())
    edgar.asked.clear()
    second = poller.poll()  # the same page fails again: it is the end, not an outage
    assert second.complete and second.filings == [] and edgar.asked[-1] == 5100
    edgar.asked.clear()
    third = poller.poll()  # now it has a floor: the newest entry less the overlap
    assert third.complete and edgar.asked == [0] and third.requests == 1


def test_first_poll_stops_the_overlap_below_the_newest_known_filing() -> None:
    recorded = _recorded_ownership()
    known_one = next(f for f in group_filings(parse_feed(_page(1000)).entries))
    edgar = RecordedEdgar()
    poller = FeedPoller(edgar, known=lambda accs: {a for a in accs if a == known_one.accession_number},
                        types=("4",), overlap=timedelta(minutes=3))
    result = poller.poll()
    floor = known_one.accepted_at - timedelta(minutes=3)
    last_page = parse_feed(_page(edgar.asked[-1])).entries
    assert result.complete and min(e.accepted_at for e in last_page) < floor
    before_last = parse_feed(_page(edgar.asked[-2])).entries
    assert min(e.accepted_at for e in before_last) >= floor  # no page more than needed
    returned = {f.accession_number for f in result.filings}
    assert known_one.accession_number not in returned
    newer = {a for a, t in recorded.items() if t > known_one.accepted_at}
    assert newer <= returned


# --- the poller against the stand-in -----------------------------------------------------------------

FAST = RetryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.02, jitter=0.0)


def _filings(count: int, start: datetime, *, agent: int = 9000001,
             step: timedelta = timedelta(seconds=20)) -> list[SiteFiling]:
    return [with_acceptance(f, start + n * step)
            for n, f in enumerate(ownership_day(DAY, count, agent=agent))]


def _form3() -> SiteFiling:
    raw = next(r for r in template_submissions() if SiteFiling.from_submission(r).form_type == "3")
    return with_acceptance(copy_as(raw, "0009000009-25-000001", DAY), NOON)


@pytest.fixture
def sec(tmp_path: Path) -> Iterator[EdgarStandin]:
    other = make_submission("0000950123-25-000001", "424B3", DAY, [Filer(1001, "A FUND TRUST", "filer")])
    site = build_site(tmp_path, _filings(10, NOON) + [_form3(), with_acceptance(other, NOON)])
    with EdgarStandin(tmp_path, site=site, max_rps=1000) as server:
        yield server


@pytest.fixture
def client(sec: EdgarStandin) -> Iterator[EdgarClient]:
    settings = EdgarSettings(user_agent=USER_AGENT, base_url=sec.base_url, data_url=sec.data_url)
    with EdgarClient(settings, RateLimiter(10), retry=FAST) as edgar_client:
        yield edgar_client


class Store:
    """What the caller has (the database, in watch): accessions queued so far."""

    def __init__(self) -> None:
        self.queued: list[str] = []

    def known(self, accessions: list[str]) -> set[str]:
        return set(accessions) & set(self.queued)

    def take(self, poller: FeedPoller) -> list[str]:
        result = poller.poll()
        new = [f.accession_number for f in result.filings]
        self.queued += new
        return new


def _ownership(sec: EdgarStandin) -> set[str]:
    return {f.accession for f in sec.site.filings if f.is_ownership}


def test_first_poll_takes_the_feed_then_only_what_is_new(sec: EdgarStandin, client: EdgarClient) -> None:
    store = Store()
    poller = FeedPoller(client, store.known)
    assert sorted(store.take(poller)) == sorted(_ownership(sec))
    sec.clear_log()
    assert store.take(poller) == []
    assert [re.search(r"type=(\d)", r.query).group(1) for r in sec.requests] == ["3", "4", "5"]


def test_more_than_a_page_between_polls_is_all_caught(sec: EdgarStandin, client: EdgarClient) -> None:
    store = Store()
    poller = FeedPoller(client, store.known)
    store.take(poller)
    burst = _filings(150, NOON + timedelta(hours=1), agent=9000002, step=timedelta(seconds=1))
    for filing in burst:
        sec.publish(filing)
    sec.clear_log()
    new = store.take(poller)
    assert sorted(new) == sorted(f.accession for f in burst)
    pages = [r for r in sec.requests if "type=4" in r.query]
    assert len(pages) >= 3  # > 200 entries of Forms 4: paged back
    assert len(store.queued) == len(set(store.queued))


def test_a_late_entry_within_the_overlap_is_caught(sec: EdgarStandin, client: EdgarClient) -> None:
    store = Store()
    poller = FeedPoller(client, store.known, overlap=timedelta(minutes=3))
    store.take(poller)
    newest = max(f.accepted_at for f in sec.site.filings)
    late = _filings(1, newest - timedelta(minutes=2), agent=9000003)[0]  # accepted before the top
    sec.publish(late)
    assert store.take(poller) == [late.accession]


def test_repeated_reordered_and_dropped_entries_lose_nothing(
    sec: EdgarStandin, client: EdgarClient
) -> None:
    store = Store()
    poller = FeedPoller(client, store.known)
    store.take(poller)
    batch = _filings(6, NOON + timedelta(hours=2), agent=9000004)
    for filing in batch:
        sec.publish(filing)
    dropped, repeated, reordered = batch[5].accession, batch[3].accession, batch[1].accession
    sec.feed.quirk(QuirkKind.DROP, dropped)
    sec.feed.quirk(QuirkKind.REPEAT, repeated)
    sec.feed.quirk(QuirkKind.REORDER, reordered)
    first = store.take(poller)
    assert dropped not in first and first.count(repeated) == 1 and reordered in first
    assert store.take(poller) == [dropped]  # back in the next response, above the floor
    assert sorted(store.queued) == sorted(_ownership(sec))


def test_a_page_briefly_down_loses_nothing(sec: EdgarStandin, client: EdgarClient) -> None:
    store = Store()
    poller = FeedPoller(client, store.known)
    store.take(poller)
    burst = _filings(150, NOON + timedelta(hours=3), agent=9000005, step=timedelta(seconds=1))
    for filing in burst:
        sec.publish(filing)
    # Page 2 of the Form 4 feed fails more often than the client retries: this poll stops there.
    sec.faults.add(f"{FEED_PATH}?*type=4*start=100*", FaultKind.HTTP_503, times=FAST.max_attempts)
    first = poller.poll()
    assert not first.complete and "start=100" in first.errors[0]
    store.queued += [f.accession_number for f in first.filings]
    second = store.take(poller)
    assert sorted(store.queued) == sorted(_ownership(sec))
    assert not set(second) & {f.accession_number for f in first.filings}


def test_503_past_the_last_page(tmp_path: Path) -> None:
    filings = _filings(60, NOON)
    with EdgarStandin(tmp_path, site=build_site(tmp_path, filings), max_rps=1000, feed_limit=100) as sec:
        settings = EdgarSettings(user_agent=USER_AGENT, base_url=sec.base_url, data_url=sec.data_url)
        with EdgarClient(settings, RateLimiter(10), retry=FAST) as client:
            poller = FeedPoller(client, known=lambda accessions: (), types=("4",))
            first = poller.poll()  # 100 entries exactly, then 503: the end, or an outage?
            assert not first.complete and first.requests == 2
            assert poller.poll().complete  # the same page again: the end
            sec.clear_log()
            third = poller.poll()
            assert third.complete and third.requests == 1 and third.filings == []
            assert {r.status for r in sec.requests} == {200}


def test_queue_rows_fetch_the_filing(sec: EdgarStandin, client: EdgarClient) -> None:
    result = FeedPoller(client, known=lambda accessions: ()).poll()
    assert result.entries and all(is_safe_entry(e) for e in result.entries)
    assert all(e.form_type in OWNERSHIP_FORMS for e in result.entries)
    for entry in result.entries[:3]:
        assert client.get(entry.path) == next(
            f.content for f in sec.site.filings if f.accession == entry.accession_number)


def test_known_filings_are_not_returned(sec: EdgarStandin, client: EdgarClient) -> None:
    owned = sorted(_ownership(sec))
    result = FeedPoller(client, known=lambda accs: set(accs) & set(owned[:4])).poll()
    assert sorted(f.accession_number for f in result.filings) == owned[4:]


def test_an_empty_feed_is_an_end_too(sec: EdgarStandin, client: EdgarClient) -> None:
    # EDGAR answers 503 past the last page; with nothing to list that is start=0.
    poller = FeedPoller(client, known=lambda accessions: (), types=("5/A",))
    assert not poller.poll().complete
    sec.clear_log()
    second = poller.poll()
    assert second.complete and second.filings == []
    assert [r.status for r in sec.requests] == [503] * FAST.max_attempts  # the client's retries
    assert poller.poll().complete  # and stays so while the feed is empty


def test_a_refused_user_agent_stops_the_poll(tmp_path: Path) -> None:
    with EdgarStandin(tmp_path, accept_user_agent=lambda ua: False) as sec:
        settings = EdgarSettings(user_agent=USER_AGENT, base_url=sec.base_url, data_url=sec.data_url)
        with EdgarClient(settings, RateLimiter(10), retry=FAST) as client:
            with pytest.raises(EdgarAccessDenied):
                FeedPoller(client, known=lambda accessions: ()).poll()


def test_max_pages_bounds_one_poll(sec: EdgarStandin, client: EdgarClient) -> None:
    for filing in _filings(150, NOON + timedelta(hours=4), agent=9000006, step=timedelta(seconds=1)):
        sec.publish(filing)
    result = FeedPoller(client, known=lambda accessions: (), types=("4",), max_pages=1).poll()
    assert result.complete and result.pages == {"4": 1} and result.requests == 1


def test_feed_poller_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        FeedPoller(RecordedEdgar(), known=lambda a: (), max_pages=0)
    assert dataclasses.is_dataclass(FeedEntry)
