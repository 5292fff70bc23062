"""Discovery stage: index parsers against real EDGAR index files, dedupe, paths, and the
thin network functions with a fake client (no HTTP).

Expected counts were cross-checked with awk/grep on the raw files, independently of the
code under test.
"""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from ingest.discover import (
    OWNERSHIP_FORMS,
    IndexEntry,
    IndexFormatError,
    accession_from_path,
    daily_index_path,
    days_between,
    discover_cik,
    discover_day,
    discover_quarter,
    filter_ownership,
    full_index_path,
    normalize_archive_path,
    parse_company_idx,
    parse_crawler_idx,
    parse_form_idx,
    parse_index,
    parse_master_idx,
    parse_submissions,
    parse_submissions_page,
    quarters_between,
    submissions_page_path,
    submissions_path,
)

FIXTURES = Path(__file__).parent / "fixtures" / "index"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_accession(entries: list[IndexEntry], accession: str) -> list[IndexEntry]:
    return [e for e in entries if e.accession_number == accession]


@pytest.fixture(scope="module")
def full_quarter():
    """full-index/2023/QTR3/master.gz parsed once (100k rows)."""
    return parse_master_idx(raw("full-index.2023qtr3.master.gz"))


@pytest.fixture(scope="module")
def form_day():
    return parse_form_idx(raw("form.20200318.idx"))


# --------------------------------------------------------------------------- form.idx


def test_daily_form_idx_counts_and_header(form_day):
    assert form_day.kind == "form"
    assert form_day.header["Description"] == "Daily Index of EDGAR Dissemination Feed by Form Type"
    assert form_day.header["Last Data Received"] == "Mar 18, 2020"
    assert form_day.bad_lines == []
    assert len(form_day.entries) == 4084
    form4 = [e for e in form_day.entries if e.form_type == "4"]
    assert len(form4) == 2040  # rows: one per filer CIK
    assert len({e.accession_number for e in form4}) == 974  # filings


def test_daily_form_idx_row_values(form_day):
    # Line 275, the first Form 4 row: fields read from the right, path normalised.
    first4 = next(e for e in form_day.entries if e.form_type == "4")
    assert first4 == IndexEntry(
        accession_number="0000899243-20-008928",
        form_type="4",
        cik=1770787,
        company_name="10x Genomics, Inc.",
        filed_date=date(2020, 3, 18),
        path="/Archives/edgar/data/1770787/0000899243-20-008928.txt",
    )
    # Form types with spaces stay whole.
    assert {"1-A POS", "SC 13G", "DEF 14A", "X-17A-5/A"} <= {e.form_type for e in form_day.entries}


def test_filter_ownership_on_real_day(form_day):
    kept = filter_ownership(form_day.entries)
    assert len(kept) == 1036  # 2165 ownership rows -> 1036 accessions
    assert len({e.accession_number for e in kept}) == len(kept)
    assert {e.form_type for e in kept} == {"3", "3/A", "4", "4/A"}
    # Sorted by (filed date, accession), so reruns produce the same order.
    assert kept == sorted(kept, key=lambda e: (e.filed_date, e.accession_number))
    # Near-miss form types present that day are excluded.
    present = {e.form_type for e in form_day.entries}
    assert {"40-F", "424B3", "SC 13G", "40-APP"} <= present


def test_dedupe_keeps_first_row_or_known_issuer(form_day):
    # One Baker Bros. Form 4 listed under 7 CIKs: 6 reporting owners + the issuer Alexion.
    rows = by_accession(form_day.entries, "0001638599-20-000321")
    assert len(rows) == 7
    assert len({r.path for r in rows}) == 7  # each under its own CIK folder
    (default,) = by_accession(filter_ownership(rows), "0001638599-20-000321")
    assert (default.cik, default.company_name) == (1551139, "667, L.P.")  # first row
    (issuer,) = filter_ownership(rows, issuer_ciks={899866})
    assert (issuer.cik, issuer.company_name) == (899866, "ALEXION PHARMACEUTICALS, INC.")


def test_form_idx_company_name_overflowing_its_column():
    result = parse_form_idx(raw("edgartools-badform.2021qtr1.form.idx"))
    assert result.bad_lines == []
    assert len(result.entries) == 10
    (long_name,) = [e for e in result.entries if e.cik == 820694]
    # The name is 64 characters: CIK/date/file start 4 columns right of the others.
    assert long_name.company_name == (
        "UNITED PLANNERS' FINANCIAL SERVICES OF AMERICA A LIMITED PARTNER"
    )
    assert long_name.form_type == "X-17A-5"
    assert long_name.filed_date == date(2021, 2, 24)
    assert long_name.accession_number == "9999999997-21-003146"


def test_form_idx_empty_quarter_is_empty_not_error():
    result = parse_form_idx(raw("edgartools-empty-form.2025qtr1.form.idx"))
    assert result.entries == [] and result.bad_lines == []
    assert result.header["Last Data Received"] == "March 29, 2025"


def test_full_index_form_idx_iso_dates():
    result = parse_form_idx(raw("form.2016qtr2.sample.idx"))
    assert len(result.entries) == 97 and result.bad_lines == []
    bloom = [e for e in result.entries if e.company_name == "Bloom Neil"]
    assert [e.accession_number for e in bloom] == [
        "0001246360-16-005523",
        "0001246360-16-005524",
        "0001246360-16-005527",
    ]
    assert {(e.form_type, e.cik, e.filed_date) for e in bloom} == {("3", 1671019, date(2016, 4, 13))}


def test_gzip_input_gives_same_entries(form_day):
    assert parse_form_idx(gzip.compress(raw("form.20200318.idx"))).entries == form_day.entries


# --------------------------------------------------------------------------- master.idx


def test_daily_master_idx():
    result = parse_master_idx(raw("master.20181231.idx"))
    assert result.kind == "master" and result.bad_lines == []
    assert len(result.entries) == 2619
    assert result.entries[0] == IndexEntry(
        "0001209191-18-064398",
        "4",
        1000228,
        "HENRY SCHEIN INC",
        date(2018, 12, 31),
        "/Archives/edgar/data/1000228/0001209191-18-064398.txt",
    )
    # Same filing under the issuer and the owner (line 1914): one after filtering.
    assert [e.cik for e in by_accession(result.entries, "0001209191-18-064398")] == [
        1000228,
        1743156,
    ]
    kept = filter_ownership(result.entries)
    assert len(kept) == 385  # 825 ownership rows
    assert [e.cik for e in by_accession(kept, "0001209191-18-064398")] == [1000228]
    # A daily index lists what was disseminated that day, including late filings with an
    # older filing date: rows are not dropped for it.
    assert min(e.filed_date for e in result.entries) == date(2018, 8, 20)


def test_full_index_master_iso_dates_and_filename_header():
    result = parse_master_idx(raw("master.1993qtr4.sample.idx"))
    assert result.header["Cloud HTTP"] == "https://www.sec.gov/Archives/"
    assert len(result.entries) == 20 and result.bad_lines == []
    disney = next(e for e in result.entries if e.cik == 29082)
    assert (disney.company_name, disney.form_type, disney.filed_date) == (
        "DISNEY WALT CO",
        "10-K",
        date(1993, 12, 22),
    )
    # One SC 13D/A listed under two filers; not an ownership form, so filtered out.
    assert len(by_accession(result.entries, "0001021408-01-503754")) == 2
    assert filter_ownership(result.entries) == []


def test_full_quarter_master_gz(full_quarter):
    assert full_quarter.header["Last Data Received"] == "August  8, 2023"
    assert not full_quarter.truncated and full_quarter.bad_lines == []
    assert len(full_quarter.entries) == 100699
    assert sum(e.form_type == "4" for e in full_quarter.entries) == 29840
    kept = filter_ownership(full_quarter.entries)
    assert len(kept) == 16002  # 33374 ownership rows
    assert kept[0].filed_date == date(2023, 7, 3) and kept[-1].filed_date == date(2023, 8, 8)


def test_truncated_gzip_keeps_prefix_and_flags_it(full_quarter):
    cut = raw("full-index.2023qtr3.master.gz")[:300_000]
    result = parse_master_idx(cut)
    assert result.truncated
    n = len(result.entries)
    assert 1000 < n < len(full_quarter.entries)
    assert result.entries == full_quarter.entries[:n]  # no good line lost or altered
    assert len(result.bad_lines) <= 1  # at most the line cut in the middle


def test_truncated_sample_file():
    data = raw("master.20181231.truncated.idx")
    assert not data.endswith(b"\n")
    result = parse_master_idx(data)
    assert len(result.entries) == 10 and result.bad_lines == []
    assert result.entries[-1].accession_number == "0000899681-18-000091"
    # Cut inside the last row: the 9 whole rows survive, the partial one is reported.
    cut = parse_master_idx(data[:-20])
    assert len(cut.entries) == 9
    (bad,) = cut.bad_lines
    assert bad.line_no == 17 and bad.text.startswith("10048|BARNWELL INDUSTRIES INC|4|")
    # Cut inside ".txt": the accession is whole but the row is still incomplete.
    assert len(parse_master_idx(data[:-1]).bad_lines) == 1


def test_malformed_lines_are_counted_not_fatal():
    text = raw("master.20181231.truncated.idx").decode()
    lines = text.split("\n")
    lines[8:8] = [
        "garbage without pipes",
        "123|ACME|4|2018-13-45|edgar/data/123/0000000123-18-000001.txt",  # bad date
        "123|ACME|4|20181231|edgar/data/123/readme.txt",  # no accession
        "x123|ACME|4|20181231|edgar/data/123/0000000123-18-000001.txt",  # bad CIK
    ]
    result = parse_master_idx("\n".join(lines))
    assert len(result.entries) == 10
    assert [b.line_no for b in result.bad_lines] == [9, 10, 11, 12]
    assert "invalid date" in result.bad_lines[1].reason
    assert "no accession" in result.bad_lines[2].reason


def test_pipe_in_company_name_crlf_and_undashed_accession():
    text = (
        "Description:           Daily Index of EDGAR Dissemination Feed\r\n"
        "Last Data Received:    Jan 3, 2020\r\n\r\n"
        "CIK|Company Name|Form Type|Date Filed|File Name\r\n"
        + "-" * 80
        + "\r\n"
        "42|A|B HOLDINGS|4/A|20200103|edgar/data/42/0000000042-20-000007.txt\r\n"
        "43|OLD CO|4|19990105|edgar/data/43/000095010999000123.txt\r\n"
    )
    result = parse_master_idx(text.encode())
    assert result.bad_lines == []
    a, b = result.entries
    assert (a.company_name, a.form_type, a.cik) == ("A|B HOLDINGS", "4/A", 42)
    assert b.accession_number == "0000950109-99-000123"
    assert b.path == "/Archives/edgar/data/43/000095010999000123.txt"


def test_not_an_index_raises():
    html = b"<html><body>Your Request Originates from an Undeclared Automated Tool</body></html>"
    with pytest.raises(IndexFormatError):
        parse_index(html)
    with pytest.raises(IndexFormatError):
        parse_index(b"")
    with pytest.raises(IndexFormatError, match="expected a master index"):
        parse_master_idx(raw("edgartools-empty-form.2025qtr1.form.idx"))


def test_latin1_company_name():
    text = (
        "CIK|Company Name|Form Type|Date Filed|File Name\n" + "-" * 80 + "\n"
        "7|SOCI\xc9T\xc9 G\xc9N\xc9RALE|4|20200103|edgar/data/7/0000000007-20-000001.txt\n"
    )
    (entry,) = parse_master_idx(text.encode("latin-1")).entries
    assert entry.company_name == "SOCIÉTÉ GÉNÉRALE"


# --------------------------------------------------------------------------- company/crawler


def test_company_and_crawler_idx_agree():
    company = parse_company_idx(raw("company.20230703.head400.idx"))
    crawler = parse_crawler_idx(raw("crawler.20230703.head400.idx"))
    assert company.kind == "company" and crawler.kind == "crawler"
    assert len(company.entries) == 400 and company.bad_lines == crawler.bad_lines == []
    # The crawler's -index.htm URL is turned into the same full-submission path.
    assert crawler.entries == company.entries
    amark = next(e for e in company.entries if e.form_type == "4")
    assert amark == IndexEntry(
        "0001209191-23-040440",
        "4",
        1591588,
        "A-Mark Precious Metals, Inc.",
        date(2023, 7, 3),
        "/Archives/edgar/data/1591588/0001209191-23-040440.txt",
    )


def test_company_idx_name_overflowing_into_form_column():
    head = raw("company.20230703.head400.idx").decode().split("\n")[:11]
    name = "A VERY LONG COMPANY NAME THAT DOES NOT FIT THE SIXTY TWO COLUMNS LLC"
    row = f"{name}  SC 13G/A    1234567     20230703    edgar/data/1234567/0001234567-23-000001.txt"
    (entry,) = parse_company_idx("\n".join([*head, row])).entries
    assert (entry.company_name, entry.form_type, entry.cik) == (name, "SC 13G/A", 1234567)


# --------------------------------------------------------------------------- filter


def _entry(accession: str, form: str, cik: int = 1, day: date = date(2024, 1, 2)) -> IndexEntry:
    return IndexEntry(accession, form, cik, "X", day, f"/Archives/edgar/data/{cik}/{accession}.txt")


def test_filter_ownership_exact_forms_and_order():
    entries = [
        _entry("0000000001-24-000003", "4/A", day=date(2024, 1, 3)),
        _entry("0000000001-24-000002", " 4 "),
        _entry("0000000001-24-000001", "5"),
        _entry("0000000001-24-000009", "40-F"),
        _entry("0000000001-24-000008", "424B3"),
        _entry("0000000001-24-000007", "SC 13G"),
        _entry("0000000001-24-000006", "S-4"),
        _entry("0000000001-24-000005", "4-A"),
    ]
    kept = filter_ownership(entries)
    assert [e.accession_number for e in kept] == [
        "0000000001-24-000001",
        "0000000001-24-000002",
        "0000000001-24-000003",
    ]
    assert OWNERSHIP_FORMS == {"3", "4", "5", "3/A", "4/A", "5/A"}


# --------------------------------------------------------------------------- submissions


def test_submissions_recent():
    result = parse_submissions(raw("cik0000320193.submissions.json"))
    assert (result.cik, result.name) == (320193, "Apple Inc.")
    assert result.pages == ["CIK0000320193-submissions-001.json"]
    assert len(result.entries) == 627  # 614 x 4, 10 x 3, 2 x 4/A, 1 x 3/A of 1000 rows
    assert result.entries[0] == IndexEntry(
        "0000320193-23-000079",
        "4",
        320193,
        "Apple Inc.",
        date(2023, 8, 8),
        "/Archives/edgar/data/320193/000032019323000079/0000320193-23-000079.txt",
    )
    everything = parse_submissions(raw("cik0000320193.submissions.json"), forms=None)
    assert len(everything.entries) == 1000


def test_submissions_of_an_owner_zero_padded_cik():
    result = parse_submissions(raw("cik0001462356.submissions.json"))
    assert (result.cik, result.name, result.pages) == (1462356, "Adams Katherine L.", [])
    assert len(result.entries) == 261
    assert result.entries[0].path == (
        "/Archives/edgar/data/1462356/000146235625000012/0001462356-25-000012.txt"
    )


def _page(rows: list[tuple[str, str, str]]) -> bytes:
    """A synthetic older page: flat columnar arrays, no `filings.recent` wrapper."""
    return json.dumps(
        {
            "accessionNumber": [r[0] for r in rows],
            "filingDate": [r[1] for r in rows],
            "form": [r[2] for r in rows],
            "primaryDocument": ["doc.xml"] * len(rows),
        }
    ).encode()


APPLE_PAGE = _page(
    [
        ("0000000001-12-000003", "2012-11-20", "4"),
        ("0000000001-12-000002", "2012-10-01", "SC 13G"),
        ("0000000001-12-000001", "2012-13-01", "4"),  # invalid date: reported, skipped
        ("0000320193-23-000079", "2023-08-08", "4"),  # also in `recent`: deduped
        ("0000000001-05-000001", "2005-03-01", "3/A"),
    ]
)


def test_submissions_page():
    page = parse_submissions_page(APPLE_PAGE, cik=320193, company_name="Apple Inc.")
    assert [e.accession_number for e in page.entries] == [
        "0000000001-12-000003",
        "0000320193-23-000079",
        "0000000001-05-000001",
    ]
    assert page.entries[0].path == (
        "/Archives/edgar/data/320193/000000000112000003/0000000001-12-000003.txt"
    )
    (bad,) = page.bad_lines
    assert bad.line_no == 2 and "invalid date" in bad.reason


# --------------------------------------------------------------------------- paths


def test_daily_index_paths():
    assert (
        daily_index_path(date(2020, 3, 18), "form")
        == "/Archives/edgar/daily-index/2020/QTR1/form.20200318.idx"
    )
    assert daily_index_path(date(2024, 3, 31)).endswith("/2024/QTR1/master.20240331.idx")
    assert daily_index_path(date(2024, 4, 1)).endswith("/2024/QTR2/master.20240401.idx")
    assert daily_index_path(date(2024, 12, 31)).endswith("/2024/QTR4/master.20241231.idx")
    # EDGAR's older daily file-name stamps.
    assert daily_index_path(date(1994, 7, 5)).endswith("/1994/QTR3/master.070594.idx")
    assert daily_index_path(date(1997, 2, 3)).endswith("/1997/QTR1/master.970203.idx")
    with pytest.raises(ValueError):
        daily_index_path(date(2024, 1, 2), "xbrl")


def test_full_index_and_submissions_paths():
    assert full_index_path(2023, 3) == "/Archives/edgar/full-index/2023/QTR3/master.idx"
    assert full_index_path(2023, 3, "form", gz=True) == "/Archives/edgar/full-index/2023/QTR3/form.gz"
    with pytest.raises(ValueError):
        full_index_path(2023, 5)
    assert submissions_path(320193) == "/submissions/CIK0000320193.json"
    assert submissions_path("0001462356") == "/submissions/CIK0001462356.json"
    page = "CIK0000320193-submissions-001.json"
    assert submissions_page_path(page) == f"/submissions/{page}"
    with pytest.raises(ValueError):
        submissions_page_path("../../Archives/x.json")


def test_quarters_and_days_between():
    assert quarters_between(date(2023, 12, 15), date(2024, 4, 1)) == [(2023, 4), (2024, 1), (2024, 2)]
    assert quarters_between(date(2024, 3, 31), date(2024, 3, 31)) == [(2024, 1)]
    assert quarters_between(date(2024, 4, 1), date(2024, 3, 31)) == []
    assert days_between(date(2024, 2, 28), date(2024, 3, 1)) == [
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
    ]
    assert days_between(date(2024, 3, 2), date(2024, 3, 1)) == []


def test_path_helpers():
    assert normalize_archive_path("edgar/data/1000045/0001000045-20-000001.txt") == (
        "/Archives/edgar/data/1000045/0001000045-20-000001.txt"
    )
    assert normalize_archive_path(
        "http://www.sec.gov/Archives/edgar/data/9631/0001140361-23-032639-index.htm"
    ) == "/Archives/edgar/data/9631/0001140361-23-032639-index.htm"
    assert accession_from_path("edgar/data/1/0001000045-20-000001.txt") == "0001000045-20-000001"
    assert accession_from_path("x/0001140361-23-032639-index.htm") == "0001140361-23-032639"
    assert accession_from_path("x/000100004520000001.txt") == "0001000045-20-000001"
    assert accession_from_path("x/readme.txt") is None


# --------------------------------------------------------------------------- network (fake)


class FakeNotFound(Exception):
    pass


class FakeClient:
    """Path -> bytes; anything else is a 404. Records calls."""

    NotFound = FakeNotFound

    def __init__(self, archive: dict[str, bytes] | None = None, data=None) -> None:
        self.archive = archive or {}
        self.data = data or {}
        self.calls: list[str] = []

    def _get(self, store: dict[str, bytes], path: str) -> bytes:
        self.calls.append(path)
        if path not in store:
            raise FakeNotFound(path)
        return store[path]

    def get_archive(self, path: str) -> bytes:
        return self._get(self.archive, path)

    def get_data(self, path: str) -> bytes:
        return self._get(self.data, path)


def test_discover_day_and_weekend():
    day = date(2018, 12, 31)
    client = FakeClient({daily_index_path(day): raw("master.20181231.idx")})
    found = discover_day(client, day)
    assert found is not None and len(found) == 385
    assert client.calls == ["/Archives/edgar/daily-index/2018/QTR4/master.20181231.idx"]
    assert discover_day(client, date(2018, 12, 29)) is None  # Saturday: 404
    assert discover_day(client, date(2018, 12, 25)) is None  # holiday: 404


def test_discover_day_form_kind_and_explicit_not_found():
    class Forbidden(Exception):
        """What a fetcher might raise for EDGAR's 403 on a day with no index."""

    class Client:
        def get_archive(self, path: str) -> bytes:
            if path.endswith("form.20200318.idx"):
                return raw("form.20200318.idx")
            raise Forbidden(path)

    found = discover_day(Client(), date(2020, 3, 18), kind="form", not_found=Forbidden)
    assert found is not None and len(found) == 1036
    assert discover_day(Client(), date(2020, 3, 21), kind="form", not_found=Forbidden) is None
    with pytest.raises(Forbidden):  # not declared "absent": a real error propagates
        discover_day(Client(), date(2020, 3, 21), kind="form", not_found=FakeNotFound)


def test_discover_day_refuses_html_body():
    day = date(2020, 3, 18)
    client = FakeClient({daily_index_path(day): b"<html>Request Rate Threshold Exceeded</html>"})
    with pytest.raises(IndexFormatError):
        discover_day(client, day)


def test_discover_quarter():
    # The real master.gz is parsed in test_full_quarter_master_gz; a smaller gzip file
    # under the quarter's path keeps this test fast.
    gz = gzip.compress(raw("master.20181231.idx"))
    client = FakeClient({full_index_path(2018, 4, gz=True): gz})
    found = discover_quarter(client, 2018, 4)
    assert found is not None and len(found) == 385
    assert client.calls == ["/Archives/edgar/full-index/2018/QTR4/master.gz"]
    assert discover_quarter(client, 2019, 1) is None  # not there (yet)
    cut = FakeClient({full_index_path(2018, 4, gz=True): gz[: len(gz) // 2]})
    with pytest.raises(IndexFormatError, match="truncated"):
        discover_quarter(cut, 2018, 4)  # an incomplete download must be retried


def test_discover_cik_follows_pages():
    client = FakeClient(
        data={
            submissions_path(320193): raw("cik0000320193.submissions.json"),
            "/submissions/CIK0000320193-submissions-001.json": APPLE_PAGE,
        }
    )
    found = discover_cik(client, 320193)
    assert found is not None
    assert client.calls == [
        "/submissions/CIK0000320193.json",
        "/submissions/CIK0000320193-submissions-001.json",
    ]
    assert len(found) == 627 + 2  # page adds 2 new; its duplicate of `recent` is dropped
    assert found[0].accession_number == "0000000001-05-000001"  # oldest first
    assert found[-1].accession_number == "0000320193-23-000079"
    assert all(e.cik == 320193 and e.company_name == "Apple Inc." for e in found)


def test_discover_cik_two_pages_missing_page_and_unknown_cik():
    pages = {
        "/submissions/CIK0000789019-submissions-001.json": _page(
            [("0000000002-10-000001", "2010-05-05", "5")]
        ),
        "/submissions/CIK0000789019-submissions-002.json": _page(
            [("0000000002-00-000001", "2000-05-05", "4")]
        ),
    }
    data = {submissions_path(789019): raw("cik0000789019.submissions.json"), **pages}
    found = discover_cik(FakeClient(data=data), 789019)
    assert found is not None and len(found) == 817 + 2
    assert found[0].filed_date == date(2000, 5, 5)

    del data["/submissions/CIK0000789019-submissions-002.json"]
    with pytest.raises(FakeNotFound):  # a missing page would silently lose filings
        discover_cik(FakeClient(data=data), 789019)
    assert discover_cik(FakeClient(data=data), 1) is None
