"""ParsedFiling -> the rows of each table, as plain tuples. Pure (no database).

Built in the parse worker processes (``ingest.worker``), so that the loading process
only streams ready rows to PostgreSQL: turning documents into rows is per-value Python
work that parallelises, the COPY that follows does not. Imports only the record types
(a worker must stay lean). Column order follows ``models.schema``; ``ingest.load``
checks the table names and row widths against it when it is imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any, NamedTuple

from .records import (
    ENTRY_TABLES,
    FILING_COLUMNS,
    FILING_DOCUMENT_COLUMNS,
    OWNER_COLUMNS,
    TRANSACTION_TABLES,
    ParsedFiling,
    SubmissionHeader,
)

OWNERS_TABLE = "filing_owners"
FOOTNOTES_TABLE = "footnotes"
FOOTNOTE_REFS_TABLE = "footnote_references"
SIGNATURES_TABLE = "owner_signatures"
UNMAPPED_TABLE = "unmapped_values"
# Every table rows are built for, in the order the loader writes them.
CHILD_TABLE_NAMES: tuple[str, ...] = (
    OWNERS_TABLE,
    *ENTRY_TABLES,
    FOOTNOTES_TABLE,
    FOOTNOTE_REFS_TABLE,
    SIGNATURES_TABLE,
    UNMAPPED_TABLE,
)

_OWNER_COLS = tuple(OWNER_COLUMNS)
_OWNER_SET = frozenset(OWNER_COLUMNS)
_FILING_DOC_SET = frozenset(FILING_DOCUMENT_COLUMNS)
_ENTRY_COLS = {name: tuple(cols) for name, cols in ENTRY_TABLES.items()}
_ENTRY_SETS = {name: frozenset(cols) for name, cols in ENTRY_TABLES.items()}

_HEADER_ISSUER_ROLES = ("issuer", "subject-company")  # pre-2001 headers say SUBJECT COMPANY

# Tickers filed as a placeholder: kept as reported in filings, never made the issuer's
# "latest ticker" (577 NONE/N/A in one quarter of SEC's data set alone).
PLACEHOLDER_TICKERS = frozenset({"NONE", "N/A", "NA", "-", "--", "NULL", "NOT APPLICABLE", "0"})


class IssuerRow(NamedTuple):
    """A filing's proposal for ``issuers`` (the latest name and ticker of a CIK), with the
    filing's ordering key (``k_filed``, ``k_period``) that decides which filing is newest."""

    cik: int
    name: str | None
    trading_symbol: str | None
    as_of: date | None
    last_accession_number: str
    k_filed: date | None
    k_period: date | None


class PersonRow(NamedTuple):
    """A filing's proposal for ``persons`` (a reporting owner's latest name)."""

    cik: int
    name: str | None
    as_of: date | None
    last_accession_number: str
    k_filed: date | None
    k_period: date | None


@dataclass(slots=True)
class EncodedRows:
    """Rows of one child table already encoded for ``COPY ... (FORMAT BINARY)``: the rows
    alone, without the format's header and trailer (``ingest.load.encode_children``).

    The data-set reader runs in a process of its own (``ingest.dataset_load``) and hands its
    rows over encoded: bytes cross the process boundary for almost nothing, where pickling
    the rows' Decimals and dates costs more than loading them.
    """

    data: bytes
    rows: int

    def __len__(self) -> int:
        return self.rows


@dataclass(slots=True)
class FilingRows:
    """Everything the loader writes for one filing.

    ``filing`` holds the ``filings`` columns of ``records.FILING_COLUMNS``, in that order;
    the loader appends ``records.FILING_LOAD_COLUMNS`` (the source name may come from the
    stored row). ``issuers``/``persons`` are the rows this filing proposes for the
    latest-name tables, with their ordering key. ``nul_problem`` says where a NUL
    character sits in a text value (PostgreSQL text cannot store one): such a filing
    is refused and recorded, not written.
    """

    accession_number: str
    source_kind: str
    parse_error: str | None
    filing: tuple
    children: dict[str, list[tuple] | EncodedRows]
    issuers: list[IssuerRow]
    persons: list[PersonRow]
    nul_problem: str | None = None

    @property
    def filed_date(self) -> date | None:
        return self.filing[_FILED_DATE]


_FILED_DATE = FILING_COLUMNS.index("filed_date")


def build_rows(parsed: ParsedFiling, source_name: str | None, raw_has_nul: bool) -> FilingRows:
    """All rows of one parsed filing (``raw_has_nul``: its raw bytes hold a NUL byte)."""
    issuers: list[IssuerRow] = []
    persons: list[PersonRow] = []
    latest_candidates(parsed, issuers, persons)
    nul_problem = None
    if raw_has_nul or has_nul(source_name):  # the cheap test first: NULs are rare
        nul_problem = find_nul(parsed, source_name)
    return FilingRows(
        accession_number=parsed.accession_number,
        source_kind=parsed.source_kind,
        parse_error=parsed.parse_error,
        filing=filing_values(parsed),
        children=child_rows(parsed),
        issuers=issuers,
        persons=persons,
        nul_problem=nul_problem,
    )


def filing_values(parsed: ParsedFiling) -> tuple:
    """The ``filings`` row of a parsed filing."""
    header = parsed.header
    doc = parsed.document.filing if parsed.document else _issuer_from_header(header)
    return filing_row(
        parsed.accession_number,
        parsed.form_type,
        [doc.get(c) for c in FILING_DOCUMENT_COLUMNS],
        filed_date=header.filed_date if header else None,
        accepted_at=header.accepted_at if header else None,
        header_period=header.period if header else None,
        filer_ciks=sorted({f.cik for f in header.filers if f.cik is not None}) if header else None,
        parsed=parsed.parsed,
        parse_error=parsed.parse_error,
        source_kind=parsed.source_kind,
    )


def filing_row(
    accession: str,
    form_type: str | None,
    document: Sequence[Any],
    *,
    filed_date: date | None,
    accepted_at: datetime | None,
    header_period: date | None,
    filer_ciks: list[int] | None,
    parsed: bool,
    parse_error: str | None,
    source_kind: str,
) -> tuple:
    """The ``filings`` values of ``FilingRows.filing``, in FILING_COLUMNS order; ``document``:
    the values of ``FILING_DOCUMENT_COLUMNS``, in catalog order."""
    if len(document) != len(FILING_DOCUMENT_COLUMNS):
        raise ValueError(f"{len(document)} document values for {len(FILING_DOCUMENT_COLUMNS)} columns")
    return _FILING_ROW_ORDER((*document, accession, form_type, filed_date, accepted_at,
                              header_period, filer_ciks, parsed, parse_error, source_kind))


# filing_row's values in FILING_COLUMNS order, picked by position (one C call per filing).
_FILING_ROW_INPUTS = (*FILING_DOCUMENT_COLUMNS, "accession_number", "form_type", "filed_date",
                      "accepted_at", "header_period", "filer_ciks", "parsed", "parse_error",
                      "source_kind")
if sorted(_FILING_ROW_INPUTS) != sorted(FILING_COLUMNS):
    raise RuntimeError("filing_row's inputs are not FILING_COLUMNS")
_FILING_ROW_ORDER = itemgetter(*(_FILING_ROW_INPUTS.index(c) for c in FILING_COLUMNS))


def _issuer_from_header(header: SubmissionHeader | None) -> dict[str, Any]:
    """An unparsed filing (pre-2003 text, header only) is still findable by its issuer."""
    for filer in header.filers if header else ():
        if filer.role in _HEADER_ISSUER_ROLES and filer.cik is not None:
            return {"issuer_cik": filer.cik, "issuer_name": filer.name}
    return {}


def issuer_ticker(symbol: object) -> str | None:
    if not isinstance(symbol, str):
        return None
    cleaned = symbol.strip()
    return None if not cleaned or cleaned.upper() in PLACEHOLDER_TICKERS else cleaned


def child_rows(parsed: ParsedFiling) -> dict[str, list[tuple]]:
    """Rows of every child table of ``filings`` (tables without rows left out)."""
    out: dict[str, list[tuple]] = {}
    doc = parsed.document
    if doc is None:
        return out
    acc = parsed.accession_number
    # (path, raw value, reason) found while building rows: kept, never dropped.
    extra: list[tuple[str, str, str]] = []
    _extra_keys(doc.filing, _FILING_DOC_SET, "ownershipDocument", extra)

    if doc.owners:
        owners = out[OWNERS_TABLE] = []
        for seq, owner in enumerate(doc.owners, 1):
            owners.append((acc, seq, *(owner.get(c) for c in _OWNER_COLS)))
            _extra_keys(owner, _OWNER_SET, f"reportingOwner[{seq}]", extra)

    for table, entries in doc.entries.items():
        cols = _ENTRY_COLS.get(table)
        if cols is None:  # a table the catalog does not know: keep its values verbatim
            for seq, entry in enumerate(entries, 1):
                _extra_keys(entry, frozenset(), f"{table}[{seq}]", extra)
            continue
        if not entries:
            continue
        allowed = _ENTRY_SETS[table]
        target = out.setdefault(table, [])
        for seq, entry in enumerate(entries, 1):
            target.append((acc, seq, *(entry.get(c) for c in cols)))
            _extra_keys(entry, allowed, f"{table}[{seq}]", extra)

    seen: set[str] = set()
    notes: list[tuple] = []
    for footnote_id, text in doc.footnotes:
        if footnote_id in seen:
            extra.append((f"footnotes/footnote[@id='{footnote_id}']", text or "",
                          "duplicate footnote id; the first one is kept in footnotes"))
            continue
        seen.add(footnote_id)
        notes.append((acc, footnote_id, text))
    if notes:
        out[FOOTNOTES_TABLE] = notes

    if doc.footnote_refs:
        out[FOOTNOTE_REFS_TABLE] = [
            (acc, ref.footnote_id, ref.table_name, ref.sequence, ref.column_name)
            for ref in doc.footnote_refs
        ]

    if doc.signatures:
        out[SIGNATURES_TABLE] = [
            (acc, seq, name, signed) for seq, (name, signed) in enumerate(doc.signatures, 1)
        ]

    unmapped = [
        (acc, seq, value.path, value.raw_value, value.reason)
        for seq, value in enumerate(doc.unmapped, 1)
    ]
    for offset, (path, raw_value, reason) in enumerate(extra, len(unmapped) + 1):
        unmapped.append((acc, offset, path, raw_value, reason))
    if unmapped:
        out[UNMAPPED_TABLE] = unmapped
    add_line_footnotes(out)
    return out


# A footnote mentions a Rule 10b5-1 trading plan when its text contains "10b5-1" in any
# case (SEC's own spelling, 17 CFR 240.10b5-1; not "10b-5", a different rule:
# https://github.com/dgunning/edgartools/issues/863). Migration 0013 states the same test
# in SQL for the rows it fills in (ILIKE '%10b5-1%'); tests/test_upgrades.py compares them.
PLAN_MENTION = "10b5-1"
_NOT_DIGITS = re.compile("[^0-9]")  # as migration 0013's regexp_replace: ASCII digits only


def footnote_order(footnote_id: str) -> tuple[bool, int, str]:
    """Footnotes in reading order: by the number in the id ("F2" before "F10"), then by id;
    ids without a digit last."""
    digits = _NOT_DIGITS.sub("", footnote_id)
    return (not digits, int(digits) if digits else 0, footnote_id)


def add_line_footnotes(children: dict[str, Any]) -> None:
    """Append ``records.LINE_FOOTNOTE_COLUMNS`` to every transaction row of one filing's
    ``children`` (rows as ``child_rows`` builds them): the distinct ids of the footnotes
    referenced by any value of the line, in ``footnote_order``, and whether the text of one
    of them mentions a Rule 10b5-1 plan (``PLAN_MENTION``). The footnotes are the filing's
    own: ``children``'s footnotes and footnote references."""
    tables = [t for t in TRANSACTION_TABLES if children.get(t)]
    if not tables:
        return
    line_ids: dict[tuple[str, int], set[str]] = {}
    for _, footnote_id, table, sequence, _ in children.get(FOOTNOTE_REFS_TABLE, ()):
        if sequence is not None:
            line_ids.setdefault((table, sequence), set()).add(footnote_id)
    plan = {note[1] for note in children.get(FOOTNOTES_TABLE, ())
            if note[2] and PLAN_MENTION in note[2].lower()}
    for table in tables:
        rows = children[table]
        for i, row in enumerate(rows):
            ids = line_ids.get((table, row[1]))
            rows[i] = ((*row, sorted(ids, key=footnote_order), not plan.isdisjoint(ids))
                       if ids else (*row, [], False))


def _extra_keys(
    row: dict[str, Any], allowed: frozenset[str], where: str, out: list[tuple[str, str, str]]
) -> None:
    if allowed.issuperset(row):
        return
    for key, value in row.items():
        if key not in allowed:
            out.append((f"{where}/{key}", "" if value is None else str(value),
                        "no column for this value in the catalog"))


def latest_candidates(parsed: ParsedFiling, issuers: list[IssuerRow], persons: list[PersonRow]) -> None:
    """Issuer/person rows this filing proposes, with its ordering key.

    From the ownership document when there is one, else from the SGML header.
    """
    header = parsed.header
    filed = header.filed_date if header else None
    doc = parsed.document
    period = doc.filing.get("period_of_report") if doc else None
    if period is None and header is not None:
        period = header.period
    acc = parsed.accession_number
    if doc is not None:
        cik = doc.filing.get("issuer_cik")
        if cik is not None:
            issuers.append(issuer_row(cik, doc.filing.get("issuer_name"),
                                      doc.filing.get("issuer_trading_symbol"), acc, filed, period))
        for owner in doc.owners:
            owner_cik = owner.get("rpt_owner_cik")
            if owner_cik is not None:
                persons.append(person_row(owner_cik, owner.get("rpt_owner_name"), acc, filed,
                                          period))
        return
    if header is None:
        return
    for filer in header.filers:
        if filer.cik is None:
            continue
        if filer.role in _HEADER_ISSUER_ROLES:
            issuers.append(issuer_row(filer.cik, filer.name, None, acc, filed, period))
        elif filer.role == "reporting-owner":
            persons.append(person_row(filer.cik, filer.name, acc, filed, period))


def issuer_row(
    cik: int, name: Any, symbol: object, accession: str, filed: date | None, period: Any,
) -> IssuerRow:
    """An ``issuers`` candidate: its values and the ordering key of the filing proposing it
    (as of the filed date, else the period)."""
    return IssuerRow(cik, name, issuer_ticker(symbol), filed or period, accession, filed, period)


def person_row(cik: int, name: Any, accession: str, filed: date | None, period: Any) -> PersonRow:
    """A ``persons`` candidate, as ``issuer_row``."""
    return PersonRow(cik, name, filed or period, accession, filed, period)


# ---------------------------------------------------------------------------
# NUL bytes: PostgreSQL text cannot hold them
# ---------------------------------------------------------------------------


def find_nul(parsed: ParsedFiling, source_name: str | None) -> str | None:
    """Where a NUL character sits in a text value of this filing, or None."""
    for path, value in _text_values(parsed, source_name):
        if has_nul(value):
            return f"NUL character in {path} (PostgreSQL text cannot store it)"
    return None


def has_nul(value: object) -> bool:
    return isinstance(value, str) and "\x00" in value


def _text_values(parsed: ParsedFiling, source_name: str | None) -> Iterator[tuple[str, Any]]:
    yield "source name", source_name
    yield "parse error", parsed.parse_error
    yield "accession number", parsed.accession_number
    if parsed.header:
        yield "header form type", parsed.header.form_type
        for filer in parsed.header.filers:
            yield f"header {filer.role} name", filer.name
    doc = parsed.document
    if doc is None:
        return
    yield from (("document/" + k, v) for k, v in doc.filing.items())
    for i, owner in enumerate(doc.owners, 1):
        yield from ((f"reportingOwner[{i}]/{k}", v) for k, v in owner.items())
    for table, entries in doc.entries.items():
        for i, entry in enumerate(entries, 1):
            yield from ((f"{table}[{i}]/{k}", v) for k, v in entry.items())
    for footnote_id, text in doc.footnotes:
        yield f"footnote {footnote_id!r}", footnote_id
        yield f"footnote {footnote_id!r}", text
    for ref in doc.footnote_refs:
        yield "footnote reference", ref.footnote_id
        yield "footnote reference", ref.column_name
    for name, _ in doc.signatures:
        yield "signature name", name
    for value in doc.unmapped:
        yield f"unmapped {value.path}", value.path
        yield f"unmapped {value.path}", value.raw_value
        yield f"unmapped {value.path}", value.reason
