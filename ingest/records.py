"""Typed records that flow from the parser to the loader, and the column catalog.

The catalog is the one place that says which columns each table has and of what
kind. The parser uses it to convert text to typed values (it imports nothing from
the database side); the SQLAlchemy tables in ``models`` and the loader use the same
names, so a leaf element, its column and its type are defined exactly once.

Column rule: a leaf element of the ownership XML lands in the column named by its
element name in snake_case (``transactionPricePerShare`` ->
``transaction_price_per_share``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

# Bump when the parser's output changes for the same input: `reparse` and
# re-ingest use it to tell "same bytes, same parse" (unchanged) from "same bytes,
# newer parse" (replace rows).
# 2: numbers, dates and CIKs take ASCII digits only (other scripts' digits are kept
#    verbatim in unmapped_values instead of being converted).
# 3: X0101 (2003) entries directly under <ownershipDocument> land in their tables (were
#    all in unmapped_values); a document with an entry that reaches no table is stored with
#    parsed = false and UNMAPPED_ENTRIES; a submission without an ownership document says
#    why (NO_OWNERSHIP_XML, NO_XML_DOCUMENT, NO_DOCUMENTS) instead of no parse_error.
PARSER_VERSION = 3

# The forms this project is about: Forms 3, 4, 5 and their amendments (SEC's EDGAR Filer
# Manual names them so in the indexes, the SGML header and ownership XML's documentType).
OWNERSHIP_FORMS = frozenset({"3", "4", "5", "3/A", "4/A", "5/A"})

# An accession number: filer agent's CIK, year, sequence: 0001234567-24-000123. ASCII digits
# only (\\d would also take full-width and other Unicode digits). ACCESSION_PLAIN is the same
# number without dashes, as old indexes and archive folder names write it.
ACCESSION = r"[0-9]{10}-[0-9]{2}-[0-9]{6}"
ACCESSION_PLAIN = r"([0-9]{10})([0-9]{2})([0-9]{6})"
ACCESSION_RE = re.compile(rf"^{ACCESSION}$")


def dashed_accession(plain: str) -> str | None:
    """``000110465923005474`` -> ``0001104659-23-005474`` (None when it is not 18 digits)."""
    match = re.fullmatch(ACCESSION_PLAIN, plain)
    return "-".join(match.groups()) if match else None


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"
    NUMERIC = "numeric"
    BOOL = "bool"
    CIK = "cik"  # central index key, stored as BIGINT


_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


# Bounded: element names come from untrusted documents, and a long-lived worker must not
# remember every made-up name it was ever sent. Real documents use about a hundred.
@lru_cache(maxsize=1024)
def snake_case(name: str) -> str:
    """``aff10b5One`` -> ``aff10b5_one``; ``rptOwnerStreet1`` -> ``rpt_owner_street1``."""
    return _WORD_BOUNDARY.sub("_", name).lower()

# ---------------------------------------------------------------------------
# Column catalog: table -> ordered {column: kind}. Key columns (accession_number,
# sequence) are not listed; every table below has them.
# ---------------------------------------------------------------------------

# Document-level leaves of <ownershipDocument>, plus the issuer as reported.
FILING_DOCUMENT_COLUMNS: dict[str, Kind] = {
    "schema_version": Kind.TEXT,
    "document_type": Kind.TEXT,
    "period_of_report": Kind.DATE,
    "date_of_original_submission": Kind.DATE,
    "no_securities_owned": Kind.BOOL,
    "not_subject_to_section16": Kind.BOOL,
    "form3_holdings_reported": Kind.BOOL,
    "form4_transactions_reported": Kind.BOOL,
    "aff10b5_one": Kind.BOOL,
    "remarks": Kind.TEXT,
    "issuer_cik": Kind.CIK,
    "issuer_name": Kind.TEXT,
    "issuer_trading_symbol": Kind.TEXT,
    "issuer_foreign_trading_symbol": Kind.TEXT,
}

# Every column of ``filings`` that parsing fills, in table order: the accession, the form type
# (header, else documentType), the document-level leaves, what the SGML header says, and how
# the parse went. ``models.schema`` builds the table from this list and ``ingest.rows`` builds
# each row from it; the loader adds LOAD_COLUMNS (where the bytes came from, their hash, the
# parser version).
FILING_HEADER_COLUMNS = ("filed_date", "accepted_at", "header_period", "filer_ciks")
FILING_PARSE_COLUMNS = ("parsed", "parse_error", "source_kind")
FILING_COLUMNS: tuple[str, ...] = (
    "accession_number", "form_type", *FILING_DOCUMENT_COLUMNS, *FILING_HEADER_COLUMNS,
    *FILING_PARSE_COLUMNS,
)
FILING_LOAD_COLUMNS = ("source_name", "raw_sha256", "parser_version")

OWNER_COLUMNS: dict[str, Kind] = {
    "rpt_owner_cik": Kind.CIK,
    "rpt_owner_name": Kind.TEXT,
    "rpt_owner_street1": Kind.TEXT,
    "rpt_owner_street2": Kind.TEXT,
    "rpt_owner_city": Kind.TEXT,
    "rpt_owner_state": Kind.TEXT,
    "rpt_owner_zip_code": Kind.TEXT,
    "rpt_owner_state_description": Kind.TEXT,
    "rpt_owner_country": Kind.TEXT,
    "rpt_owner_non_us_state_territory": Kind.TEXT,
    "rpt_owner_non_us_address_flag": Kind.BOOL,
    "rpt_owner_good_address": Kind.BOOL,
    "is_director": Kind.BOOL,
    "is_officer": Kind.BOOL,
    "is_ten_percent_owner": Kind.BOOL,
    "is_other": Kind.BOOL,
    "officer_title": Kind.TEXT,
    "other_text": Kind.TEXT,
}

_ENTRY_COMMON: dict[str, Kind] = {
    "security_title": Kind.TEXT,
}
_TRANSACTION: dict[str, Kind] = {
    "transaction_date": Kind.DATE,
    "deemed_execution_date": Kind.DATE,
    "transaction_form_type": Kind.TEXT,
    "transaction_code": Kind.TEXT,
    "equity_swap_involved": Kind.BOOL,
    "transaction_timeliness": Kind.TEXT,
    "transaction_shares": Kind.NUMERIC,
    "transaction_total_value": Kind.NUMERIC,
    # X0101 (2003) documents give the price as transactionValue inside transactionAmounts.
    "transaction_value": Kind.NUMERIC,
    "transaction_price_per_share": Kind.NUMERIC,
    "transaction_acquired_disposed_code": Kind.TEXT,
}
_DERIVATIVE: dict[str, Kind] = {
    "conversion_or_exercise_price": Kind.NUMERIC,
    "exercise_date": Kind.DATE,
    "expiration_date": Kind.DATE,
    "underlying_security_title": Kind.TEXT,
    "underlying_security_shares": Kind.NUMERIC,
    "underlying_security_value": Kind.NUMERIC,
}
_POST_AND_NATURE: dict[str, Kind] = {
    "shares_owned_following_transaction": Kind.NUMERIC,
    "value_owned_following_transaction": Kind.NUMERIC,
    "direct_or_indirect_ownership": Kind.TEXT,
    "nature_of_ownership": Kind.TEXT,
}

# Holdings carry no transaction, but Form 5 (and 3/A) holdings may carry a
# transactionCoding with only transactionFormType; X0101-era documents can carry
# more, so holdings keep the coding columns too rather than lose a value.
ENTRY_TABLES: dict[str, dict[str, Kind]] = {
    "non_derivative_transactions": {**_ENTRY_COMMON, **_TRANSACTION, **_POST_AND_NATURE},
    "non_derivative_holdings": {
        **_ENTRY_COMMON,
        "transaction_form_type": Kind.TEXT,
        **_POST_AND_NATURE,
    },
    "derivative_transactions": {
        **_ENTRY_COMMON,
        "conversion_or_exercise_price": Kind.NUMERIC,
        **_TRANSACTION,
        **{k: v for k, v in _DERIVATIVE.items() if k != "conversion_or_exercise_price"},
        **_POST_AND_NATURE,
    },
    "derivative_holdings": {
        **_ENTRY_COMMON,
        "conversion_or_exercise_price": Kind.NUMERIC,
        "transaction_form_type": Kind.TEXT,
        **{k: v for k, v in _DERIVATIVE.items() if k != "conversion_or_exercise_price"},
        **_POST_AND_NATURE,
    },
}

# The entry tables of transactions (the others hold holdings).
TRANSACTION_TABLES: tuple[str, ...] = tuple(
    name for name, columns in ENTRY_TABLES.items() if "transaction_code" in columns
)

# Columns of a transaction row computed from its filing's own footnotes when the row is
# built (``ingest.rows.add_line_footnotes``), after the catalog's columns: the ids of the
# footnotes that annotate any value of the line, and whether one of them mentions a
# Rule 10b5-1 plan. Stored so that a line's footnotes need no read of
# ``footnote_references`` and plan sales no read of every footnote's text (migration 0013).
LINE_FOOTNOTE_COLUMNS = ("footnote_ids", "footnote_mentions_10b5_1")

# XML entry element -> table name.
ENTRY_ELEMENTS: dict[str, str] = {
    "nonDerivativeTransaction": "non_derivative_transactions",
    "nonDerivativeHolding": "non_derivative_holdings",
    "derivativeTransaction": "derivative_transactions",
    "derivativeHolding": "derivative_holdings",
}


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------

Value = str | date | Decimal | bool | int | None


@dataclass(slots=True)
class HeaderFiler:
    """One filer named in the SGML header (the issuer, or a reporting owner)."""

    role: str  # "issuer" | "reporting-owner" | "filer" | "subject-company"
    cik: int | None
    name: str | None


@dataclass(slots=True)
class SubmissionHeader:
    """What the SGML header of a full submission says about it."""

    accession_number: str | None = None
    form_type: str | None = None  # CONFORMED SUBMISSION TYPE / <TYPE>
    filed_date: date | None = None  # FILED AS OF DATE / <FILING-DATE>
    accepted_at: datetime | None = None  # ACCEPTANCE-DATETIME, tz-aware (America/New_York)
    period: date | None = None  # CONFORMED PERIOD OF REPORT / <PERIOD>
    filers: list[HeaderFiler] = field(default_factory=list)


@dataclass(slots=True)
class FootnoteRef:
    """Footnote ``footnote_id`` annotates ``column_name`` of row ``sequence`` of ``table_name``.

    Document-level and table-level references have ``sequence`` None; a reference
    inside a reporting owner has table ``filing_owners`` and that owner's sequence.
    """

    footnote_id: str
    table_name: str
    sequence: int | None
    column_name: str


@dataclass(slots=True)
class Unmapped:
    """A value found in the document that has no column, or could not be converted.

    Kept verbatim (never dropped) so that nothing in a filing is lost silently.
    """

    path: str  # e.g. "nonDerivativeTransaction[2]/transactionShares/value"
    raw_value: str
    reason: str


@dataclass(slots=True)
class OwnershipDocument:
    """Everything an <ownershipDocument> says, typed and keyed by column names.

    ``unmapped_entries`` lists where a transaction or holding entry (or a table of them)
    reached no table: its values are in ``unmapped``, and the filing is not ``parsed``.
    """

    filing: dict[str, Value]  # columns of FILING_DOCUMENT_COLUMNS present in the document
    owners: list[dict[str, Value]]  # columns of OWNER_COLUMNS, in document order
    # table name -> rows in document order; sequence = index + 1
    entries: dict[str, list[dict[str, Value]]]
    footnotes: list[tuple[str, str]]  # (footnote_id, text) in document order
    footnote_refs: list[FootnoteRef]
    signatures: list[tuple[str | None, date | None]]  # (signature_name, signature_date)
    unmapped: list[Unmapped]
    unmapped_entries: list[str] = field(default_factory=list)


# parse_error of a filing whose document was read but some of whose transaction or holding
# entries reached no table. Its rows that did map are stored; it has parsed = false, so
# "parse_error LIKE UNMAPPED_ENTRIES || '%'" counts such filings.
UNMAPPED_ENTRIES = "entries not mapped to a table (kept in unmapped_values)"
# parse_error of a submission that holds no ownership document, by what it holds instead.
NO_OWNERSHIP_XML = "no ownership XML document in the submission"
NO_XML_DOCUMENT = (
    "no XML document in the submission: a text filing (ownership XML began in 2003), kept unparsed"
)
NO_DOCUMENTS = "no documents in the submission (header only)"


# Electronic filing of Forms 3, 4 and 5 (as ownership XML) became mandatory on 30 June 2003
# (SEC Release 33-8230, "Mandated Electronic Filing and Web Site Posting for Forms 3, 4 and 5").
XML_MANDATORY_FROM = date(2003, 6, 30)
NOTHING_TO_PARSE = frozenset({NO_XML_DOCUMENT, NO_DOCUMENTS})


def is_parse_problem(parse_error: str | None, filed: date | None) -> bool:
    """Whether a stored filing's parse_error needs attention (an ``ingest_errors`` row, a run's
    "stored unparsed" count, exit 1). A filing from before ownership XML (a text filing, a
    header) is kept unparsed with its reason: nothing to parse is no error then. Filed since,
    or on an unknown date, it is."""
    if parse_error is None:
        return False
    if parse_error in NOTHING_TO_PARSE:
        return filed is None or filed >= XML_MANDATORY_FROM
    return True


def unmapped_entries_error(paths: list[str], shown: int = 3) -> str:
    """UNMAPPED_ENTRIES, naming the first ``shown`` of the elements that reached no table."""
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return f"{UNMAPPED_ENTRIES}: {', '.join(paths[:shown])}{more}"


@dataclass(slots=True)
class ParsedFiling:
    """The parser's whole output for one input file (a submission or a bare XML).

    ``document`` is None when the input holds no ownership XML (pre-2003 text
    filings, header-only files) or when the XML could not be parsed; then
    ``parse_error`` says why. A document with entries that reached no table comes with
    ``parse_error`` UNMAPPED_ENTRIES. ``parsed``: a document, and no parse_error.
    """

    accession_number: str
    source_kind: str  # "submission" (full .txt/.nc/SGML) or "xml" (bare ownership XML)
    header: SubmissionHeader | None
    document: OwnershipDocument | None
    parse_error: str | None
    raw: bytes  # the input exactly as read (decompressed), for the raw store

    @property
    def form_type(self) -> str | None:
        if self.header and self.header.form_type:
            return self.header.form_type
        if self.document:
            doc_type = self.document.filing.get("document_type")
            return doc_type if isinstance(doc_type, str) else None
        return None

    @property
    def parsed(self) -> bool:
        return self.document is not None and self.parse_error is None


class ParseError(Exception):
    """The input cannot be read as a filing at all (no accession, not a filing, ...)."""

