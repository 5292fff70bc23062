"""Discover stage: which Form 3/4/5 filings exist, read from EDGAR's own indexes.

Two layers:

* Pure parsers (bytes or str in, entries out; no I/O) for the daily/full ``master.idx``
  (also ``xbrl.idx``, same layout), ``form.idx``, ``company.idx`` and ``crawler.idx``
  files, gzip or not, and for the ``data.sec.gov`` submissions JSON and its older pages.
* Thin functions that take a fetcher object (``get_archive(path)`` / ``get_data(path)``
  returning bytes, raising a ``NotFound`` exception for 404s) and return what to fetch.

Robustness rule: a line that cannot be parsed is skipped and *reported*
(``IndexParseResult.bad_lines``, plus a log warning from the network functions); a good line
is never dropped. Bytes that are not an index at all (an HTML error or block page saved
under the index name, an empty body) raise ``IndexFormatError`` instead of reading as
"no filings that day".

Quirks of the real files that shape this code (see tests/test_discover.py for each):

* Header lines ``Description:``, ``Last Data Received:``, ``Comments:``, ``Anonymous FTP:``,
  optionally ``Cloud HTTP:``, then blank or single-space lines, the column header (wrapped
  over two lines in ``company.idx``/``crawler.idx``) and a rule of dashes.
* ``form.idx``/``company.idx`` are nominally fixed width, but a long company name pushes the
  CIK/date/file columns right (``UNITED PLANNERS' FINANCIAL SERVICES OF AMERICA A LIMITED
  PARTNER``), so rows are parsed from the right: the last three fields are CIK, date, file.
* Dates are ``YYYYMMDD`` in daily indexes and ``YYYY-MM-DD`` in full indexes (both
  ``master`` and ``form``).
* A daily index lists what was *disseminated* that day: some rows carry an older filing
  date (late/paper filings), so rows are never filtered on the index date.
* A filing is listed once per filer CIK (issuer and each reporting owner): rows are not
  filings, ``filter_ownership`` dedupes by accession.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

from .records import ACCESSION_RE, OWNERSHIP_FORMS, dashed_accession

log = logging.getLogger(__name__)


DAILY_KINDS = frozenset({"master", "form", "company", "crawler"})
FULL_KINDS = frozenset({"master", "form", "company", "crawler", "xbrl"})

_ARCHIVE_DATA_PATH = re.compile(r"^/Archives/edgar/data/\d+/")
_HEADER_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]*?):\s*(?P<value>.*)$")
_PIPE_COLUMNS = ("cik", "company name", "form type", "date filed", "file name")
_PAGE_NAME = re.compile(r"^CIK\d{10}-submissions-\d{3,}\.json$")
_GZIP_MAGIC = b"\x1f\x8b"
_CRAWLER_SUFFIXES = ("-index.htm", "-index.html")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One index row: a filing as listed under one filer's CIK."""

    accession_number: str  # 0001234567-24-000123
    form_type: str  # stripped, exactly as EDGAR lists it ("4", "4/A", "SC 13G")
    cik: int  # the CIK this row is listed under (issuer or a reporting owner)
    company_name: str
    filed_date: date
    path: str  # /Archives/edgar/data/{cik}/... .txt: the full submission


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line (or submissions row) that was skipped, with why."""

    line_no: int  # 1-based line number in the decoded file; row index for JSON
    text: str
    reason: str


@dataclass(slots=True)
class IndexParseResult:
    """What a parser read from one index file."""

    kind: str  # "master" (also xbrl.idx), "form", "company" or "crawler"
    header: dict[str, str]  # {"Description": ..., "Last Data Received": ..., ...}
    entries: list[IndexEntry] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    truncated: bool = False  # gzip stream ended early: entries are a prefix of the file


@dataclass(slots=True)
class SubmissionsResult:
    """What a parser read from a submissions JSON (main file or an older page)."""

    cik: int
    name: str
    entries: list[IndexEntry] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)  # filings.files[].name, main file only
    bad_lines: list[BadLine] = field(default_factory=list)


class IndexFormatError(ValueError):
    """The bytes are not an EDGAR index / submissions JSON at all.

    Typically an HTML error or rate-limit page, or an empty body. Raised rather than
    returning no entries, which would read as "no filings" and lose a day silently.
    """


class _BadLineError(ValueError):
    """Internal: one row is malformed; the message is the reason."""


# --------------------------------------------------------------------------- decoding


def _to_text(data: bytes | str) -> tuple[str, bool]:
    """Decode (and gunzip when the bytes are gzip) -> (text, truncated)."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), False
    truncated = False
    if data[:2] == _GZIP_MAGIC:
        data, truncated = _gunzip(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Older indexes carry Latin-1 company names; latin-1 decodes any byte.
        text = data.decode("latin-1")
    return text.removeprefix("\ufeff"), truncated


def _gunzip(data: bytes) -> tuple[bytes, bool]:
    """Gunzip, keeping what decompresses from a cut-off download (flagged truncated)."""
    try:
        return gzip.decompress(data), False
    except (EOFError, gzip.BadGzipFile, zlib.error):
        pass
    inflater = zlib.decompressobj(wbits=31)  # 31: expect a gzip header
    parts: list[bytes] = []
    for start in range(0, len(data), 1 << 16):
        try:
            parts.append(inflater.decompress(data[start : start + (1 << 16)]))
        except zlib.error:
            break
    return b"".join(parts), True


def _lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines() would also split on \x0c, \x1c.. inside names.
    return [line.rstrip("\r") for line in text.split("\n")]


# --------------------------------------------------------------------------- index files


def parse_index(data: bytes | str, *, expect: str | None = None) -> IndexParseResult:
    """Parse any EDGAR index file (layout detected from its column header).

    ``expect`` ("master", "form", "company", "crawler"; "xbrl" counts as "master") makes
    a layout mismatch an ``IndexFormatError``.
    """
    text, truncated = _to_text(data)
    lines = _lines(text)
    rule = _find_rule(lines)
    header, columns = _split_header(lines[:rule])
    kind = _detect_kind(columns)
    if expect is not None and ("master" if expect == "xbrl" else expect) != kind:
        raise IndexFormatError(f"expected a {expect} index, found a {kind} index")
    row_parser = _row_parser(kind, columns)
    result = IndexParseResult(kind=kind, header=header, truncated=truncated)
    for line_no, line in enumerate(lines[rule + 1 :], start=rule + 2):
        if not line.strip():
            continue
        try:
            result.entries.append(row_parser(line))
        except _BadLineError as exc:
            result.bad_lines.append(BadLine(line_no, line, str(exc)))
    return result


def parse_master_idx(data: bytes | str) -> IndexParseResult:
    """``master.idx`` / ``master.YYYYMMDD.idx`` / ``master.gz`` (and ``xbrl.idx``)."""
    return parse_index(data, expect="master")


def parse_form_idx(data: bytes | str) -> IndexParseResult:
    """``form.idx`` / ``form.YYYYMMDD.idx`` / ``form.gz``: fixed width, sorted by form."""
    return parse_index(data, expect="form")


def parse_company_idx(data: bytes | str) -> IndexParseResult:
    """``company.idx``: fixed width, company name first."""
    return parse_index(data, expect="company")


def parse_crawler_idx(data: bytes | str) -> IndexParseResult:
    """``crawler.idx``: like company.idx, last column a ``-index.htm`` URL."""
    return parse_index(data, expect="crawler")


def _find_rule(lines: list[str]) -> int:
    """Index of the dashes line that ends the header."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if len(stripped) >= 20 and set(stripped) == {"-"}:
            return i
    raise IndexFormatError(
        "no '-----' rule line: not an EDGAR index (an HTML error/block page or empty body?)"
    )


def _split_header(head: list[str]) -> tuple[dict[str, str], list[str]]:
    """Header block -> ({key: value}, column-header lines)."""
    header: dict[str, str] = {}
    columns: list[str] = []
    for line in head:
        if not line.strip():
            continue
        match = _HEADER_FIELD.match(line)
        if match and not columns and "|" not in line:
            header[match["key"].strip()] = match["value"].strip()
        else:
            columns.append(line)
    if not columns:
        raise IndexFormatError("no column header line above the '-----' rule")
    return header, columns


def _detect_kind(columns: list[str]) -> str:
    first = columns[0].strip()
    if "|" in first:
        names = tuple(c.strip().lower().replace("filename", "file name") for c in first.split("|"))
        if names != _PIPE_COLUMNS:
            raise IndexFormatError(f"unexpected pipe-separated columns: {first!r}")
        return "master"
    if first.startswith("Form Type"):
        return "form"
    if first.startswith("Company Name"):
        return "crawler" if re.search(r"\bURL\b", " ".join(columns)) else "company"
    raise IndexFormatError(f"unrecognised column header: {first!r}")


_RowParser = Callable[[str], IndexEntry]
_PrefixSplitter = Callable[[str], tuple[str, str]]


def _row_parser(kind: str, columns: list[str]) -> _RowParser:
    """A function line -> IndexEntry for this layout (raises _BadLineError)."""
    if kind == "master":
        return _parse_pipe_row
    # The second column's start in the (first) header line: where the first field ends.
    if kind == "form":
        split_at = columns[0].index("Company Name")

        def parse_form_row(line: str) -> IndexEntry:
            return _parse_fixed_row(line, lambda p: _split_first_field(p, split_at), False)

        return parse_form_row
    split_at = columns[0].index("Form Type")

    def parse_company_row(line: str) -> IndexEntry:
        return _parse_fixed_row(
            line, lambda p: _swap(_split_last_field(p, split_at)), kind == "crawler"
        )

    return parse_company_row


def _parse_pipe_row(line: str) -> IndexEntry:
    parts = line.split("|")
    if len(parts) < 5:
        raise _BadLineError(f"expected 5 '|'-separated fields, found {len(parts)}")
    if len(parts) > 5:
        # A '|' inside the company name: CIK is first and the last three are fixed.
        parts = [parts[0], "|".join(parts[1:-3]), *parts[-3:]]
    cik, company, form, filed, path = parts
    return _entry(form.strip(), company.strip(), cik.strip(), filed.strip(), path, crawler=False)


def _parse_fixed_row(line: str, split_prefix: _PrefixSplitter, crawler: bool) -> IndexEntry:
    # Read from the right: only the last three fields (CIK, date, file) are unambiguous,
    # whatever the width of the text before them. The prefix keeps its column positions.
    parts = line.rsplit(None, 3)
    if len(parts) < 4:
        raise _BadLineError("fewer than 4 whitespace-separated fields")
    prefix, cik, filed, path = parts
    form, company = split_prefix(prefix)
    return _entry(form, company, cik, filed, path, crawler=crawler)


def _split_first_field(prefix: str, col: int) -> tuple[str, str]:
    """form.idx: "<form type><company>" -> (form, company)."""
    if len(prefix) <= col:
        return prefix.strip(), ""
    if prefix[col - 1] == " ":
        return prefix[:col].strip(), prefix[col:].strip()
    # The form type overflowed its column; EDGAR still separates fields by >= 2 spaces.
    match = re.match(r"^\s*(\S.*?)\s{2,}(\S.*)$", prefix)
    if not match:
        raise _BadLineError("cannot separate the form type from the company name")
    return match[1], match[2].strip()


def _split_last_field(prefix: str, col: int) -> tuple[str, str]:
    """company/crawler.idx: "<company><form type>" -> (company, form)."""
    if len(prefix) > col and prefix[col - 1] == " " and prefix[col:].strip():
        return prefix[:col].strip(), prefix[col:].strip()
    # The company name overflowed into the form column: split at the last >= 2-space gap.
    match = re.match(r"^(.*\S)\s{2,}(\S.*)$", prefix)
    if not match:
        raise _BadLineError("cannot separate the company name from the form type")
    return match[1].strip(), match[2].strip()


def _swap(pair: tuple[str, str]) -> tuple[str, str]:
    return pair[1], pair[0]


def _entry(
    form: str, company: str, cik: str, filed: str, raw_path: str, *, crawler: bool
) -> IndexEntry:
    if not form:
        raise _BadLineError("empty form type")
    if not (cik.isascii() and cik.isdigit()):
        raise _BadLineError(f"CIK {cik!r} is not a number")
    path = normalize_archive_path(raw_path)
    # Checking the suffix also catches a row cut inside ".txt" by a truncated download.
    if not path.endswith(_CRAWLER_SUFFIXES if crawler else ".txt"):
        raise _BadLineError(f"unexpected file name {raw_path!r}")
    accession = accession_from_path(path)
    if accession is None:
        raise _BadLineError(f"no accession number in file name {raw_path!r}")
    if crawler:
        # crawler.idx gives the -index.htm page; point at the full submission like the others.
        path = f"{path.rsplit('/', 1)[0]}/{accession}.txt"
    if not _ARCHIVE_DATA_PATH.match(path):
        raise _BadLineError(f"file {raw_path!r} is not under edgar/data/")
    return IndexEntry(
        accession_number=accession,
        form_type=form,
        cik=int(cik),
        company_name=company,
        filed_date=_parse_date(filed),
        path=path,
    )


@lru_cache(maxsize=8192)
def _parse_date(text: str) -> date:
    """``YYYYMMDD`` (daily indexes) or ``YYYY-MM-DD`` (full indexes, submissions JSON).

    Cached: an index has a few distinct dates over 100k+ rows."""
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise _BadLineError(f"invalid date {text!r}")


def normalize_archive_path(path: str) -> str:
    """``edgar/data/1/x.txt`` or a full ``https://www.sec.gov/Archives/...`` URL ->
    ``/Archives/edgar/data/1/x.txt`` (the path the fetcher's ``get_archive`` takes)."""
    path = path.strip()
    if path.startswith("edgar/"):  # what every index row holds: the fast path
        return "/Archives/" + path
    if "://" in path:
        path = urlsplit(path).path
    path = path.lstrip("/")
    if not path.startswith("Archives/"):
        path = "Archives/" + path
    return "/" + path


def accession_from_path(path: str) -> str | None:
    """Accession number from an archive file name, dashed (``0001000045-20-000001``).

    Handles ``{acc}.txt``, ``{acc}-index.htm`` (crawler.idx) and the undashed 18-digit
    form some older paths use (``000100004520000001.txt``). None when neither fits.
    """
    name = path[path.rfind("/") + 1 :]
    stem = name.split(".", 1)[0].removesuffix("-index")
    if ACCESSION_RE.match(stem):
        return stem
    return dashed_accession(stem)


# --------------------------------------------------------------------------- filtering


def is_ownership_form(form_type: str) -> bool:
    """Exact match: "4/A" yes; "40-F", "424B3", "SC 13G" no."""
    return form_type.strip() in OWNERSHIP_FORMS


def filter_ownership(
    entries: Iterable[IndexEntry], issuer_ciks: Collection[int] | None = None
) -> list[IndexEntry]:
    """Forms 3/4/5 (and amendments) only, one entry per accession, sorted by
    (filed date, accession).

    EDGAR lists a filing under the issuer and under each reporting owner; all rows point
    at the same submission. The index itself does not say which CIK is the issuer, so the
    issuer's row is preferred only when the caller knows the issuers (``issuer_ciks``,
    e.g. CIKs from company_tickers.json); otherwise the first row seen is kept.
    """
    issuers = issuer_ciks or ()
    chosen: dict[str, IndexEntry] = {}
    for entry in entries:
        if not is_ownership_form(entry.form_type):
            continue
        current = chosen.get(entry.accession_number)
        if current is None or (entry.cik in issuers and current.cik not in issuers):
            chosen[entry.accession_number] = entry
    return sorted(chosen.values(), key=lambda e: (e.filed_date, e.accession_number))


# --------------------------------------------------------------------------- submissions


def parse_submissions(
    data: bytes | str | Mapping[str, Any], *, forms: Collection[str] | None = OWNERSHIP_FORMS
) -> SubmissionsResult:
    """``data.sec.gov/submissions/CIK##########.json`` -> entries of ``filings.recent``
    (only ``forms``; None = every form) and the names of the older pages to fetch."""
    obj = _load_json(data)
    try:
        cik = int(obj["cik"])
        recent = obj["filings"]["recent"]
        files = obj["filings"].get("files") or []
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexFormatError(f"not a submissions JSON: missing {exc}") from exc
    name = str(obj.get("name") or "")
    result = SubmissionsResult(cik=cik, name=name)
    result.pages = [str(f["name"]) for f in files if isinstance(f, Mapping) and f.get("name")]
    _columnar_entries(recent, result, forms)
    return result


def parse_submissions_page(
    data: bytes | str | Mapping[str, Any],
    *,
    cik: int,
    company_name: str = "",
    forms: Collection[str] | None = OWNERSHIP_FORMS,
) -> SubmissionsResult:
    """An older page (``CIK##########-submissions-001.json``): the same columnar arrays as
    ``filings.recent`` but at top level, with no CIK or name (hence the parameters)."""
    obj = _load_json(data)
    result = SubmissionsResult(cik=int(cik), name=company_name)
    _columnar_entries(obj, result, forms)
    return result


def _load_json(data: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(data, Mapping):
        return data
    text, truncated = _to_text(data)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (truncated gzip)" if truncated else ""
        raise IndexFormatError(f"not JSON{cut}: {exc}") from exc
    if not isinstance(obj, Mapping):
        raise IndexFormatError("submissions JSON is not an object")
    return obj


def _columnar_entries(
    cols: Mapping[str, Any], result: SubmissionsResult, forms: Collection[str] | None
) -> None:
    """Append one entry per row of the parallel arrays (accessionNumber, form, filingDate)."""
    try:
        accessions, form_types, dates = cols["accessionNumber"], cols["form"], cols["filingDate"]
    except (KeyError, TypeError) as exc:
        raise IndexFormatError(f"submissions arrays missing: {exc}") from exc
    n_rows = max(len(accessions), len(form_types), len(dates))
    for i in range(n_rows):
        try:
            row = (accessions[i], form_types[i], dates[i])
        except IndexError:
            result.bad_lines.append(BadLine(i, "", "arrays of unequal length"))
            continue
        accession, form, filed = (str(v).strip() for v in row)
        if forms is not None and form not in forms:
            continue
        if not ACCESSION_RE.match(accession):
            result.bad_lines.append(BadLine(i, repr(row), "invalid accession number"))
            continue
        try:
            filed_date = _parse_date(filed)
        except _BadLineError as exc:
            result.bad_lines.append(BadLine(i, repr(row), str(exc)))
            continue
        result.entries.append(
            IndexEntry(
                accession_number=accession,
                form_type=form,
                cik=result.cik,
                company_name=result.name,
                filed_date=filed_date,
                # The full submission is served under any filer's CIK folder.
                path=f"/Archives/edgar/data/{result.cik}/{accession.replace('-', '')}/"
                f"{accession}.txt",
            )
        )


# --------------------------------------------------------------------------- paths


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def _daily_stamp(day: date) -> str:
    # EDGAR's daily file names changed twice: MMDDYY before 1995, YYMMDD until 1998 QTR1,
    # YYYYMMDD since 1998 QTR2 (per sec-edgar/sec-edgar core/daily.py).
    if day < date(1995, 1, 1):
        return day.strftime("%m%d%y")
    if day < date(1998, 4, 1):
        return day.strftime("%y%m%d")
    return day.strftime("%Y%m%d")


def daily_index_path(day: date, kind: str = "master") -> str:
    """``/Archives/edgar/daily-index/YYYY/QTRn/{kind}.YYYYMMDD.idx``."""
    if kind not in DAILY_KINDS:
        raise ValueError(f"daily index kind must be one of {sorted(DAILY_KINDS)}, not {kind!r}")
    return (
        f"/Archives/edgar/daily-index/{day.year}/QTR{quarter_of(day)}/"
        f"{kind}.{_daily_stamp(day)}.idx"
    )


def full_index_path(year: int, quarter: int, kind: str = "master", *, gz: bool = False) -> str:
    """``/Archives/edgar/full-index/YYYY/QTRn/{kind}.idx`` (``.gz`` with ``gz=True``)."""
    if kind not in FULL_KINDS:
        raise ValueError(f"full index kind must be one of {sorted(FULL_KINDS)}, not {kind!r}")
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"quarter must be 1..4, not {quarter!r}")
    return f"/Archives/edgar/full-index/{year}/QTR{quarter}/{kind}.{'gz' if gz else 'idx'}"


def submissions_path(cik: int | str) -> str:
    """``/submissions/CIK##########.json`` on data.sec.gov (CIK zero-padded to 10)."""
    return f"/submissions/CIK{int(cik):010d}.json"


def submissions_page_path(name: str) -> str:
    """``/submissions/CIK##########-submissions-001.json``. The name comes from remote JSON
    (``filings.files[].name``), so it is checked before it becomes a URL path."""
    if not _PAGE_NAME.match(name):
        raise ValueError(f"unexpected submissions page name {name!r}")
    return f"/submissions/{name}"


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """The first and last day of a calendar quarter (EDGAR's full-index and data-set quarters)."""
    end = date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - timedelta(days=1)
    return date(year, 3 * quarter - 2, 1), end


def quarters_between(start: date, end: date) -> list[tuple[int, int]]:
    """(year, quarter) pairs covering start..end inclusive; [] when start > end."""
    out: list[tuple[int, int]] = []
    year, quarter = start.year, quarter_of(start)
    while (year, quarter) <= (end.year, quarter_of(end)):
        out.append((year, quarter))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return out


def days_between(start: date, end: date) -> list[date]:
    """Every calendar day start..end inclusive (weekends too: EDGAR says which have an
    index, by answering 404); [] when start > end."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --------------------------------------------------------------------------- network


class ArchiveClient(Protocol):
    def get_archive(self, path: str) -> bytes: ...


class DataClient(Protocol):
    def get_data(self, path: str) -> bytes: ...


def _absent_errors(client: object, not_found: Any) -> tuple[type[BaseException], ...]:
    """Exception classes meaning "this file does not exist".

    Explicit ``not_found`` wins; else ``ingest.fetch.NotFound`` (imported lazily so this
    module works before/without fetch.py) and any ``NotFound`` class on the client.
    """
    if not_found is not None:
        return tuple(not_found) if isinstance(not_found, tuple) else (not_found,)
    errors: list[type[BaseException]] = []
    try:
        from ingest.fetch import NotFound
    except ModuleNotFoundError as exc:
        if exc.name != "ingest.fetch":
            raise
    else:
        errors.append(NotFound)
    own = getattr(client, "NotFound", None)
    if isinstance(own, type) and issubclass(own, BaseException) and own not in errors:
        errors.append(own)
    return tuple(errors)


def _checked(result: IndexParseResult, path: str) -> IndexParseResult:
    """Refuse a cut-off gzip download (caller retries); log skipped lines."""
    if result.truncated:
        raise IndexFormatError(f"{path}: gzip stream is truncated (incomplete download)")
    if result.bad_lines:
        first = result.bad_lines[0]
        log.warning(
            "%s: skipped %d malformed line(s); first at line %d (%s): %r",
            path,
            len(result.bad_lines),
            first.line_no,
            first.reason,
            first.text[:200],
        )
    return result


def fetch_day_index(
    client: ArchiveClient, day: date, *, kind: str = "master", not_found: Any = None
) -> IndexParseResult | None:
    """The parsed daily index for ``day``, or None when EDGAR has none (weekend, holiday,
    or not yet published: the fetcher's NotFound for a 404 / 403)."""
    path = daily_index_path(day, kind)
    try:
        raw = client.get_archive(path)
    except _absent_errors(client, not_found):
        return None
    return _checked(parse_index(raw, expect=kind), path)


def discover_day(
    client: ArchiveClient,
    day: date,
    *,
    kind: str = "master",
    issuer_ciks: Collection[int] | None = None,
    not_found: Any = None,
) -> list[IndexEntry] | None:
    """Ownership filings disseminated on ``day`` (deduped), or None if no index that day.

    Uses ``master.YYYYMMDD.idx`` by default: pipe-separated, so nothing to guess.
    """
    result = fetch_day_index(client, day, kind=kind, not_found=not_found)
    return None if result is None else filter_ownership(result.entries, issuer_ciks)


def discover_quarter(
    client: ArchiveClient,
    year: int,
    quarter: int,
    *,
    issuer_ciks: Collection[int] | None = None,
    not_found: Any = None,
) -> list[IndexEntry] | None:
    """Ownership filings of a quarter from ``full-index/YYYY/QTRn/master.gz`` (quarter to
    date through the previous business day), or None when it does not exist (yet: a new
    quarter's full-index answers 403 for its first days)."""
    path = full_index_path(year, quarter, "master", gz=True)
    try:
        raw = client.get_archive(path)
    except _absent_errors(client, not_found):
        return None
    result = _checked(parse_master_idx(raw), path)
    return filter_ownership(result.entries, issuer_ciks)


def discover_cik(
    client: DataClient, cik: int, *, not_found: Any = None
) -> list[IndexEntry] | None:
    """Every ownership filing in a CIK's submissions history (recent + older pages),
    deduped and sorted; None when data.sec.gov has no such CIK.

    A missing *page* is not swallowed: it would silently lose that page's filings.
    """
    absent = _absent_errors(client, not_found)
    try:
        raw = client.get_data(submissions_path(cik))
    except absent:
        return None
    main = parse_submissions(raw)
    entries = list(main.entries)
    bad = list(main.bad_lines)
    for name in main.pages:
        page = parse_submissions_page(
            client.get_data(submissions_page_path(name)), cik=main.cik, company_name=main.name
        )
        entries.extend(page.entries)
        bad.extend(page.bad_lines)
    if bad:
        log.warning("CIK %d submissions: skipped %d malformed row(s): %s", cik, len(bad), bad[0])
    return filter_ownership(entries)


__all__ = [
    "DAILY_KINDS",
    "FULL_KINDS",
    "OWNERSHIP_FORMS",
    "BadLine",
    "IndexEntry",
    "IndexFormatError",
    "IndexParseResult",
    "SubmissionsResult",
    "accession_from_path",
    "daily_index_path",
    "days_between",
    "discover_cik",
    "discover_day",
    "discover_quarter",
    "fetch_day_index",
    "filter_ownership",
    "full_index_path",
    "is_ownership_form",
    "normalize_archive_path",
    "parse_company_idx",
    "parse_crawler_idx",
    "parse_form_idx",
    "parse_index",
    "parse_master_idx",
    "parse_submissions",
    "parse_submissions_page",
    "quarter_bounds",
    "quarter_of",
    "quarters_between",
    "submissions_page_path",
    "submissions_path",
]
