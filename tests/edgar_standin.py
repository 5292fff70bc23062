"""A local stand-in for www.sec.gov and data.sec.gov, for tests (EDGAR is never reachable here).

Two parts:

1. **The site**: :func:`build_site` writes, under a directory, the files EDGAR would serve for a
   list of filings (:class:`SiteFiling`): full submissions under every filer's CIK, daily and
   quarterly ``form.idx``/``master.idx`` in EDGAR's exact byte layout, and data.sec.gov
   ``/submissions/CIK##########.json`` with paging files. The latest-filings Atom feed
   (``/cgi-bin/browse-edgar?action=getcurrent...``) is served live from the filings the
   stand-in knows (``tests/standin_feed.py``), and :meth:`EdgarStandin.publish` adds a filing
   while clients run: its archive files, its daily-index rows and its feed entries.

2. **The server**: :class:`EdgarStandin` serves that directory on 127.0.0.1 (two ephemeral ports:
   ``base_url`` is "www.sec.gov", ``data_url`` is "data.sec.gov"; each serves only its own tree, so a
   client that mixes them up gets 404s). It enforces SEC's access rules (contact e-mail in the
   User-Agent, at most ``max_rps`` requests in any sliding second, optional 10-minute-style block),
   honours ``Accept-Encoding: gzip``, logs every request, and injects faults on demand.

Example::

    site = build_site(tmp_path, [SiteFiling.from_submission(raw) for raw in raws])
    with EdgarStandin(tmp_path, max_rps=10) as sec:
        sec.faults.add(site.archive_paths[0], FaultKind.TRUNCATED)
        requests.get(sec.base_url + site.archive_paths[0], headers={"User-Agent": "A a@b.org"})
        assert sec.max_requests_in_any_window(1.0) <= 10

    with EdgarStandin(site.root, site=site) as sec:       # the feed lists the site's filings
        sec.publish(copy_as(raw, "0009000001-24-000001", day))   # ... and now this one too
        requests.get(sec.base_url + "/cgi-bin/browse-edgar?action=getcurrent&type=4"
                     "&owner=include&count=100&start=0&output=atom", headers=...)
"""

from __future__ import annotations

import bisect
import collections
import fnmatch
import gzip
import http.server
import json
import random
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from tests.standin_feed import (
    ATOM_CONTENT_TYPE,
    EASTERN,
    FEED_PATH,
    PAST_END_PAGE,
    FeedQuery,
    FeedRow,
    LiveFeed,
    atom_feed,
    feed_size,
)

# ---------------------------------------------------------------------------------------------
# Filings
# ---------------------------------------------------------------------------------------------

OWNERSHIP_FORMS = frozenset({"3", "3/A", "4", "4/A", "5", "5/A"})

# Section headings of a `.txt` SEC header and the role each gives its filer.
_SECTION_ROLES = {
    "REPORTING-OWNER": "reporting-owner",
    "ISSUER": "issuer",
    "FILER": "filer",
    "SUBJECT COMPANY": "subject-company",
    "FILED BY": "filed-by",
}
_ROLE_SECTIONS = {role: heading for heading, role in _SECTION_ROLES.items()}
# How the latest-filings feed names each role in an entry's title ("4 - NAME (CIK) (Reporting)").
_FEED_ROLES = {
    "reporting-owner": "Reporting",
    "issuer": "Issuer",
    "filer": "Filer",
    "subject-company": "Subject",
    "filed-by": "Filed by",
}


@dataclass(frozen=True, slots=True)
class Filer:
    """One entity a filing is filed under. EDGAR lists the filing once per filer."""

    cik: int
    name: str
    role: str = "filer"  # reporting-owner | issuer | filer | subject-company | filed-by


@dataclass(frozen=True, slots=True)
class SiteFiling:
    """One EDGAR submission to publish on the stand-in.

    ``content`` is the full submission (``{accession}.txt``), served byte-for-byte. ``filers``
    decides which CIK directories, index rows and submissions JSONs list it.
    """

    accession: str
    form_type: str
    filed: date
    content: bytes
    filers: tuple[Filer, ...]
    accepted: str = ""  # ACCEPTANCE-DATETIME, YYYYMMDDhhmmss
    period: str = ""  # CONFORMED PERIOD OF REPORT, YYYYMMDD
    act: str = ""  # "34" for "1934 Act"
    file_number: str = ""
    film_number: str = ""

    @classmethod
    def from_submission(cls, content: bytes, **overrides: Any) -> SiteFiling:
        """Read accession, form type, filed date and filers from a `.txt` SEC header.

        Keyword overrides replace any parsed field (e.g. ``filed=date(2024, 1, 2)`` to put the
        filing on a chosen day, or ``accession=...`` for a copy under another number).
        """
        header = _parse_txt_header(content)
        return replace(header, **overrides) if overrides else header

    @property
    def acc_no_dashes(self) -> str:
        return self.accession.replace("-", "")

    @property
    def is_ownership(self) -> bool:
        return self.form_type in OWNERSHIP_FORMS

    def archive_path(self, cik: int) -> str:
        """URL path of the full submission under one filer, as EDGAR's indexes name it."""
        return f"/Archives/edgar/data/{cik}/{self.accession}.txt"

    def folder_path(self, cik: int) -> str:
        return f"/Archives/edgar/data/{cik}/{self.acc_no_dashes}"

    @property
    def accepted_at(self) -> datetime:
        """ACCEPTANCE-DATETIME as an aware US Eastern time (midnight of ``filed`` if none)."""
        stamp = self.accepted or f"{self.filed:%Y%m%d}000000"
        return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=EASTERN)


def _header_value(text: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}:[ \t]*(.*?)[ \t]*$", text, re.MULTILINE)
    return match.group(1) if match else ""


def _parse_filers(header: str) -> tuple[Filer, ...]:
    filers: list[Filer] = []
    role: str | None = None
    name = ""
    for line in header.splitlines():
        heading = re.fullmatch(r"([A-Z][A-Z -]*[A-Z]):\s*", line)
        if heading and heading.group(1) in _SECTION_ROLES:
            role, name = _SECTION_ROLES[heading.group(1)], ""
            continue
        if role is None:
            continue
        if m := re.match(r"\s+COMPANY CONFORMED NAME:\s*(.*?)\s*$", line):
            name = m.group(1)
        elif m := re.match(r"\s+CENTRAL INDEX KEY:\s*(\d+)", line):
            filers.append(Filer(int(m.group(1)), name, role))
            role = None  # one filer per section; FORMER COMPANY blocks follow
    return tuple(filers)


def _parse_txt_header(content: bytes) -> SiteFiling:
    text = content.decode("latin-1")
    header = text.split("</SEC-HEADER>", 1)[0]
    accession = _header_value(header, "ACCESSION NUMBER")
    form_type = _header_value(header, "CONFORMED SUBMISSION TYPE")
    filed = _header_value(header, "FILED AS OF DATE")
    if not (accession and form_type and filed):
        raise ValueError("not a .txt full submission: no ACCESSION NUMBER/TYPE/FILED AS OF DATE")
    accepted = re.search(r"<ACCEPTANCE-DATETIME>(\d{14})", header)
    return SiteFiling(
        accession=accession,
        form_type=form_type,
        filed=date(int(filed[:4]), int(filed[4:6]), int(filed[6:8])),
        content=content,
        filers=_parse_filers(header),
        accepted=accepted.group(1) if accepted else "",
        period=_header_value(header, "CONFORMED PERIOD OF REPORT"),
        act=_act_code(_first_indented(header, "SEC ACT")),
        file_number=_first_indented(header, "SEC FILE NUMBER"),
        film_number=_first_indented(header, "FILM NUMBER"),
    )


def _first_indented(header: str, label: str) -> str:
    match = re.search(rf"^\s+{label}:\s*(.*?)\s*$", header, re.MULTILINE)
    return match.group(1) if match else ""


def _act_code(act: str) -> str:
    # The header says "1934 Act"; the submissions JSON says "34".
    match = re.match(r"19(\d\d) Act", act or "")
    return match.group(1) if match else ""


def make_submission(
    accession: str,
    form_type: str,
    filed: date,
    filers: Sequence[Filer],
    body: str = "",
) -> SiteFiling:
    """A small synthetic full submission, for forms the corpus has no sample of (10-K, 8-K...).

    The header has the `.txt` layout EDGAR serves, so :meth:`SiteFiling.from_submission` and the
    project's SGML parser read it like a real one.
    """
    day = filed.strftime("%Y%m%d")
    lines = [
        f"<SEC-DOCUMENT>{accession}.txt : {day}",
        f"<SEC-HEADER>{accession}.hdr.sgml : {day}",
        f"<ACCEPTANCE-DATETIME>{day}160500",
        f"ACCESSION NUMBER:\t\t{accession}",
        f"CONFORMED SUBMISSION TYPE:\t{form_type}",
        "PUBLIC DOCUMENT COUNT:\t\t1",
        f"FILED AS OF DATE:\t\t{day}",
        f"DATE AS OF CHANGE:\t\t{day}",
        "",
    ]
    for filer in filers:
        data_label = "OWNER DATA" if filer.role == "reporting-owner" else "COMPANY DATA"
        lines += [
            f"{_ROLE_SECTIONS.get(filer.role, 'FILER')}:\t",
            "",
            f"\t{data_label}:\t",
            f"\t\tCOMPANY CONFORMED NAME:\t\t\t{filer.name}",
            f"\t\tCENTRAL INDEX KEY:\t\t\t{filer.cik:010d}",
            "",
        ]
    doc_name = f"{accession.replace('-', '')}_{re.sub(r'[^0-9A-Za-z]', '', form_type).lower()}.txt"
    lines += [
        "</SEC-HEADER>",
        "<DOCUMENT>",
        f"<TYPE>{form_type}",
        "<SEQUENCE>1",
        f"<FILENAME>{doc_name}",
        "<TEXT>",
        body or f"Synthetic {form_type} document for {accession}.",
        "</TEXT>",
        "</DOCUMENT>",
        "</SEC-DOCUMENT>",
        "",
    ]
    content = "\n".join(lines).encode("latin-1")
    return SiteFiling(
        accession=accession,
        form_type=form_type,
        filed=filed,
        content=content,
        filers=tuple(filers),
        accepted=f"{day}160500",
    )


def _primary_xml(content: bytes) -> tuple[str, bytes] | None:
    """(file name, XML bytes) of the first <XML> document in a submission, as EDGAR serves it."""
    match = re.search(
        rb"<DOCUMENT>\s*<TYPE>[^\n]*\n.*?<FILENAME>([^\n<]+).*?<XML>\r?\n?(.*?)</XML>",
        content,
        re.DOTALL,
    )
    if not match:
        return None
    return match.group(1).strip().decode("latin-1"), match.group(2)


# ---------------------------------------------------------------------------------------------
# Index formats (byte layouts copied from real EDGAR files in shared/corpus/index)
# ---------------------------------------------------------------------------------------------

_FORM_COLUMNS = "Form Type   Company Name" + " " * 50 + "CIK         Date Filed  File Name"
_MASTER_COLUMNS_DAILY = "CIK|Company Name|Form Type|Date Filed|File Name"
_MASTER_COLUMNS_FULL = "CIK|Company Name|Form Type|Date Filed|Filename"


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One line of an index: one filing under one filer."""

    cik: int
    company: str
    form_type: str
    filed: date
    path: str  # "edgar/data/{cik}/{accession}.txt"


def _quarter(day: date) -> int:
    return (day.month - 1) // 3 + 1


def _long_date(day: date) -> str:
    return f"{day:%B} {day.day:>2}, {day.year}"  # "August  8, 2023"


def _short_date(day: date) -> str:
    return f"{day:%b} {day.day:>2}, {day.year}"  # "Jan  3, 2020"


def _form_row(row: IndexRow, filed: str, pad_path: bool) -> str:
    # form.idx is fixed width; EDGAR cuts company names to 60 characters.
    line = f"{row.form_type:<12}{row.company[:60]:<62}{row.cik:<12}{filed:<12}{row.path}"
    return f"{line:<150}" if pad_path else line


def daily_form_idx(day: date, rows: Iterable[IndexRow]) -> bytes:
    """``daily-index/YYYY/QTRn/form.YYYYMMDD.idx`` (layout of form.20200318.idx)."""
    ordered = sorted(rows, key=lambda r: (r.form_type, r.company, r.cik, r.path))
    lines = [
        "Description:           Daily Index of EDGAR Dissemination Feed by Form Type",
        f"Last Data Received:    {_short_date(day)}",
        "Comments:              webmaster@sec.gov",
        "Anonymous FTP:         ftp://ftp.sec.gov/edgar/",
        " ",
        " ",
        " ",
        " ",
        _FORM_COLUMNS,
        "-" * 141,
        *(_form_row(r, f"{r.filed:%Y%m%d}", pad_path=True) for r in ordered),
    ]
    return ("\n".join(lines) + "\n").encode("latin-1")


def daily_master_idx(day: date, rows: Iterable[IndexRow]) -> bytes:
    """``daily-index/YYYY/QTRn/master.YYYYMMDD.idx`` (layout of master.20200103.idx)."""
    ordered = sorted(rows, key=lambda r: (str(r.cik), r.form_type, r.path))
    lines = [
        "Description:           Daily Index of EDGAR Dissemination Feed",
        f"Last Data Received:    {_short_date(day)}",
        "Comments:              webmaster@sec.gov",
        "Anonymous FTP:         ftp://ftp.sec.gov/edgar/",
        " ",
        _MASTER_COLUMNS_DAILY,
        "-" * 80,
        *(f"{r.cik}|{r.company}|{r.form_type}|{r.filed:%Y%m%d}|{r.path}" for r in ordered),
    ]
    return ("\n".join(lines) + "\n").encode("latin-1")


def full_form_idx(last_day: date, rows: Iterable[IndexRow]) -> bytes:
    """``full-index/YYYY/QTRn/form.idx`` (layout of the 2021/2025 quarterly form.idx)."""
    ordered = sorted(rows, key=lambda r: (r.form_type, r.company, r.cik, r.filed, r.path))
    lines = [
        "Description:           Master Index of EDGAR Dissemination Feed by Form Type",
        f"Last Data Received:    {_long_date(last_day)}",
        "Comments:              webmaster@sec.gov",
        "Anonymous FTP:         ftp://ftp.sec.gov/edgar/",
        "",
        "",
        "",
        "",
        _FORM_COLUMNS,
        "-" * 141,
        *(_form_row(r, f"{r.filed:%Y-%m-%d}", pad_path=False) for r in ordered),
    ]
    return ("\n".join(lines) + "\n").encode("latin-1")


def full_master_idx(last_day: date, rows: Iterable[IndexRow]) -> bytes:
    """``full-index/YYYY/QTRn/master.idx`` (layout of full-index.2023qtr3.master.gz)."""
    ordered = sorted(rows, key=lambda r: (str(r.cik), r.form_type, r.filed, r.path))
    lines = [
        "Description:           Master Index of EDGAR Dissemination Feed",
        f"Last Data Received:    {_long_date(last_day)}",
        "Comments:              webmaster@sec.gov",
        "Anonymous FTP:         ftp://ftp.sec.gov/edgar/",
        "Cloud HTTP:            https://www.sec.gov/Archives/",
        "",
        " ",
        " ",
        " ",
        _MASTER_COLUMNS_FULL,
        "-" * 80,
        *(f"{r.cik}|{r.company}|{r.form_type}|{r.filed:%Y-%m-%d}|{r.path}" for r in ordered),
    ]
    return ("\n".join(lines) + "\n").encode("latin-1")


# ---------------------------------------------------------------------------------------------
# Site builder
# ---------------------------------------------------------------------------------------------

_SUBMISSION_COLUMNS = (
    "accessionNumber",
    "filingDate",
    "reportDate",
    "acceptanceDateTime",
    "act",
    "form",
    "fileNumber",
    "filmNumber",
    "items",
    "size",
    "isXBRL",
    "isInlineXBRL",
    "primaryDocument",
    "primaryDocDescription",
)


@dataclass(slots=True)
class Site:
    """What :func:`build_site` wrote. Paths are URL paths ("/Archives/...", "/submissions/...")."""

    root: Path
    filings: list[SiteFiling]
    archive_paths: list[str] = field(default_factory=list)  # every {acc}.txt, once per filer
    daily_index_paths: list[str] = field(default_factory=list)
    full_index_paths: list[str] = field(default_factory=list)
    submissions_paths: list[str] = field(default_factory=list)
    days: list[date] = field(default_factory=list)  # business days that have a daily index

    def paths_for(self, accession: str) -> list[str]:
        """Every archive URL path that serves this accession's full submission."""
        suffix = f"/{accession}.txt"
        return [p for p in self.archive_paths if p.endswith(suffix)]

    def filing(self, accession: str) -> SiteFiling:
        return next(f for f in self.filings if f.accession == accession)

    def ownership_paths(self) -> list[str]:
        own = {f.accession for f in self.filings if f.is_ownership}
        return [p for p in self.archive_paths if p.rsplit("/", 1)[1][:-4] in own]

    def other_paths(self) -> list[str]:
        """Archive paths of non-ownership filings: an insider pipeline must never fetch these."""
        own = set(self.ownership_paths())
        return [p for p in self.archive_paths if p not in own]

    @staticmethod
    def daily_paths(day: date) -> tuple[str, str]:
        """(form, master) daily-index URL paths of a day (may 404 if the day has none)."""
        base = f"/Archives/edgar/daily-index/{day.year}/QTR{_quarter(day)}"
        return f"{base}/form.{day:%Y%m%d}.idx", f"{base}/master.{day:%Y%m%d}.idx"

    @staticmethod
    def full_paths(year: int, quarter: int) -> tuple[str, str]:
        base = f"/Archives/edgar/full-index/{year}/QTR{quarter}"
        return f"{base}/form.idx", f"{base}/master.idx"

    @staticmethod
    def submissions_path(cik: int) -> str:
        return f"/submissions/CIK{cik:010d}.json"


def _write(root: Path, url_path: str, data: bytes) -> None:
    target = root / url_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def build_site(
    root: Path,
    filings: Iterable[SiteFiling],
    *,
    recent_limit: int = 1000,
    page_size: int = 1000,
) -> Site:
    """Write the EDGAR files for ``filings`` under ``root/www`` and ``root/data``.

    ``recent_limit``/``page_size``: how many filings go into ``filings.recent`` of a submissions
    JSON before the rest spill into ``CIK##########-submissions-NNN.json`` pages (EDGAR: 1000;
    tests pass small numbers to exercise paging).
    """
    filings = list(filings)
    _check_filings(filings)
    site = Site(root=root, filings=filings)
    www, data = root / "www", root / "data"
    for filing in filings:
        _write_archive(www, filing, site)
    _write_daily_indexes(www, filings, site)
    _write_full_indexes(www, filings, site)
    _write_submissions(data, filings, site, recent_limit, page_size)
    return site


def _check_filings(filings: list[SiteFiling]) -> None:
    seen: set[str] = set()
    for f in filings:
        if f.accession in seen:
            raise ValueError(f"duplicate accession {f.accession}")
        seen.add(f.accession)
        if f.filed.weekday() >= 5:
            raise ValueError(f"{f.accession}: EDGAR accepts no filings on {f.filed:%A %Y-%m-%d}")
        if not f.filers:
            raise ValueError(f"{f.accession}: no filers")


def _index_rows(filing: SiteFiling) -> list[IndexRow]:
    # One row per filer, each pointing into that filer's own CIK directory: index rows are
    # not filings (EDGAR lists a Form 4 under the issuer and under each reporting owner).
    return [
        IndexRow(fl.cik, fl.name, filing.form_type, filing.filed, filing.archive_path(fl.cik)[10:])
        for fl in _unique_filers(filing)
    ]


def _unique_filers(filing: SiteFiling) -> list[Filer]:
    by_cik: dict[int, Filer] = {}
    for fl in filing.filers:
        by_cik.setdefault(fl.cik, fl)
    return list(by_cik.values())


def feed_rows(filing: SiteFiling) -> list[FeedRow]:
    """The filing's latest-filings feed entries: one per filer."""
    return [
        FeedRow(
            form_type=filing.form_type,
            name=fl.name,
            cik=fl.cik,
            role=_FEED_ROLES.get(fl.role, "Filer"),
            accession=filing.accession,
            filed=filing.filed,
            accepted=filing.accepted_at,
            size=feed_size(len(filing.content)),
            is_ownership=filing.is_ownership,
        )
        for fl in _unique_filers(filing)
    ]


def _primary_document(filing: SiteFiling) -> tuple[str, str, bytes | None]:
    """(primaryDocument, primaryDocDescription, raw XML or None) like the submissions JSON."""
    xml = _primary_xml(filing.content)
    if xml and filing.is_ownership:
        name, body = xml
        schema = re.search(rb"<schemaVersion>X(\d\d)", body)
        version = schema.group(1).decode() if schema else "05"
        # EDGAR names the rendered HTML as primary: "xslF345X05/form4.xml".
        return f"xslF345X{version}/{name}", f"FORM {filing.form_type}", body
    doc = re.search(rb"<FILENAME>([^\n<]+)", filing.content)
    return (doc.group(1).strip().decode("latin-1") if doc else ""), filing.form_type, None


def _write_archive(www: Path, filing: SiteFiling, site: Site) -> None:
    primary, _, xml = _primary_document(filing)
    for fl in _unique_filers(filing):
        legacy = filing.archive_path(fl.cik)
        folder = filing.folder_path(fl.cik)
        _write(www, legacy, filing.content)
        _write(www, f"{folder}/{filing.accession}.txt", filing.content)
        items = [filing.accession + ".txt"]
        if xml is not None:
            name = primary.split("/", 1)[1]
            _write(www, f"{folder}/{name}", xml)
            _write(www, f"{folder}/{primary}", _rendered_stub(filing))
            items.append(name)
        _write(www, f"{folder}/index.json", _folder_index(folder, items))
        site.archive_paths.append(legacy)


def _rendered_stub(filing: SiteFiling) -> bytes:
    return (
        f"<html><head><title>Form {filing.form_type}</title></head><body>"
        f"<p>Rendered {filing.accession}</p></body></html>"
    ).encode()


def _folder_index(folder: str, names: list[str]) -> bytes:
    # Shape of EDGAR's hidden folder index.json (corpus 0001213900-24-004875.index.json).
    items = [
        {"last-modified": "2024-01-02 16:05:00", "name": n, "type": "text.gif", "size": ""} for n in names
    ]
    parent = folder.rsplit("/", 1)[0]
    return json.dumps({"directory": {"item": items, "name": folder, "parent-dir": parent}}).encode()


def _write_daily_indexes(www: Path, filings: list[SiteFiling], site: Site) -> None:
    by_day: dict[date, list[IndexRow]] = collections.defaultdict(list)
    for filing in filings:
        by_day[filing.filed].extend(_index_rows(filing))
    for day in sorted(by_day):
        _write_daily_index(www, day, by_day[day], site)


def _write_daily_index(www: Path, day: date, rows: list[IndexRow], site: Site) -> None:
    form_path, master_path = Site.daily_paths(day)
    _write(www, form_path, daily_form_idx(day, rows))
    _write(www, master_path, daily_master_idx(day, rows))
    if day not in site.days:
        site.daily_index_paths += [form_path, master_path]
        site.days.append(day)


def _write_full_indexes(www: Path, filings: list[SiteFiling], site: Site) -> None:
    by_quarter: dict[tuple[int, int], list[SiteFiling]] = collections.defaultdict(list)
    for filing in filings:
        by_quarter[(filing.filed.year, _quarter(filing.filed))].append(filing)
    for (year, qtr), group in sorted(by_quarter.items()):
        rows = [row for filing in group for row in _index_rows(filing)]
        last_day = max(f.filed for f in group)
        form_path, master_path = Site.full_paths(year, qtr)
        form_bytes, master_bytes = full_form_idx(last_day, rows), full_master_idx(last_day, rows)
        _write(www, form_path, form_bytes)
        _write(www, master_path, master_bytes)
        # EDGAR also publishes compressed copies; served as-is (application/x-gzip).
        _write(www, form_path[:-4] + ".gz", gzip.compress(form_bytes, mtime=0))
        _write(www, master_path[:-4] + ".gz", gzip.compress(master_bytes, mtime=0))
        site.full_index_paths += [form_path, master_path]


def _submission_entry(filing: SiteFiling) -> dict[str, Any]:
    primary, description, _ = _primary_document(filing)
    accepted = filing.accepted or f"{filing.filed:%Y%m%d}000000"
    period = filing.period
    return {
        "accessionNumber": filing.accession,
        "filingDate": f"{filing.filed:%Y-%m-%d}",
        "reportDate": f"{period[:4]}-{period[4:6]}-{period[6:8]}" if period else "",
        # EDGAR labels New-York time "Z" here (https://github.com/theOGognf/finagg/issues/64);
        # copied as EDGAR does.
        "acceptanceDateTime": f"{accepted[:4]}-{accepted[4:6]}-{accepted[6:8]}T"
        f"{accepted[8:10]}:{accepted[10:12]}:{accepted[12:14]}.000Z",
        "act": filing.act,
        "form": filing.form_type,
        "fileNumber": filing.file_number,
        "filmNumber": filing.film_number,
        "items": "",
        "size": len(filing.content),
        "isXBRL": 0,
        "isInlineXBRL": 0,
        "primaryDocument": primary,
        "primaryDocDescription": description,
    }


def _columnar(entries: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {col: [e[col] for e in entries] for col in _SUBMISSION_COLUMNS}


def _write_submissions(
    data: Path, filings: list[SiteFiling], site: Site, recent_limit: int, page_size: int
) -> None:
    per_cik: dict[int, list[tuple[SiteFiling, Filer]]] = collections.defaultdict(list)
    for filing in filings:
        for fl in _unique_filers(filing):
            per_cik[fl.cik].append((filing, fl))
    for cik, pairs in sorted(per_cik.items()):
        pairs.sort(key=lambda p: (p[0].filed, p[0].accession), reverse=True)  # newest first
        entries = [_submission_entry(f) for f, _ in pairs]
        recent, older = entries[:recent_limit], entries[recent_limit:]
        files = []
        for n, start in enumerate(range(0, len(older), page_size), start=1):
            page = older[start : start + page_size]
            name = f"CIK{cik:010d}-submissions-{n:03d}.json"
            _write(data, f"/submissions/{name}", json.dumps(_columnar(page)).encode())
            site.submissions_paths.append(f"/submissions/{name}")
            files.append(
                {
                    "name": name,
                    "filingCount": len(page),
                    "filingFrom": page[-1]["filingDate"],
                    "filingTo": page[0]["filingDate"],
                }
            )
        doc = _entity_json(cik, pairs, recent, files)
        _write(data, Site.submissions_path(cik), json.dumps(doc).encode())
        site.submissions_paths.append(Site.submissions_path(cik))


def _entity_json(
    cik: int,
    pairs: list[tuple[SiteFiling, Filer]],
    recent: list[dict[str, Any]],
    files: list[dict[str, Any]],
) -> dict[str, Any]:
    roles = {fl.role for f, fl in pairs if f.is_ownership}
    is_company = any(fl.role in ("issuer", "filer", "subject-company") for _, fl in pairs)
    return {
        "cik": str(cik),
        "entityType": "operating" if is_company else "other",
        "sic": "",
        "sicDescription": "",
        "insiderTransactionForOwnerExists": int("reporting-owner" in roles),
        "insiderTransactionForIssuerExists": int("issuer" in roles),
        "name": pairs[0][1].name,
        "tickers": [],
        "exchanges": [],
        "ein": None,
        "description": "",
        "website": "",
        "investorWebsite": "",
        "category": "",
        "fiscalYearEnd": None,
        "stateOfIncorporation": "",
        "stateOfIncorporationDescription": "",
        "addresses": {},
        "phone": None,
        "flags": "",
        "formerNames": [],
        "filings": {"recent": _columnar(recent), "files": files},
    }


def business_days(start: date, end: date) -> Iterator[date]:
    """Weekdays from ``start`` to ``end`` inclusive (EDGAR's filing days, holidays aside)."""
    day = start
    while day <= end:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Pages SEC answers with (paraphrased; the markers clients look for are SEC's wording)
# ---------------------------------------------------------------------------------------------

# Real captures show this page titled "Request Rate Threshold Exceeded" although its message is
# about the User-Agent: clients must judge by the message, not the title.
UNDECLARED_TOOL_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>SEC.gov | Request Rate Threshold Exceeded</title></head>
<body>
<h1>Your Request Originates from an Undeclared Automated Tool</h1>
<p>SEC limits requests from automated tools that do not identify themselves, so that all users
get fair access. This request came from such a tool.</p>
<p>Please declare your traffic by updating your user agent to include company specific
information.</p>
<p>Reference ID: 0.standin.undeclared</p>
</body></html>
"""

RATE_THRESHOLD_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>SEC.gov | Request Rate Threshold Exceeded</title></head>
<body>
<h1>Request Rate Threshold Exceeded</h1>
<p>Your request rate has exceeded the SEC's maximum allowable requests per second.
Your access to SEC.gov will be limited for 10 minutes.</p>
<p>Reference ID: 0.standin.rate</p>
</body></html>
"""

NOT_FOUND_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><title>SEC.gov | File Not Found</title></head>
<body><h1>File Not Found</h1></body></html>
"""

NO_SUCH_KEY_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
    b"<Message>The specified key does not exist.</Message></Error>"
)

ACCESS_DENIED_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message></Error>"
)

SERVER_ERROR_PAGE = b"<html><body><h1>Service Unavailable</h1></body></html>\n"

_CONTACT_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def has_contact_email(user_agent: str) -> bool:
    """SEC's rule for automated clients: the User-Agent names a contact e-mail."""
    return _CONTACT_RE.search(user_agent) is not None


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------


class FaultKind(StrEnum):
    """Failures the stand-in can inject, each one response."""

    HTTP_500 = "500"
    HTTP_503 = "503"
    RETRY_AFTER_429 = "429-retry-after"  # 429 with "Retry-After: <retry_after>"
    BARE_429 = "429"  # 429 without Retry-After: SEC's 2026 block signal
    THRESHOLD_403 = "403-threshold"  # 403 "Request Rate Threshold Exceeded" page
    RESET = "reset"  # connection closed (RST) before any response byte
    TRUNCATED = "truncated"  # Content-Length says more than is sent, then close
    BAD_GZIP = "bad-gzip"  # Content-Encoding: gzip with a corrupt, cut-short stream
    SLOW = "slow"  # correct body in ``chunk``-byte pieces, each sent after ``delay`` s


ALL_FAULTS: tuple[FaultKind, ...] = tuple(FaultKind)
BLOCK_FAULTS = (FaultKind.BARE_429, FaultKind.THRESHOLD_403)
TRANSIENT_FAULTS = tuple(k for k in FaultKind if k not in BLOCK_FAULTS)


@dataclass(slots=True)
class FaultRule:
    """Which requests get a fault. ``pattern``: exact path, glob (``*``) or ``re.Pattern``,
    matched against the path, followed by ``?query`` when the request has one (the feed:
    ``/cgi-bin/browse-edgar?*start=100*`` is its second page)."""

    pattern: str | re.Pattern[str] | None
    kind: FaultKind
    remaining: int | None = 1  # None: forever
    retry_after: str = "1"  # header value for RETRY_AFTER_429 (seconds or an HTTP date)
    delay: float = 0.05  # SLOW: seconds between chunks
    chunk: int = 512  # SLOW: bytes per chunk

    def matches(self, path: str) -> bool:
        return path_matches(self.pattern, path)


def path_matches(pattern: str | re.Pattern[str] | None, path: str) -> bool:
    """None matches all; ``re.Pattern`` searches; a string with ``*``/``?`` globs; else equal."""
    if pattern is None:
        return True
    if isinstance(pattern, re.Pattern):
        return pattern.search(path) is not None
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(path, pattern)
    return path == pattern


@dataclass(slots=True)
class _RandomFaults:
    rate: float
    kinds: tuple[FaultKind, ...]
    rng: random.Random
    pattern: str | re.Pattern[str] | None
    params: dict[str, Any]


class FaultInjector:
    """Registry of faults, consulted once per request (thread-safe).

    Rules added with :meth:`add` win over :meth:`random`; the first matching rule fires.
    :attr:`fired` lists ``(path, kind)`` of every fault served, in order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random: _RandomFaults | None = None
        self.fired: list[tuple[str, FaultKind]] = []

    def add(
        self,
        pattern: str | re.Pattern[str] | None,
        kind: FaultKind | str,
        times: int | None = 1,
        *,
        retry_after: int | float | str = 1,
        delay: float = 0.05,
        chunk: int = 512,
    ) -> FaultRule:
        """Serve ``kind`` to the next ``times`` requests whose path matches (None: all paths)."""
        rule = FaultRule(pattern, FaultKind(kind), times, str(retry_after), delay, chunk)
        with self._lock:
            self._rules.append(rule)
        return rule

    def random(
        self,
        rate: float,
        kinds: Iterable[FaultKind | str] = TRANSIENT_FAULTS,
        seed: int = 0,
        *,
        pattern: str | re.Pattern[str] | None = None,
        **params: Any,
    ) -> None:
        """Give each matching request a fault with probability ``rate`` (seeded, reproducible)."""
        with self._lock:
            self._random = _RandomFaults(
                rate, tuple(FaultKind(k) for k in kinds), random.Random(seed), pattern, params
            )

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._random = None

    def take(self, path: str) -> FaultRule | None:
        """The fault for this request, if any (consumes one use of a counted rule)."""
        with self._lock:
            rule = self._take_rule(path) or self._take_random(path)
            if rule is not None:
                self.fired.append((path, rule.kind))
            return rule

    def _take_rule(self, path: str) -> FaultRule | None:
        for rule in self._rules:
            if rule.remaining != 0 and rule.matches(path):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule
        return None

    def _take_random(self, path: str) -> FaultRule | None:
        r = self._random
        if r is None or not path_matches(r.pattern, path):
            return None
        if r.rng.random() >= r.rate:
            return None
        params = dict(r.params)
        if "retry_after" in params:
            params["retry_after"] = str(params["retry_after"])
        return FaultRule(None, r.rng.choice(r.kinds), None, **params)


# ---------------------------------------------------------------------------------------------
# Request log and SEC rate rule
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RequestRecord:
    """One request as the stand-in saw it. ``status`` 0: connection dropped without response."""

    t: float  # the stand-in's clock (time.monotonic() unless given another) at arrival
    site: str  # "www" or "data"
    method: str
    path: str  # URL path, without query
    user_agent: str
    accept_encoding: str
    status: int = 0
    fault: str | None = None
    body_bytes: int = 0  # bytes of body actually sent
    gzipped: bool = False
    query: str = ""  # the query string, as sent (the feed's paging is in it)

    @property
    def target(self) -> str:
        """Path and query, what fault patterns match (``/cgi-bin/browse-edgar?...start=100...``)."""
        return f"{self.path}?{self.query}" if self.query else self.path


class ManualClock:
    """A clock that moves only when told to: SEC's windows and blocks are then tested by
    setting the time of each request, not by sleeping (a loaded machine cannot change it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now


def max_in_window(times: Sequence[float], seconds: float = 1.0) -> int:
    """Largest number of ``times`` inside any half-open window [t, t + seconds)."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, bisect.bisect_left(ordered, start + seconds, lo=i) - i)
    return best


class _RateGate:
    """SEC's rule: more than ``max_rps`` requests in any sliding second is over the limit.

    Every request counts, refused ones included (SEC counts what reaches it). With
    ``block_seconds`` > 0 going over starts a block; any request during the block re-extends it.
    """

    def __init__(self, max_rps: float, block_seconds: float) -> None:
        self.max_rps = max_rps
        self.block_seconds = block_seconds
        self._arrivals: collections.deque[float] = collections.deque()
        self.blocked_until = 0.0

    def admit(self, now: float) -> bool:
        self._arrivals.append(now)
        while self._arrivals and now - self._arrivals[0] >= 1.0:
            self._arrivals.popleft()
        if now < self.blocked_until:
            self.blocked_until = now + self.block_seconds
            return False
        if len(self._arrivals) > self.max_rps:
            if self.block_seconds > 0:
                self.blocked_until = now + self.block_seconds
            return False
        return True


# ---------------------------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------------------------

_CONTENT_TYPES = {
    ".json": "application/json",
    ".idx": "text/plain",
    ".txt": "text/plain",
    ".xml": "text/xml",
    ".gz": "application/x-gzip",
    ".htm": "text/html",
    ".html": "text/html",
}


class _SiteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog (5) drops SYNs when 8 workers connect at once; the kernel's 1-second
    # SYN retry would then bunch requests together at arrival and fake a rate violation.
    request_queue_size = 128

    def __init__(self, standin: EdgarStandin, site: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.standin = standin
        self.site = site


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like SEC: clients pool connections
    server_version = "EdgarStandin/1.0"
    timeout = 30  # idle keep-alive connections must not pin threads forever
    server: _SiteServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the request log replaces stderr noise

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        standin = self.server.standin
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        record = standin._arrive(self.server.site, "GET", path, self.headers, url.query)
        try:
            self._respond(standin, record)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (read timeout): nothing to do

    def _respond(self, standin: EdgarStandin, record: RequestRecord) -> None:
        admitted = standin._admit(record)  # every request counts, refused ones too
        if not standin.accept_user_agent(record.user_agent):
            return self._send(record, 403, UNDECLARED_TOOL_PAGE, "text/html")
        if not admitted:
            if standin.limit_status == 403:
                return self._send(record, 403, RATE_THRESHOLD_PAGE, "text/html")
            return self._send(record, 429, RATE_THRESHOLD_PAGE, "text/html")
        if standin._is_forbidden(record.path):
            return self._send(record, 403, ACCESS_DENIED_XML, "application/xml")
        fault = standin.faults.take(record.target)
        if fault is not None:
            record.fault = fault.kind.value
            if self._serve_fault(record, fault):
                return None
        if self.server.site == "www" and record.path == FEED_PATH:
            return self._send_feed(standin, record, fault)
        found = standin._lookup(self.server.site, record.path)
        if found is None:
            if self.server.site == "www":
                return self._send(record, 404, NOT_FOUND_PAGE, "text/html")
            return self._send(record, 404, NO_SUCH_KEY_XML, "application/xml")
        body, ctype = found
        return self._send(record, 200, body, ctype, fault=fault)

    def _send_feed(self, standin: EdgarStandin, record: RequestRecord, fault: FaultRule | None) -> None:
        query = FeedQuery.parse(record.query)
        if query is None:  # another browse-edgar page: not served by the stand-in
            return self._send(record, 404, NOT_FOUND_PAGE, "text/html")
        page = standin.feed.page(query)
        if page is None:  # EDGAR: past the last page, its maintenance page and a closed connection
            self.close_connection = True
            return self._send(record, 503, PAST_END_PAGE, "text/html", extra={"Connection": "close"})
        body = atom_feed(page, standin.feed_updated())
        return self._send(record, 200, body, ATOM_CONTENT_TYPE, fault=fault,
                          extra={"Cache-Control": "no-cache"})

    def _serve_fault(self, record: RequestRecord, fault: FaultRule) -> bool:
        """Answer with the fault; False when the fault only alters how the file is sent."""
        kind = fault.kind
        if kind in (FaultKind.HTTP_500, FaultKind.HTTP_503):
            self._send(record, int(kind.value), SERVER_ERROR_PAGE, "text/html")
        elif kind is FaultKind.RETRY_AFTER_429:
            self._send(
                record, 429, b"Too Many Requests\n", "text/plain", extra={"Retry-After": fault.retry_after}
            )
        elif kind is FaultKind.BARE_429:
            self._send(record, 429, RATE_THRESHOLD_PAGE, "text/html")
        elif kind is FaultKind.THRESHOLD_403:
            self._send(record, 403, RATE_THRESHOLD_PAGE, "text/html")
        elif kind is FaultKind.RESET:
            self._reset(record)
        else:
            return False  # TRUNCATED, BAD_GZIP, SLOW: need the real file
        return True

    def _reset(self, record: RequestRecord) -> None:
        # SO_LINGER 0 turns close() into a TCP RST: the client sees "connection reset".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        record.status = 0
        self.connection.close()

    def _send(
        self,
        record: RequestRecord,
        status: int,
        body: bytes,
        ctype: str,
        *,
        fault: FaultRule | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        encoded, gzipped = self._encode(record, body, ctype, fault)
        declared = len(encoded)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(declared))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        record.status, record.gzipped = status, gzipped
        self._send_body(record, encoded, fault)

    def _encode(
        self, record: RequestRecord, body: bytes, ctype: str, fault: FaultRule | None
    ) -> tuple[bytes, bool]:
        if fault is not None and fault.kind is FaultKind.BAD_GZIP:
            broken = bytearray(gzip.compress(body)[:-8])  # no CRC/size trailer
            broken[len(broken) // 2] ^= 0xFF
            return bytes(broken), True
        wants_gzip = "gzip" in record.accept_encoding.lower()
        if wants_gzip and ctype != "application/x-gzip":
            return gzip.compress(body, compresslevel=6, mtime=0), True
        return body, False

    def _send_body(self, record: RequestRecord, data: bytes, fault: FaultRule | None) -> None:
        kind = fault.kind if fault is not None else None
        if kind is FaultKind.TRUNCATED:
            sent = data[: len(data) // 2]
            # Counted before writing: the client may read the log as soon as the bytes arrive.
            record.body_bytes = len(sent)
            self.wfile.write(sent)
            self.wfile.flush()
            self.close_connection = True  # the rest never comes
            return
        if kind is FaultKind.SLOW:
            assert fault is not None
            for start in range(0, len(data), max(1, fault.chunk)):
                # before each piece (even the first byte is late); a stall ends when the
                # stand-in stops, so a long one does not outlive its test
                if self.server.standin._stopped.wait(fault.delay):
                    self.close_connection = True
                    return
                piece = data[start : start + fault.chunk]
                record.body_bytes += len(piece)
                self.wfile.write(piece)
                self.wfile.flush()
            return
        record.body_bytes = len(data)
        self.wfile.write(data)


class EdgarStandin:
    """The local EDGAR: serves ``root/www`` at :attr:`base_url`, ``root/data`` at :attr:`data_url`.

    Parameters:
        root: directory written by :func:`build_site` (may be empty: everything 404s).
        max_rps: SEC's limit; a request that makes more than this many in the last second is
            over the limit (refused requests count too).
        block_seconds: 0 → only over-limit requests are refused. > 0 → going over starts a
            block: every request is refused for this long, and each refused request re-extends
            it (SEC: 10 minutes).
        limit_status: what an over-limit/blocked request gets: 429 (no Retry-After, SEC 2026)
            or 403 (the "Request Rate Threshold Exceeded" page, SEC 2021).
        accept_user_agent: which User-Agents pass; others get 403 "Undeclared Automated Tool".
            Default: any with a contact e-mail (SEC's rule). Tests can be stricter, e.g. refuse
            example.com addresses as Akamai does.
        clock: what arrival times (the request log, the rate limit, blocks) are read from;
            a :class:`ManualClock` makes SEC's rules testable without sleeping.
        site: what :func:`build_site` wrote under ``root``: its filings start in the feed, and
            :meth:`publish` adds to its daily indexes (without it, the feed starts empty and a
            published filing's daily index lists only published filings).
        feed_limit: most entries one feed selection lists (EDGAR's ``type=4`` feed ended after
            5,100); None: all.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        max_rps: float = 10,
        block_seconds: float = 0.0,
        limit_status: int = 429,
        accept_user_agent: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        site: Site | None = None,
        feed_limit: int | None = None,
    ) -> None:
        if limit_status not in (403, 429):
            raise ValueError("limit_status must be 403 or 429")
        self.root = Path(root)
        self.site = site if site is not None else Site(root=self.root, filings=[])
        self.feed = LiveFeed(feed_limit)
        for filing in self.site.filings:
            self.feed.add(feed_rows(filing))
        self._publish_lock = threading.Lock()
        self._published = {filing.accession for filing in self.site.filings}
        self._stale_indexes: dict[str, date] = {}  # daily-index path -> day to rewrite first
        self.limit_status = limit_status
        self.accept_user_agent = accept_user_agent or has_contact_email
        self.faults = FaultInjector()
        self._gate = _RateGate(max_rps, block_seconds)
        self.clock = clock
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._forbidden: list[str | re.Pattern[str]] = []
        self._servers: dict[str, _SiteServer] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EdgarStandin:
        if self._servers:
            return self
        self._stopped.clear()
        for site in ("www", "data"):
            server = _SiteServer(self, site)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"edgar-standin-{site}",
                daemon=True,
            )
            thread.start()
            self._servers[site] = server
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopped.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> EdgarStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    def _url(self, site: str) -> str:
        if site not in self._servers:
            raise RuntimeError("EdgarStandin is not started")
        host, port = self._servers[site].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """Stand-in for https://www.sec.gov (serves /Archives/...)."""
        return self._url("www")

    @property
    def data_url(self) -> str:
        """Stand-in for https://data.sec.gov (serves /submissions/...)."""
        return self._url("data")

    # -- configuration -----------------------------------------------------------------------

    @property
    def max_rps(self) -> float:
        return self._gate.max_rps

    @max_rps.setter
    def max_rps(self, value: float) -> None:
        with self._lock:
            self._gate.max_rps = value

    @property
    def blocked_until(self) -> float:
        """Time (of :attr:`clock`) until which the block lasts (0 or past: not blocked)."""
        return self._gate.blocked_until

    def forbid(self, pattern: str | re.Pattern[str]) -> None:
        """Answer 403 (AccessDenied XML) for these paths, always: SEC does this for some
        weekend/holiday daily indexes and for a new quarter's full-index at quarter start."""
        with self._lock:
            self._forbidden.append(pattern)

    # -- publishing while clients run ---------------------------------------------------------

    def publish(self, filing: SiteFiling, *, daily_index: bool = True) -> None:
        """Make ``filing`` public now, as EDGAR does on acceptance (thread-safe): its archive
        files under every filer, its feed entries (placed by its acceptance time) and, unless
        ``daily_index`` is False, its rows in that day's daily indexes (rewritten when next
        asked for). Full indexes and submissions JSON are not rewritten."""
        _check_filings([filing])
        with self._publish_lock:
            if filing.accession in self._published:
                raise ValueError(f"duplicate accession {filing.accession}")
            self._published.add(filing.accession)
            self.site.filings.append(filing)
            _write_archive(self.root / "www", filing, self.site)
            if daily_index:
                for path in Site.daily_paths(filing.filed):
                    self._stale_indexes[path] = filing.filed
        self.feed.add(feed_rows(filing))

    def feed_updated(self) -> datetime:
        """The feed's ``updated``: its newest entry's acceptance time."""
        rows = self.feed.rows()
        return rows[0].accepted if rows else datetime(2025, 12, 12, 18, 3, 57, tzinfo=EASTERN)

    def _refresh_daily_index(self, path: str) -> None:
        with self._publish_lock:
            day = self._stale_indexes.get(path)
            if day is None:
                return
            rows = [row for f in self.site.filings if f.filed == day for row in _index_rows(f)]
            _write_daily_index(self.root / "www", day, rows, self.site)
            for stale in Site.daily_paths(day):
                self._stale_indexes.pop(stale, None)

    # -- request log -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, in arrival order."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def paths(self, *, status: int | None = None) -> list[str]:
        """Requested paths (optionally only those answered with ``status``)."""
        return [r.path for r in self.requests if status is None or r.status == status]

    def max_requests_in_any_window(self, seconds: float = 1.0, *, site: str | None = None) -> int:
        """Most requests that arrived within any ``seconds``-long sliding window."""
        return max_in_window([r.t for r in self.requests if site is None or r.site == site], seconds)

    # -- used by the handler -----------------------------------------------------------------

    def _arrive(self, site: str, method: str, path: str, headers: Any, query: str = "") -> RequestRecord:
        record = RequestRecord(
            t=self.clock(),
            site=site,
            method=method,
            path=path,
            user_agent=headers.get("User-Agent", ""),
            accept_encoding=headers.get("Accept-Encoding", ""),
            query=query,
        )
        with self._lock:
            self._log.append(record)
        return record

    def _admit(self, record: RequestRecord) -> bool:
        with self._lock:
            return self._gate.admit(record.t)

    def _is_forbidden(self, path: str) -> bool:
        with self._lock:
            patterns = list(self._forbidden)
        return any(path_matches(p, path) for p in patterns)

    def _lookup(self, site: str, path: str) -> tuple[bytes, str] | None:
        if site == "www" and path in self._stale_indexes:
            self._refresh_daily_index(path)
        base = (self.root / site).resolve()
        target = (base / path.lstrip("/")).resolve()
        if not target.is_relative_to(base) or not target.is_file():
            return None
        return target.read_bytes(), _CONTENT_TYPES.get(target.suffix, "application/octet-stream")


def start_standin(root: Path, filings: Iterable[SiteFiling], **options: Any) -> tuple[EdgarStandin, Site]:
    """Build the site under ``root`` and start a stand-in on it (caller stops it)."""
    site = build_site(root, filings)
    return EdgarStandin(root, site=site, **options).start(), site
