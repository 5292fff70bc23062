# ruff: noqa: E501  (the REAL_* excerpts are verbatim EDGAR lines, up to 150 characters)
"""The local EDGAR stand-in: layout, index formats, SEC rules, fault injection, request log."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import time
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests

from tests.edgar_standin import (
    NOT_FOUND_PAGE,
    RATE_THRESHOLD_PAGE,
    UNDECLARED_TOOL_PAGE,
    EdgarStandin,
    FaultKind,
    Filer,
    IndexRow,
    ManualClock,
    Site,
    SiteFiling,
    build_site,
    daily_form_idx,
    daily_master_idx,
    full_form_idx,
    full_master_idx,
    make_submission,
    max_in_window,
)

FIXTURES = Path(__file__).parent / "fixtures" / "submissions"
UA = {"User-Agent": "Edgar Insider Tests tests@example.org", "Accept-Encoding": "identity"}

# Verbatim excerpts of real EDGAR indexes (shared corpus: form.20200318.idx, master.20200103.idx,
# full-index.2023qtr3.master.gz, edgartools-badform.2021qtr1.form.idx).
REAL_DAILY_FORM = (
    "Description:           Daily Index of EDGAR Dissemination Feed by Form Type\n"
    "Last Data Received:    Mar 18, 2020\n"
    "Comments:              webmaster@sec.gov\n"
    "Anonymous FTP:         ftp://ftp.sec.gov/edgar/\n"
    " \n"
    " \n"
    " \n"
    " \n"
    "Form Type   Company Name                                                  CIK         Date Filed  File Name\n"
    "---------------------------------------------------------------------------------------------------------------------------------------------\n"
    "10-K        89bio, Inc.                                                   1785173     20200318    edgar/data/1785173/0001564590-20-011636.txt         \n"
    "497         Eaton Vance Tax-Advantaged Global Dividend Opportunities Fun  1281926     20200318    edgar/data/1281926/0000940394-20-000572.txt         \n"
    "8-K         89bio, Inc.                                                   1785173     20200318    edgar/data/1785173/0001193125-20-077146.txt         \n"
)
REAL_DAILY_MASTER = (
    "Description:           Daily Index of EDGAR Dissemination Feed\n"
    "Last Data Received:    Jan  3, 2020\n"
    "Comments:              webmaster@sec.gov\n"
    "Anonymous FTP:         ftp://ftp.sec.gov/edgar/\n"
    " \n"
    "CIK|Company Name|Form Type|Date Filed|File Name\n"
    "--------------------------------------------------------------------------------\n"
    "1000229|CORE LABORATORIES N V|4|20200103|edgar/data/1000229/0001209191-20-000788.txt\n"
    "1282547|DEMSHUR DAVID M|4|20200103|edgar/data/1282547/0001209191-20-000788.txt\n"
)
REAL_FULL_MASTER = (
    "Description:           Master Index of EDGAR Dissemination Feed\n"
    "Last Data Received:    August  8, 2023\n"
    "Comments:              webmaster@sec.gov\n"
    "Anonymous FTP:         ftp://ftp.sec.gov/edgar/\n"
    "Cloud HTTP:            https://www.sec.gov/Archives/\n"
    "\n"
    " \n"
    " \n"
    " \n"
    "CIK|Company Name|Form Type|Date Filed|Filename\n"
    "--------------------------------------------------------------------------------\n"
    "1002047|NetApp, Inc.|4/A|2023-07-25|edgar/data/1002047/0001209191-23-043292.txt\n"
    "1707662|Parks Robert|4/A|2023-07-25|edgar/data/1707662/0001209191-23-043292.txt\n"
)
REAL_FULL_FORM = (
    "Description:           Master Index of EDGAR Dissemination Feed by Form Type\n"
    "Last Data Received:    March 31, 2021\n"
    "Comments:              webmaster@sec.gov\n"
    "Anonymous FTP:         ftp://ftp.sec.gov/edgar/\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "Form Type   Company Name                                                  CIK         Date Filed  File Name\n"
    "---------------------------------------------------------------------------------------------------------------------------------------------\n"
    "1-A         A-Game Beverages, Inc.                                        1838675     2021-02-05  edgar/data/1838675/0001213900-21-007106.txt\n"
    "1-A         AFR Inc.                                                      1831099     2021-03-03  edgar/data/1831099/0001831099-21-000001.txt\n"
)

# A Form 4 with eight reporting owners and its issuer: nine index rows, nine CIK folders.
MULTI_OWNER = "0000895345-23-000388"
TWO_OWNERS = "0001012975-17-000759"
FORM3 = "0001209191-20-054135"
DAY = date(2023, 6, 14)  # a Wednesday


def _fixture(prefix: str) -> bytes:
    return next(FIXTURES.glob(f"{prefix}*.txt")).read_bytes()


def _site_filings() -> list[SiteFiling]:
    multi = SiteFiling.from_submission(_fixture(MULTI_OWNER))
    two = SiteFiling.from_submission(_fixture(TWO_OWNERS), filed=DAY)
    form3 = SiteFiling.from_submission(_fixture(FORM3))
    issuer = Filer(1735707, "Garrett Motion Inc.", "filer")
    others = [
        make_submission("0001735707-23-000050", "10-K", DAY, [issuer]),
        make_submission("0001735707-23-000051", "8-K", DAY, [issuer]),
        make_submission(
            "0000950123-23-006001",
            "SC 13G",
            DAY,
            [
                Filer(1735707, "Garrett Motion Inc.", "subject-company"),
                Filer(1425800, "Aronson Jeffrey", "filed-by"),
            ],
        ),
    ]
    return [multi, two, form3, *others]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("edgar"), _site_filings(), recent_limit=2, page_size=1)


@pytest.fixture
def sec(site: Site) -> Iterator[EdgarStandin]:
    # Limit far above what these tests send, except where a test lowers it.
    with EdgarStandin(site.root, max_rps=1000) as server:
        yield server


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers={**UA, **headers}, timeout=10)


# --- index formats ---------------------------------------------------------------------------


def _rows_of(text: str, sep: str | None) -> list[IndexRow]:
    rows = []
    for line in text.splitlines()[10 if sep is None else 0 :]:
        if sep is None:
            form, company, cik = line[:12].rstrip(), line[12:74].rstrip(), line[74:86].rstrip()
            filed, path = line[86:98].rstrip(), line[98:].rstrip()
        elif line.count("|") == 4 and line[0].isdigit():
            cik, company, form, filed, path = line.split("|")
        else:
            continue
        day = (
            date.fromisoformat(filed)
            if "-" in filed
            else date(int(filed[:4]), int(filed[4:6]), int(filed[6:]))
        )
        rows.append(IndexRow(int(cik), company, form, day, path))
    return rows


def test_daily_form_idx_matches_edgar_byte_for_byte() -> None:
    rows = _rows_of(REAL_DAILY_FORM, None)
    rows[1] = IndexRow(
        1281926,
        "Eaton Vance Tax-Advantaged Global Dividend Opportunities Fund",
        "497",
        date(2020, 3, 18),
        rows[1].path,
    )  # EDGAR cuts it to 60 chars
    assert daily_form_idx(date(2020, 3, 18), reversed(rows)).decode() == REAL_DAILY_FORM


def test_daily_master_idx_matches_edgar_byte_for_byte() -> None:
    rows = _rows_of(REAL_DAILY_MASTER, "|")
    assert daily_master_idx(date(2020, 1, 3), reversed(rows)).decode() == REAL_DAILY_MASTER


def test_full_index_files_match_edgar_byte_for_byte() -> None:
    master_rows = _rows_of(REAL_FULL_MASTER, "|")
    assert full_master_idx(date(2023, 8, 8), master_rows).decode() == REAL_FULL_MASTER
    form_rows = _rows_of(REAL_FULL_FORM, None)
    assert full_form_idx(date(2021, 3, 31), form_rows).decode() == REAL_FULL_FORM


# --- site layout -----------------------------------------------------------------------------


def test_header_parsing_reads_every_filer() -> None:
    multi = SiteFiling.from_submission(_fixture(MULTI_OWNER))
    assert (multi.accession, multi.form_type, multi.filed) == (MULTI_OWNER, "4", DAY)
    assert [f.role for f in multi.filers].count("reporting-owner") == 8
    assert multi.filers[-1] == Filer(1735707, "Garrett Motion Inc.", "issuer")
    assert multi.accepted == "20230614165502" and multi.act == "34"


def test_full_submission_is_served_under_every_filer(site: Site, sec: EdgarStandin) -> None:
    filing = site.filing(MULTI_OWNER)
    paths = site.paths_for(MULTI_OWNER)
    assert len(paths) == 9 == len({f.cik for f in filing.filers})
    for path in paths:
        assert _get(sec.base_url + path).content == filing.content
    folder = filing.folder_path(1735707)
    assert _get(f"{sec.base_url}{folder}/{MULTI_OWNER}.txt").content == filing.content
    listing = _get(f"{sec.base_url}{folder}/index.json").json()
    names = [item["name"] for item in listing["directory"]["item"]]
    assert names == [f"{MULTI_OWNER}.txt", "form4.xml"]
    xml = _get(f"{sec.base_url}{folder}/form4.xml").content
    assert xml.startswith(b"<?xml") and xml.rstrip().endswith(b"</ownershipDocument>")


def test_indexes_list_each_filing_once_per_filer(site: Site, sec: EdgarStandin) -> None:
    form_path, master_path = Site.daily_paths(DAY)
    full_form, full_master = Site.full_paths(2023, 2)
    for path, sep in ((form_path, None), (master_path, "|"), (full_form, None), (full_master, "|")):
        text = _get(sec.base_url + path).text
        rows = _rows_of(text, sep)
        multi = [r for r in rows if r.path.endswith(f"/{MULTI_OWNER}.txt")]
        assert sorted(r.cik for r in multi) == sorted(f.cik for f in site.filing(MULTI_OWNER).filers)
        assert all(r.path == f"edgar/data/{r.cik}/{MULTI_OWNER}.txt" for r in multi)
        assert len(rows) == len(set(rows)), "a filer must not be listed twice"
        forms = {r.form_type for r in rows}
        assert {"4", "10-K", "8-K", "SC 13G"} <= forms
    gz = _get(sec.base_url + full_master[:-4] + ".gz")
    assert gz.headers["Content-Type"] == "application/x-gzip"
    assert gzip.decompress(gz.content).decode() == _get(sec.base_url + full_master).text


def test_non_ownership_documents_exist(site: Site, sec: EdgarStandin) -> None:
    others = site.other_paths()
    assert len(others) == 4  # 10-K, 8-K, and the SC 13G under subject company and filer
    for path in others:
        assert _get(sec.base_url + path).status_code == 200
    assert not set(others) & set(site.ownership_paths())


def test_submissions_json_and_paging(site: Site, sec: EdgarStandin) -> None:
    # recent_limit=2, page_size=1: the issuer's 4 filings on 2023-06-14 → 2 recent + 2 pages.
    doc = _get(sec.data_url + Site.submissions_path(1735707)).json()
    recent = doc["filings"]["recent"]
    assert doc["cik"] == "1735707" and doc["insiderTransactionForIssuerExists"] == 1
    assert len({len(column) for column in recent.values()}) == 1
    assert len(recent["accessionNumber"]) == 2
    files = doc["filings"]["files"]
    assert [f["name"] for f in files] == [
        "CIK0001735707-submissions-001.json",
        "CIK0001735707-submissions-002.json",
    ]
    older = [_get(f"{sec.data_url}/submissions/{f['name']}").json() for f in files]
    accessions = recent["accessionNumber"] + [a for page in older for a in page["accessionNumber"]]
    assert sorted(accessions) == sorted(
        [MULTI_OWNER, "0001735707-23-000050", "0001735707-23-000051", "0000950123-23-006001"]
    )
    owner = _get(sec.data_url + Site.submissions_path(1425800)).json()
    i = owner["filings"]["recent"]["accessionNumber"].index(MULTI_OWNER)
    assert owner["insiderTransactionForOwnerExists"] == 1
    assert owner["filings"]["recent"]["primaryDocument"][i] == "xslF345X04/form4.xml"
    assert owner["filings"]["recent"]["acceptanceDateTime"][i] == "2023-06-14T16:55:02.000Z"


def test_each_host_serves_only_its_own_tree(site: Site, sec: EdgarStandin) -> None:
    assert _get(sec.base_url + Site.submissions_path(1735707)).status_code == 404
    wrong = _get(sec.data_url + site.archive_paths[0])
    assert wrong.status_code == 404 and b"NoSuchKey" in wrong.content
    assert _get(sec.base_url + "/Archives/../../etc/passwd").status_code == 404


def test_days_without_filings_have_no_daily_index(site: Site, sec: EdgarStandin) -> None:
    saturday = date(2023, 6, 17)
    form_path, _ = Site.daily_paths(saturday)
    missing = _get(sec.base_url + form_path)
    assert missing.status_code == 404 and missing.content == NOT_FOUND_PAGE
    sec.forbid(form_path)  # SEC answers 403 for some of them
    assert _get(sec.base_url + form_path).status_code == 403
    with pytest.raises(ValueError, match="no filings on Saturday"):
        build_site(
            site.root / "x",
            [make_submission("0000000001-23-000001", "4", saturday, [Filer(1, "X", "issuer")])],
        )


# --- SEC rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["", "python-requests/2.32", "Jane Analyst"])
def test_user_agent_without_contact_email_gets_403(site: Site, sec: EdgarStandin, agent: str) -> None:
    for url in (sec.base_url + site.archive_paths[0], sec.data_url + Site.submissions_path(1735707)):
        response = requests.get(url, headers={"User-Agent": agent}, timeout=10)
        assert response.status_code == 403
        assert b"Undeclared Automated Tool" in response.content
        assert response.content == UNDECLARED_TOOL_PAGE
    assert [r.user_agent for r in sec.requests] == [agent, agent]


def test_custom_user_agent_policy(site: Site) -> None:
    with EdgarStandin(site.root, accept_user_agent=lambda ua: "example.com" not in ua) as sec:
        url = sec.base_url + site.archive_paths[0]
        assert _get(url).status_code == 200
        assert _get(url, **{"User-Agent": "Jane jane@example.com"}).status_code == 403


# SEC's rules are about when requests arrive. These tests set each arrival time on a
# ManualClock (binary fractions of a second, so the sums are exact) instead of sleeping:
# whatever the machine's load, the stand-in sees exactly these times.


def test_over_the_limit_gets_429_without_retry_after(site: Site) -> None:
    clock = ManualClock()
    with EdgarStandin(site.root, max_rps=3, clock=clock) as sec:
        url = sec.base_url + site.archive_paths[0]
        with requests.Session() as session:
            responses = [session.get(url, headers=UA, timeout=10) for _ in range(5)]  # one instant
            assert [r.status_code for r in responses] == [200, 200, 200, 429, 429]
            assert "Retry-After" not in responses[3].headers
            assert sec.max_requests_in_any_window(1.0) == 5
            clock.advance(0.75)  # the same second: still over (six in it, refused ones count)
            assert session.get(url, headers=UA, timeout=10).status_code == 429
            clock.advance(0.25)  # one second after the first five: they left the window
            assert session.get(url, headers=UA, timeout=10).status_code == 200
        assert [r.t - 1000.0 for r in sec.requests] == [0.0] * 5 + [0.75, 1.0]


def test_block_mode_refuses_and_is_extended_by_requests(site: Site) -> None:
    # A block longer than the 1-s window, so the block (not the window) is what refuses.
    clock = ManualClock()
    with EdgarStandin(site.root, max_rps=3, block_seconds=1.5, limit_status=403, clock=clock) as sec:
        url = sec.base_url + site.archive_paths[0]
        with requests.Session() as session:

            def status() -> int:
                return session.get(url, headers=UA, timeout=10).status_code

            assert [status() for _ in range(4)] == [200, 200, 200, 403]
            assert sec.blocked_until == clock() + 1.5
            clock.advance(1.25)  # window empty again, block still on: refused and extended
            blocked = session.get(url, headers=UA, timeout=10)
            assert blocked.status_code == 403 and blocked.content == RATE_THRESHOLD_PAGE
            assert sec.blocked_until == clock() + 1.5
            clock.advance(0.5)  # the first block would be over by now; the extension is not
            assert status() == 403
            clock.advance(1.5)  # the last extension is over
            assert status() == 200
            assert sec.blocked_until <= clock()


def test_gzip_when_asked(site: Site, sec: EdgarStandin) -> None:
    url = sec.base_url + site.archive_paths[0]
    content = site.filing(site.archive_paths[0].rsplit("/", 1)[1][:-4]).content
    zipped = requests.get(url, headers={**UA, "Accept-Encoding": "gzip, deflate"}, timeout=10)
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.content == content
    assert int(zipped.headers["Content-Length"]) < len(content)
    plain = _get(url)
    assert "Content-Encoding" not in plain.headers and plain.content == content
    assert [r.gzipped for r in sec.requests] == [True, False]


# --- request log -----------------------------------------------------------------------------


def test_max_in_window() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # [0, 1) holds 0, .5, .99
    assert max_in_window([0.0, 0.999, 1.0, 1.001, 1.5], 1.0) == 4
    assert max_in_window([5.0, 1.0, 1.2], 0.5) == 2


def test_request_log_records_every_request(site: Site) -> None:
    clock = ManualClock()
    with EdgarStandin(site.root, max_rps=1000, clock=clock) as sec:
        _get(sec.base_url + site.archive_paths[0])
        clock.advance(0.5)
        _get(sec.base_url + "/Archives/nope.txt")
        clock.advance(0.5)
        requests.get(sec.data_url + Site.submissions_path(1735707), timeout=10)
        log = sec.requests
        assert [(r.site, r.path, r.status, r.t) for r in log] == [
            ("www", site.archive_paths[0], 200, 1000.0),
            ("www", "/Archives/nope.txt", 404, 1000.5),
            ("data", Site.submissions_path(1735707), 403, 1001.0),
        ]
        assert log[0].user_agent == UA["User-Agent"] and log[0].body_bytes > 0
        assert sec.max_requests_in_any_window(1.0) == 2  # [t, t + 1 s) holds 1000.0 and 1000.5
        assert sec.max_requests_in_any_window(1.5) == 3
        assert sec.max_requests_in_any_window(1.0, site="data") == 1
        assert sec.paths(status=404) == ["/Archives/nope.txt"]
        sec.clear_log()
        assert sec.requests == []


# --- faults ----------------------------------------------------------------------------------


def _raw_get(sec: EdgarStandin, path: str, gzip_ok: bool = False) -> http.client.HTTPResponse:
    host, port = sec.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {**UA, "Accept-Encoding": "gzip" if gzip_ok else "identity"}
    conn.request("GET", path, headers=headers)
    return conn.getresponse()


@pytest.mark.parametrize(
    ("kind", "status", "marker"),
    [
        (FaultKind.HTTP_500, 500, b"Service Unavailable"),
        (FaultKind.HTTP_503, 503, b"Service Unavailable"),
        (FaultKind.BARE_429, 429, b"Request Rate Threshold Exceeded"),
        (FaultKind.THRESHOLD_403, 403, b"Request Rate Threshold Exceeded"),
    ],
)
def test_status_faults(site: Site, sec: EdgarStandin, kind: FaultKind, status: int, marker: bytes) -> None:
    path = site.archive_paths[0]
    sec.faults.add(path, kind)
    faulty = _get(sec.base_url + path)
    assert faulty.status_code == status and marker in faulty.content
    assert "Retry-After" not in faulty.headers
    assert _get(sec.base_url + path).status_code == 200  # times=1: used up
    assert sec.faults.fired == [(path, kind)]
    assert [r.fault for r in sec.requests] == [kind.value, None]


def test_retry_after_fault(site: Site, sec: EdgarStandin) -> None:
    path = site.archive_paths[0]
    sec.faults.add(path, FaultKind.RETRY_AFTER_429, times=2, retry_after=7)
    sec.faults.add(path, FaultKind.RETRY_AFTER_429, retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    first, second, third = (_get(sec.base_url + path) for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
    assert second.headers["Retry-After"] == "7"
    assert third.headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"


def test_reset_fault(site: Site, sec: EdgarStandin) -> None:
    path = site.archive_paths[0]
    sec.faults.add(path, FaultKind.RESET)
    with pytest.raises(requests.ConnectionError):
        _get(sec.base_url + path)
    assert sec.requests[0].status == 0
    assert _get(sec.base_url + path).status_code == 200


@pytest.mark.parametrize("gzip_ok", [False, True])
def test_truncated_fault(site: Site, sec: EdgarStandin, gzip_ok: bool) -> None:
    path = site.archive_paths[0]
    sec.faults.add(path, FaultKind.TRUNCATED)
    response = _raw_get(sec, path, gzip_ok)
    declared = int(response.headers["Content-Length"])
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == declared // 2 < declared
    assert sec.requests[0].body_bytes == declared // 2


def test_bad_gzip_fault(site: Site, sec: EdgarStandin) -> None:
    path = site.archive_paths[0]
    sec.faults.add(path, FaultKind.BAD_GZIP)
    response = _raw_get(sec, path, gzip_ok=False)  # sent even to a client that did not ask
    body = response.read()
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(body) == int(response.headers["Content-Length"])  # only gzip can tell
    with pytest.raises((EOFError, OSError, zlib.error)):
        gzip.decompress(body)


def test_slow_fault(site: Site, sec: EdgarStandin) -> None:
    path = site.archive_paths[0]
    sec.faults.add(path, FaultKind.SLOW, delay=0.1, chunk=8192)
    started = time.monotonic()
    body = _get(sec.base_url + path).content
    elapsed = time.monotonic() - started
    chunks = -(-len(body) // 8192)
    assert body == site.filing(path.rsplit("/", 1)[1][:-4]).content
    # A lower bound only (the stand-in waits before each piece; load can only add to it).
    assert elapsed >= 0.1 * chunks * 0.9


def test_a_stalled_body_ends_when_the_standin_stops(site: Site) -> None:
    sec = EdgarStandin(site.root, max_rps=1000).start()
    path = site.archive_paths[0]
    sec.faults.add(path, FaultKind.SLOW, delay=3600, chunk=1 << 30)
    response = _raw_get(sec, path)  # headers come, the body stalls
    sec.stop()  # the stall must not hold the handler (or the test run) for an hour
    with pytest.raises((http.client.IncompleteRead, ConnectionError, TimeoutError)):
        response.read()
    assert sec.requests[0].body_bytes == 0


def test_fault_patterns_and_forever(site: Site, sec: EdgarStandin) -> None:
    sec.faults.add("/Archives/edgar/daily-index/*", FaultKind.HTTP_503, times=None)
    sec.faults.add(re.compile(r"/submissions/CIK\d+\.json$"), FaultKind.HTTP_500, times=1)
    form_path, _ = Site.daily_paths(DAY)
    assert [_get(sec.base_url + form_path).status_code for _ in range(3)] == [503] * 3
    assert _get(sec.base_url + site.archive_paths[0]).status_code == 200
    sub = sec.data_url + Site.submissions_path(1735707)
    assert [_get(sub).status_code for _ in range(2)] == [500, 200]
    sec.faults.clear()
    assert _get(sec.base_url + form_path).status_code == 200


def test_random_faults_are_seeded(site: Site, sec: EdgarStandin) -> None:
    def run() -> list[int]:
        sec.faults.clear()
        sec.faults.random(rate=0.3, kinds=[FaultKind.HTTP_500, FaultKind.HTTP_503], seed=7)
        return [_get(sec.base_url + site.archive_paths[0]).status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 4 <= sum(s != 200 for s in first) <= 20
    assert set(first) <= {200, 500, 503}


def test_fault_rules_win_over_random(site: Site, sec: EdgarStandin) -> None:
    sec.faults.random(rate=1.0, kinds=[FaultKind.HTTP_500])
    sec.faults.add(site.archive_paths[0], FaultKind.HTTP_503)
    assert _get(sec.base_url + site.archive_paths[0]).status_code == 503
    assert _get(sec.base_url + site.archive_paths[0]).status_code == 500


def test_json_documents_are_valid(site: Site) -> None:
    data = site.root / "data" / "submissions"
    for path in data.iterdir():
        doc = json.loads(path.read_bytes())
        columns = doc["filings"]["recent"] if "filings" in doc else doc
        assert len({len(v) for v in columns.values()}) == 1, path


def test_ownership_day_publishes_any_number_of_distinct_filings() -> None:
    # Beyond the corpus size the templates repeat under new accession numbers; every one
    # must be a submission the stand-in can publish (a bare-XML `.txt` once broke this).
    from tests.sitegen import ownership_day

    filings = ownership_day(date(2024, 3, 5), 120)
    assert len({f.accession for f in filings}) == 120
    assert {f.filed for f in filings} == {date(2024, 3, 5)}
