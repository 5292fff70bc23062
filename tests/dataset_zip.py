"""Quarter zips of SEC's Insider Transactions Data Sets (Form 345), built from real filings.

What SEC's extractor does, done independently of the project's parser and of its mapping
(``ingest/dataset_catalog.py``): each filing's ownership XML is walked with plain lxml and
every data-set column is filled from the element the readme describes it by
(``DATASET_ELEMENTS`` below). So a mistake in the project's mapping shows up as a value in the
wrong column when a test reads the zip back, instead of cancelling out.

The layout is SEC's (tests/fixtures/datasets/, real 2024 Q3 files):

- members ``SUBMISSION.tsv`` ... ``OWNER_SIGNATURE.tsv`` (the ``url`` of each table in the CSVW
  metadata) plus ``FORM_345_metadata.json``, as in an unpacked quarter;
- column names and order from the CSVW metadata, except where SEC's files differ from it, as
  the real 2024 Q3 headers show (``test_datasets.test_standin_headers_are_secs``): SUBMISSION
  has no ``CONTACT_*``/``NOTIFICATION_EMAIL_ADDRESS`` columns, and the coding footnotes are
  ``EQUITY_SWAP_TRANS_CD_FN`` (the readme's name), not ``EQUITY_SWAP_INVOLVED_FN``; recent
  quarters append ``AFF10B5ONE`` to SUBMISSION (``aff10b5one=True``);
- values as in the sample rows: dates ``12-SEP-2024``; numbers rounded half-up to 2 decimals,
  with at least one (``24.0``, ``26.8``, ``15285.56``); booleans exactly as filed; CIKs
  zero-padded to 10 digits; footnote lists ``F1, F2``; relationships ``Director,Officer``;
  tab-separated, unquoted, ``\\n`` line ends;
- surrogate keys increase in document order within a filing, and rows are written in
  descending key order (the real files list a filing's rows in no key order);
- a filing accepted after 5:30 pm ET on its quarter's last business day is in the next
  quarter's zip (readme section 1).

A value with a line break is written as is: how SEC writes one is not documented (see
``ingest/datasets.py``).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

from ingest.parse import accession_from_name, parse_file
from ingest.records import ParsedFiling, ParseError
from ingest.sgml import extract_ownership_xml
from tests.edgar_standin import business_days

FIXTURES = Path(__file__).parent / "fixtures"
DATASETS = FIXTURES / "datasets"
METADATA = DATASETS / "insider-transactions-dataset.form_345_metadata.json"
SAMPLE = "insider-transactions-dataset.2024q3.sample.{}.tsv"
URL_PATH = "/files/structureddata/data/insider-transactions-data-sets/{}_form345.zip"

# Where SEC's files differ from the CSVW metadata (see the module docstring).
_RENAMED = {"EQUITY_SWAP_INVOLVED_FN": "EQUITY_SWAP_TRANS_CD_FN"}
_NOT_IN_FILES = frozenset(
    {"CONTACT_NAME", "CONTACT_PHONE_NUMBER", "CONTACT_EMAIL_ADDRESS", "NOTIFICATION_EMAIL_ADDRESS"}
)
AFF10B5ONE = "AFF10B5ONE"

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_CENT = Decimal("0.01")


def metadata_headers() -> dict[str, list[str]]:
    """Table name -> its columns, as the CSVW metadata lists them."""
    meta = json.loads(METADATA.read_text())
    return {
        t["url"].removesuffix(".tsv"): [c["name"] for c in t["tableSchema"]["columns"]]
        for t in meta["tables"]
    }


def file_headers(aff10b5one: bool = False) -> dict[str, list[str]]:
    """Table name -> its columns as SEC's files have them."""
    out = {}
    for table, columns in metadata_headers().items():
        cols = [_RENAMED.get(c, c) for c in columns if c not in _NOT_IN_FILES]
        if table == "SUBMISSION" and aff10b5one:
            cols.append(AFF10B5ONE)
        out[table] = cols
    return out


TABLES = tuple(metadata_headers())

# ---------------------------------------------------------------------------
# What each data-set column holds: the XML element (local name) it is read from
# ---------------------------------------------------------------------------

_ENTRY_COMMON = {
    "SECURITY_TITLE": "securityTitle",
    "SHRS_OWND_FOLWNG_TRANS": "sharesOwnedFollowingTransaction",
    "VALU_OWND_FOLWNG_TRANS": "valueOwnedFollowingTransaction",
    "DIRECT_INDIRECT_OWNERSHIP": "directOrIndirectOwnership",
    "NATURE_OF_OWNERSHIP": "natureOfOwnership",
}
_TRANSACTION = {
    "TRANS_DATE": "transactionDate",
    "DEEMED_EXECUTION_DATE": "deemedExecutionDate",
    "TRANS_FORM_TYPE": "transactionFormType",
    "TRANS_CODE": "transactionCode",
    "EQUITY_SWAP_INVOLVED": "equitySwapInvolved",
    "TRANS_TIMELINESS": "transactionTimeliness",
    "TRANS_SHARES": "transactionShares",
    "TRANS_PRICEPERSHARE": "transactionPricePerShare",
    "TRANS_ACQUIRED_DISP_CD": "transactionAcquiredDisposedCode",
}
_DERIVATIVE = {
    "CONV_EXERCISE_PRICE": "conversionOrExercisePrice",
    "EXPIRATION_DATE": "expirationDate",
    "UNDLYNG_SEC_TITLE": "underlyingSecurityTitle",
    "UNDLYNG_SEC_SHARES": "underlyingSecurityShares",
    "UNDLYNG_SEC_VALUE": "underlyingSecurityValue",
}
# Entry tables: column -> element inside the entry. A ``*_FN`` column lists the footnoteIds
# of its value column's element; the coding footnotes are those of <transactionCoding>.
DATASET_ELEMENTS: dict[str, dict[str, str]] = {
    "NONDERIV_TRANS": {**_ENTRY_COMMON, **_TRANSACTION},
    "NONDERIV_HOLDING": {**_ENTRY_COMMON, "TRANS_FORM_TYPE": "transactionFormType"},
    "DERIV_TRANS": {**_ENTRY_COMMON, **_TRANSACTION, **_DERIVATIVE,
                    "TRANS_TOTAL_VALUE": "transactionTotalValue", "EXCERCISE_DATE": "exerciseDate"},
    "DERIV_HOLDING": {**_ENTRY_COMMON, **_DERIVATIVE, "TRANS_FORM_TYPE": "transactionFormType",
                      "EXERCISE_DATE": "exerciseDate"},
}
_CODING_FOOTNOTES = {"EQUITY_SWAP_TRANS_CD_FN", "TRANS_FORM_TYPE_FN"}
ENTRY_ELEMENTS = {
    "NONDERIV_TRANS": "nonDerivativeTransaction",
    "NONDERIV_HOLDING": "nonDerivativeHolding",
    "DERIV_TRANS": "derivativeTransaction",
    "DERIV_HOLDING": "derivativeHolding",
}
SUBMISSION_ELEMENTS = {
    "PERIOD_OF_REPORT": "periodOfReport",
    "DATE_OF_ORIG_SUB": "dateOfOriginalSubmission",
    "NO_SECURITIES_OWNED": "noSecuritiesOwned",
    "NOT_SUBJECT_SEC16": "notSubjectToSection16",
    "FORM3_HOLDINGS_REPORTED": "form3HoldingsReported",
    "FORM4_TRANS_REPORTED": "form4TransactionsReported",
    "DOCUMENT_TYPE": "documentType",
    "ISSUERCIK": "issuerCik",
    "ISSUERNAME": "issuerName",
    "ISSUERTRADINGSYMBOL": "issuerTradingSymbol",
    "REMARKS": "remarks",
    AFF10B5ONE: "aff10b5One",
}
OWNER_ELEMENTS = {
    "RPTOWNERCIK": "rptOwnerCik",
    "RPTOWNERNAME": "rptOwnerName",
    "RPTOWNER_TITLE": "officerTitle",
    "RPTOWNER_TXT": "otherText",
    "RPTOWNER_STREET1": "rptOwnerStreet1",
    "RPTOWNER_STREET2": "rptOwnerStreet2",
    "RPTOWNER_CITY": "rptOwnerCity",
    "RPTOWNER_STATE": "rptOwnerState",
    "RPTOWNER_ZIPCODE": "rptOwnerZipCode",
    "RPTOWNER_STATE_DESC": "rptOwnerStateDescription",
}
RELATIONSHIPS = (("isDirector", "Director"), ("isOfficer", "Officer"),
                 ("isTenPercentOwner", "TenPercentOwner"), ("isOther", "Other"))
_DATE_COLUMNS = {"TRANS_DATE", "DEEMED_EXECUTION_DATE", "EXCERCISE_DATE", "EXERCISE_DATE",
                 "EXPIRATION_DATE", "PERIOD_OF_REPORT", "DATE_OF_ORIG_SUB", "OWNERSIGNATUREDATE"}
_NUMBER_COLUMNS = {"CONV_EXERCISE_PRICE", "TRANS_SHARES", "TRANS_TOTAL_VALUE",
                   "TRANS_PRICEPERSHARE", "UNDLYNG_SEC_SHARES", "UNDLYNG_SEC_VALUE",
                   "SHRS_OWND_FOLWNG_TRANS", "VALU_OWND_FOLWNG_TRANS"}
_CIK_COLUMNS = {"ISSUERCIK", "RPTOWNERCIK"}


# ---------------------------------------------------------------------------
# Formatting as in the sample rows
# ---------------------------------------------------------------------------


def format_date(text: str) -> str:
    """An XML date (``2024-07-29``, maybe with a zone suffix) as ``29-JUL-2024``; '' if none."""
    try:
        day = date.fromisoformat(text.strip()[:10])
    except ValueError:
        return ""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year:04d}"


def round_number(value: Decimal) -> Decimal:
    rounded = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded == 0 else rounded


def format_number(text: str) -> str:
    """An XML number as the data sets write it: ``224.048`` -> ``224.05``, ``24`` -> ``24.0``."""
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return ""
    if not value.is_finite():
        return ""
    out = format(round_number(value), "f").rstrip("0")
    return out + "0" if out.endswith(".") else out


def format_cik(text: str) -> str:
    text = text.strip()
    return text.zfill(10) if text.isascii() and text.isdigit() else text


def _formatted(column: str, text: str) -> str:
    if not text:
        return ""
    if column in _DATE_COLUMNS:
        return format_date(text)
    if column in _NUMBER_COLUMNS:
        return format_number(text)
    if column in _CIK_COLUMNS:
        return format_cik(text)
    return text


# ---------------------------------------------------------------------------
# One filing -> its data-set rows
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class DatasetFiling:
    """A filing as the data sets hold it: table -> rows (column -> text), before keys."""

    accession: str
    filed: date
    accepted: datetime | None
    tables: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _find(parent: etree._Element, name: str) -> etree._Element | None:
    for elem in parent.iter():
        if _local(elem.tag) == name and elem is not parent:
            return elem
    return None


def _value_text(elem: etree._Element | None) -> str:
    """A leaf's text, or the text of a value holder's <value>, stripped."""
    if elem is None:
        return ""
    for child in elem:
        if _local(child.tag) == "value":
            return (child.text or "").strip()
    return (elem.text or "").strip() if len(elem) == 0 else ""


def _footnote_list(elem: etree._Element | None) -> str:
    if elem is None:
        return ""
    ids = [(c.get("id") or "").strip() for c in elem if _local(c.tag) == "footnoteId"]
    return ", ".join(i for i in ids if i)


def dataset_filing(parsed: ParsedFiling) -> DatasetFiling | None:
    """The data-set rows of one filing; None when it has no readable ownership XML.

    A bare XML document has no header, so no filed date: its signature date stands in (the
    data sets always have one)."""
    header = parsed.header
    xml = extract_ownership_xml(parsed.raw) if header is not None else parsed.raw
    if xml is None:
        return None
    try:
        root = etree.fromstring(xml.lstrip(), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return None
    filed = header.filed_date if header is not None else None
    if filed is None:
        signed = format_date(_value_text(_find(root, "signatureDate")))
        if not signed:
            return None
        filed = datetime.strptime(signed, "%d-%b-%Y").date()
    filing = DatasetFiling(parsed.accession_number, filed,
                           header.accepted_at if header is not None else None)
    submission = {"ACCESSION_NUMBER": parsed.accession_number,
                  "FILING_DATE": format_date(filed.isoformat())}
    for column, element in SUBMISSION_ELEMENTS.items():
        submission[column] = _formatted(column, _value_text(_find(root, element)))
    filing.tables["SUBMISSION"] = [submission]
    file_numbers = owner_file_numbers(parsed.raw)
    filing.tables["REPORTINGOWNER"] = [
        _owner_row(owner, file_numbers) for owner in root if _local(owner.tag) == "reportingOwner"
    ]
    for table, entry_name in ENTRY_ELEMENTS.items():
        filing.tables[table] = [
            _entry_row(table, entry) for entry in root.iter() if _local(entry.tag) == entry_name
        ]
    notes = _find(root, "footnotes")
    filing.tables["FOOTNOTES"] = [
        {"FOOTNOTE_ID": (note.get("id") or "").strip(),
         "FOOTNOTE_TXT": "".join(note.itertext()).strip()}
        for note in (notes if notes is not None else ()) if _local(note.tag) == "footnote"
    ]
    filing.tables["OWNER_SIGNATURE"] = [
        {"OWNERSIGNATURENAME": _value_text(_find(sig, "signatureName")),
         "OWNERSIGNATUREDATE": format_date(_value_text(_find(sig, "signatureDate")))}
        for sig in root if _local(sig.tag) == "ownerSignature"
    ]
    return filing


def _owner_row(owner: etree._Element, file_numbers: dict[int, str]) -> dict[str, str]:
    row = {column: _formatted(column, _value_text(_find(owner, element)))
           for column, element in OWNER_ELEMENTS.items()}
    row["RPTOWNER_RELATIONSHIP"] = ",".join(
        word for element, word in RELATIONSHIPS
        if _value_text(_find(owner, element)).lower() in ("1", "true")
    )
    cik = row["RPTOWNERCIK"]
    row["FILE_NUMBER"] = file_numbers.get(int(cik), "") if cik.isdigit() else ""
    return row


def _entry_row(table: str, entry: etree._Element) -> dict[str, str]:
    row: dict[str, str] = {}
    for column, element in DATASET_ELEMENTS[table].items():
        found = _find(entry, element)
        row[column] = _formatted(column, _value_text(found))
        row[f"{column}_FN"] = _footnote_list(found)
    coding = _footnote_list(_find(entry, "transactionCoding"))
    for column in _CODING_FOOTNOTES:
        row[column] = coding
    return row


_OWNER_SECTION = re.compile(rb"(?:REPORTING-OWNER:|<REPORTING-OWNER>)(.*?)(?=\n[A-Z][A-Z -]+:\s*\n|"
                            rb"</REPORTING-OWNER>|<ISSUER>|</SEC-HEADER>|<DOCUMENT>)", re.S)
_CIK = re.compile(rb"(?:CENTRAL INDEX KEY:|<CIK>)\s*(\d+)")
_FILE_NUMBER = re.compile(rb"(?:SEC FILE NUMBER:|<FILE-NUMBER>)[ \t]*(\S+)")


def owner_file_numbers(raw: bytes) -> dict[int, str]:
    """Reporting owner CIK -> the SEC file number its header section gives."""
    out = {}
    for section in _OWNER_SECTION.findall(raw.split(b"<DOCUMENT>", 1)[0]):
        cik, number = _CIK.search(section), _FILE_NUMBER.search(section)
        if cik and number:
            out[int(cik.group(1))] = number.group(1).decode("latin-1")
    return out


# ---------------------------------------------------------------------------
# Quarters and zips
# ---------------------------------------------------------------------------

_EASTERN_CUTOFF = time(17, 30)


def quarter_of(filing: DatasetFiling) -> str:
    """The quarter whose zip holds the filing: its filed date's, unless accepted after
    5:30 pm ET on that quarter's last business day (then the next)."""
    year, q = filing.filed.year, (filing.filed.month - 1) // 3 + 1
    end = date(year + q // 4, q % 4 * 3 + 1, 1) - timedelta(days=1)
    last = max(business_days(end - timedelta(days=7), end))
    accepted = filing.accepted
    if accepted is not None and accepted.date() == last and accepted.time() > _EASTERN_CUTOFF:
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)
    return f"{year}q{q}"


@dataclass(slots=True)
class QuarterZip:
    quarter: str
    data: bytes
    filings: list[DatasetFiling]

    @property
    def url_path(self) -> str:
        return URL_PATH.format(self.quarter)


def build_zip(
    filings: Iterable[DatasetFiling], *, aff10b5one: bool = False, first_key: int = 1_000_000,
    headers: dict[str, list[str]] | None = None,
) -> bytes:
    """One quarter's zip of these filings (every table, even when it has no rows)."""
    headers = headers or file_headers(aff10b5one)
    lines: dict[str, list[str]] = {table: [] for table in TABLES}
    key = first_key
    for filing in filings:
        for table in TABLES:
            rows = filing.tables.get(table, [])
            key_column = f"{table}_SK" if table in ENTRY_ELEMENTS else None
            keyed = []
            for row in rows:
                full = {**row, "ACCESSION_NUMBER": filing.accession}
                if key_column:
                    full[key_column] = str(key)
                    key += 1
                keyed.append("\t".join(full.get(c, "") for c in headers[table]))
            lines[table].extend(reversed(keyed) if key_column else keyed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in TABLES:
            body = "".join(line + "\n" for line in [("\t".join(headers[table])), *lines[table]])
            archive.writestr(f"{table}.tsv", body.encode())
        archive.writestr("FORM_345_metadata.json", METADATA.read_bytes())
    return buffer.getvalue()


def corpus_submissions() -> list[ParsedFiling]:
    """Every full submission of the test corpus with ownership XML, one per accession."""
    seen: dict[str, ParsedFiling] = {}
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix not in (".txt", ".nc", ".sgml") or not path.is_file():
            continue
        try:
            parsed = parse_file(path.read_bytes(), path.name)
        except ParseError:
            continue
        if parsed.source_kind == "submission" and parsed.document is not None:
            seen.setdefault(parsed.accession_number, parsed)
    return list(seen.values())


def corpus_documents() -> list[ParsedFiling]:
    """The corpus's bare ownership XML documents (accession from the file name, else made
    up as tests/test_corpus_db.py does)."""
    out = []
    for index, path in enumerate(sorted((FIXTURES / "ownership").glob("*.xml")), 1):
        accession = accession_from_name(path.name) or f"9999999999-99-{index:06d}"
        parsed = parse_file(path.read_bytes(), path.name, accession=accession)
        if parsed.document is not None:
            out.append(parsed)
    return out


def corpus_quarters(parsed: Iterable[ParsedFiling]) -> list[QuarterZip]:
    """These filings of 2006 on (the data sets' span) as data sets, one zip per quarter."""
    by_quarter: dict[str, list[DatasetFiling]] = defaultdict(list)
    for filing in parsed:
        rows = dataset_filing(filing)
        if rows is not None and rows.filed >= date(2006, 1, 1):
            by_quarter[quarter_of(rows)].append(rows)
    return [QuarterZip(q, build_zip(group), group) for q, group in sorted(by_quarter.items())]


def write_site(root: Path, quarters: Iterable[QuarterZip]) -> list[str]:
    """Put the zips where the stand-in serves www.sec.gov (``root/www``); their URL paths."""
    paths = []
    for quarter in quarters:
        target = root / "www" / quarter.url_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(quarter.data)
        paths.append(quarter.url_path)
    return paths
