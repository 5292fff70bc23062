"""The stand-in's latest-filings feed: EDGAR's exact layout, paging, 503 past the end, quirks,
and publishing while clients read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from lxml import etree

from ingest.parse import parse_file
from tests.edgar_standin import (
    EdgarStandin,
    FaultKind,
    Filer,
    Site,
    SiteFiling,
    build_site,
    feed_rows,
    make_submission,
)
from tests.sitegen import ownership_day, with_acceptance
from tests.standin_feed import (
    EASTERN,
    FEED_PATH,
    PAST_END_PAGE,
    FeedRow,
    QuirkKind,
    atom_feed,
    feed_size,
)

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
REAL_PAGES = sorted(FEEDS.glob("*-http200.atom"))
UA = {"User-Agent": "Edgar Insider Tests tests@example.org", "Accept-Encoding": "identity"}
ATOM = "{http://www.w3.org/2005/Atom}"
DAY = date(2025, 12, 12)  # the Friday of the real capture
NOON = datetime(2025, 12, 12, 12, 0, tzinfo=EASTERN)


def _feed_url(sec: EdgarStandin, *, type_: str = "4", start: int = 0, count: int = 100,
              owner: str = "include") -> str:
    return (f"{sec.base_url}{FEED_PATH}?action=getcurrent&type={type_}&owner={owner}"
            f"&count={count}&start={start}&output=atom")


def _get(url: str) -> requests.Response:
    return requests.get(url, headers=UA, timeout=10)


def _accessions(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    return [e.findtext(f"{ATOM}id").rsplit("=", 1)[1] for e in root.iterfind(f"{ATOM}entry")]


def _day_filings(
    count: int, start: datetime = NOON, step: timedelta = timedelta(seconds=30)
) -> list[SiteFiling]:
    """``count`` ownership filings on DAY, accepted ``step`` apart from ``start``."""
    return [with_acceptance(f, start + n * step) for n, f in enumerate(ownership_day(DAY, count))]


@pytest.fixture
def sec(tmp_path: Path) -> Iterator[EdgarStandin]:
    others = [
        make_submission("0000950123-25-000001", "424B3", DAY, [Filer(1001, "SOME FUND TRUST", "filer")]),
        make_submission("0000950123-25-000002", "10-K", DAY, [Filer(1002, "SOME COMPANY INC", "filer")]),
    ]
    filings = _day_filings(30) + [with_acceptance(f, NOON) for f in others]
    site = build_site(tmp_path, filings)
    with EdgarStandin(tmp_path, site=site, max_rps=1000) as server:
        yield server


# --- the layout: every real page, byte for byte --------------------------------------------------


def _rows_of_real_page(raw: bytes) -> tuple[list[FeedRow], datetime]:
    """Read a real page with lxml alone (not the project's parser) into FeedRows."""
    root = etree.fromstring(raw)
    rows = []
    for entry in root.iterfind(f"{ATOM}entry"):
        title = entry.findtext(f"{ATOM}title")
        head, role = title[:-1].rsplit(" (", 1)
        head, cik = head[:-1].rsplit(" (", 1)
        form, name = head.split(" - ", 1)
        summary = entry.findtext(f"{ATOM}summary").split()
        rows.append(FeedRow(
            form_type=entry.find(f"{ATOM}category").get("term"),
            name=name,
            cik=int(cik),
            role=role,
            accession=summary[summary.index("<b>AccNo:</b>") + 1],
            filed=date.fromisoformat(summary[summary.index("<b>Filed:</b>") + 1]),
            accepted=datetime.fromisoformat(entry.findtext(f"{ATOM}updated")),
            size=" ".join(summary[-2:]),
        ))
        assert form == rows[-1].form_type
    return rows, datetime.fromisoformat(root.findtext(f"{ATOM}updated"))


@pytest.mark.parametrize("page", REAL_PAGES, ids=lambda p: p.name[11:27])
def test_every_real_page_renders_back_byte_for_byte(page: Path) -> None:
    raw = page.read_bytes()
    rows, updated = _rows_of_real_page(raw)
    assert len(rows) == 100
    assert atom_feed(rows, updated) == raw


def test_real_pages_follow_the_stand_in_order() -> None:
    # Newest first, then CIK descending, then accession descending: the order the stand-in
    # serves. It holds within every real page; across pages, a filing accepted while EDGAR was
    # paged pushed the last entries of a page onto the next one (tests/test_feed.py).
    for page in REAL_PAGES:
        rows, _ = _rows_of_real_page(page.read_bytes())
        keys = [r.order for r in rows]
        assert all(a >= b for a, b in zip(keys, keys[1:], strict=False)), page.name


def test_feed_size_like_the_real_summaries() -> None:
    assert [feed_size(n) for n in (300, 10 * 1024, 980 * 1024 + 100, 1024 * 1024, 9 * 1024**2 + 5)] == [
        "1 KB", "10 KB", "980 KB", "1 MB", "9 MB"]


# --- the endpoint --------------------------------------------------------------------------------


def test_served_page_is_a_real_looking_page(sec: EdgarStandin) -> None:
    response = _get(_feed_url(sec))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml"
    assert response.headers["Cache-Control"] == "no-cache"
    real_root = etree.fromstring(REAL_PAGES[0].read_bytes())
    root = etree.fromstring(response.content)
    assert response.content.startswith(b'<?xml version="1.0" encoding="ISO-8859-1" ?>\n')
    assert [c.tag for c in root if c.tag != f"{ATOM}entry"] == [
        c.tag for c in real_root if c.tag != f"{ATOM}entry"]
    real_entry = real_root.find(f"{ATOM}entry")
    for entry in root.iterfind(f"{ATOM}entry"):
        assert [(c.tag, sorted(c.attrib)) for c in entry] == [
            (c.tag, sorted(c.attrib)) for c in real_entry]


def test_one_entry_per_filer_newest_first(sec: EdgarStandin) -> None:
    rows = sec.feed.rows()
    filings = {f.accession: f for f in sec.site.filings}
    assert len(rows) == sum(len({fl.cik for fl in f.filers}) for f in filings.values())
    assert [r.order for r in rows] == sorted((r.order for r in rows), reverse=True)
    newest = max(sec.site.filings, key=lambda f: f.accepted)
    first = etree.fromstring(_get(_feed_url(sec, count=1)).content).find(f"{ATOM}entry")
    assert first.findtext(f"{ATOM}id").endswith(newest.accession)
    assert first.findtext(f"{ATOM}updated") == newest.accepted_at.isoformat()


def test_paging_and_503_past_the_end(sec: EdgarStandin) -> None:
    total = len([r for r in sec.feed.rows() if r.form_type.startswith("4")])
    pages = [_get(_feed_url(sec, count=20, start=start)) for start in range(0, total + 20, 20)]
    assert [p.status_code for p in pages[:-1]] == [200] * (len(pages) - 1)
    served = [acc for page in pages[:-1] for acc in _accessions(page.content)]
    assert len(served) == total
    past = pages[-1]
    assert past.status_code == 503 and past.content == PAST_END_PAGE
    assert past.headers["Content-Type"] == "text/html" and "Retry-After" not in past.headers
    assert past.headers["Connection"] == "close"
    assert ["&start=0&" in sec.requests[0].query, "&start=20&" in sec.requests[1].query] == [True, True]


def test_type_is_a_prefix_and_owner_selects(sec: EdgarStandin) -> None:
    def forms(**kw: object) -> set[str]:
        root = etree.fromstring(_get(_feed_url(sec, **kw)).content)  # type: ignore[arg-type]
        return {e.find(f"{ATOM}category").get("term") for e in root.iterfind(f"{ATOM}entry")}

    four = forms(type_="4")
    assert "424B3" in four and "10-K" not in four and four - {"424B3"} <= {"4", "4/A"}
    assert forms(type_="4", owner="exclude") == {"424B3"}
    assert "424B3" not in forms(type_="4", owner="only")
    assert forms(type_="10") == {"10-K"}


def test_other_browse_edgar_pages_are_not_served(sec: EdgarStandin) -> None:
    assert _get(f"{sec.base_url}{FEED_PATH}?action=getcompany&CIK=320193").status_code == 404
    assert _get(f"{sec.base_url}{FEED_PATH}?action=getcurrent&type=4").status_code == 404  # HTML


def test_count_is_capped_at_100(tmp_path: Path) -> None:
    filings = _day_filings(60)  # 120+ entries
    with EdgarStandin(tmp_path, site=build_site(tmp_path, filings), max_rps=1000) as sec:
        assert len(_accessions(_get(_feed_url(sec, count=500)).content)) == 100


def test_feed_limit_ends_the_feed_early(tmp_path: Path) -> None:
    filings = _day_filings(30)
    with EdgarStandin(tmp_path, site=build_site(tmp_path, filings), feed_limit=25, max_rps=1000) as sec:
        assert len(_accessions(_get(_feed_url(sec, count=100)).content)) == 25
        assert _get(_feed_url(sec, count=25, start=25)).status_code == 503


def test_faults_can_target_one_page(sec: EdgarStandin) -> None:
    sec.faults.add(f"{FEED_PATH}?*&start=20&*", FaultKind.HTTP_503)
    assert _get(_feed_url(sec, count=20, start=0)).status_code == 200
    assert _get(_feed_url(sec, count=20, start=20)).status_code == 503
    assert _get(_feed_url(sec, count=20, start=20)).status_code == 200  # once


# --- quirks ----------------------------------------------------------------------------------------


def test_quirk_drop_repeat_reorder(sec: EdgarStandin) -> None:
    order = list(dict.fromkeys(_accessions(_get(_feed_url(sec)).content)))
    first, second, third = order[:3]
    sec.feed.quirk(QuirkKind.DROP, second)
    assert second not in _accessions(_get(_feed_url(sec)).content)
    assert second in _accessions(_get(_feed_url(sec)).content)  # times=1: back again
    sec.feed.quirk(QuirkKind.REPEAT, first)
    listed = _accessions(_get(_feed_url(sec)).content)
    assert listed.count(first) == 2 * len(sec.site.filing(first).filers)
    sec.feed.quirk(QuirkKind.REORDER, first)
    listed = list(dict.fromkeys(_accessions(_get(_feed_url(sec)).content)))
    assert listed[:3] == [second, first, third]


def test_quirk_waits_for_the_page_that_holds_the_filing(sec: EdgarStandin) -> None:
    deep = list(dict.fromkeys(_accessions(_get(_feed_url(sec, count=100)).content)))[-1]
    sec.feed.quirk(QuirkKind.DROP, deep)
    assert deep not in _accessions(_get(_feed_url(sec, count=5)).content)  # not on this page
    assert deep not in _accessions(_get(_feed_url(sec, count=100)).content)  # dropped here
    assert deep in _accessions(_get(_feed_url(sec, count=100)).content)  # and only here


# --- publishing --------------------------------------------------------------------------------------


def test_publish_adds_archive_index_rows_and_feed_entries(sec: EdgarStandin) -> None:
    day_index = Site.daily_paths(DAY)[1]
    before = _get(sec.base_url + day_index).text
    new = with_acceptance(ownership_day(DAY, 1, agent=9000042)[0], NOON + timedelta(hours=5))
    sec.publish(new)
    assert _accessions(_get(_feed_url(sec, type_=new.form_type[0], count=10)).content)[0] == new.accession
    for path in sec.site.paths_for(new.accession):
        assert _get(sec.base_url + path).content == new.content
    after = _get(sec.base_url + day_index).text
    assert new.accession not in before and after.count(new.accession) == len(
        {fl.cik for fl in new.filers})
    assert after.count("\n") > before.count("\n")
    with pytest.raises(ValueError, match="duplicate"):
        sec.publish(new)
    # The submission itself says when it was accepted, as the feed does (the loader reads it).
    header = parse_file(new.content, f"{new.accession}.txt").header
    assert header is not None and header.accepted_at == NOON + timedelta(hours=5)


def test_publish_late_goes_where_its_acceptance_time_says(sec: EdgarStandin) -> None:
    late = with_acceptance(ownership_day(DAY, 1, agent=9000043)[0], NOON + timedelta(seconds=45))
    sec.publish(late, daily_index=False)
    order = list(dict.fromkeys(_accessions(_get(_feed_url(sec, type_="")).content)))
    by_time = {f.accepted: f.accession for f in sec.site.filings}
    earlier, later = by_time["20251212120030"], by_time["20251212120100"]
    assert order.index(later) + 1 == order.index(late.accession) == order.index(earlier) - 1
    assert late.accession not in _get(sec.base_url + Site.daily_paths(DAY)[1]).text


def test_publishing_while_a_client_pages(tmp_path: Path) -> None:
    filings = _day_filings(120, step=timedelta(seconds=1))
    site = build_site(tmp_path, filings[:20])
    with EdgarStandin(tmp_path, site=site, max_rps=10_000) as sec:
        done = threading.Event()
        bodies: list[bytes] = []

        def read() -> None:
            with requests.Session() as session:
                while not done.is_set():
                    for start in (0, 100):
                        r = session.get(_feed_url(sec, start=start), headers=UA, timeout=10)
                        if r.status_code == 200:
                            bodies.append(r.content)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for filing in filings[20:]:
                sec.publish(filing)
        finally:
            done.set()
            reader.join()
        assert bodies and all(etree.fromstring(b).tag == f"{ATOM}feed" for b in bodies)
        listed: set[str] = set()
        start = 0
        while (page := _get(_feed_url(sec, type_="", start=start))).status_code == 200:
            listed |= set(_accessions(page.content))
            start += 100
        assert listed == {f.accession for f in filings}
        assert len(feed_rows(filings[0])) == len({fl.cik for fl in filings[0].filers})
