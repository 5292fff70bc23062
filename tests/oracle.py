"""An independent reading of a filing, to check the parser and the DB.

It walks the raw tree with plain lxml (not the parser's code path) and lists every
non-empty leaf value and every footnote reference as
``(table, sequence, column, value)`` / ``(footnote_id, table, sequence, column)``,
with values normalised by the column's kind (numbers as Decimal, dates as date,
flags as bool) so that "1.50" and "1.5" compare equal; every footnote's text; and, for a
full submission, the SGML header fields (read with plain regular expressions).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from ingest.records import (
    ENTRY_ELEMENTS,
    ENTRY_TABLES,
    FILING_DOCUMENT_COLUMNS,
    OWNER_COLUMNS,
    Kind,
    snake_case,
)

SIGNATURE_COLUMNS = {"signature_name": Kind.TEXT, "signature_date": Kind.DATE}
_KINDS = {
    "filings": FILING_DOCUMENT_COLUMNS,
    "filing_owners": OWNER_COLUMNS,
    "owner_signatures": SIGNATURE_COLUMNS,
    **ENTRY_TABLES,
}
# Elements that are deliberately not stored (a credential) or not values.
_SKIP = {"rptOwnerCcc"}


def _normalise(kind: Kind, text: str) -> object:
    text = text.strip()
    if kind is Kind.NUMERIC:
        return Decimal(text.replace(",", "")).normalize()
    if kind is Kind.DATE:
        return date.fromisoformat(text[:10])
    if kind is Kind.BOOL:
        return text.lower() in ("1", "true")
    if kind is Kind.CIK:
        return int(text)
    return text


def normalise_db_value(value: object) -> object:
    return value.normalize() if isinstance(value, Decimal) else value


# X0101 (2003) entry names: a transaction when it has any of these children, else a holding.
_LEGACY_ENTRIES = {
    "nonDerivativeSecurity": ("non_derivative_transactions", "non_derivative_holdings"),
    "derivativeSecurity": ("derivative_transactions", "derivative_holdings"),
}
_TRANSACTION_CHILDREN = {"transactionCoding", "transactionAmounts", "transactionDate"}
# Without comments and PIs, which are not content (the parser drops them too).
_PARSER = etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False)


def _root(xml: bytes) -> etree._Element:
    return etree.fromstring(xml.lstrip(), _PARSER)


def _entry_rows(root: etree._Element) -> dict[etree._Element, tuple[str, int]]:
    """Every entry element -> (table, sequence): numbered in document order per table,
    wherever the entry sits (in its table, or directly under the root as in X0101)."""
    rows: dict[etree._Element, tuple[str, int]] = {}
    counts: Counter = Counter()
    for elem in root.iter(*ENTRY_ELEMENTS, *_LEGACY_ENTRIES):
        if elem.tag in ENTRY_ELEMENTS:
            table = ENTRY_ELEMENTS[elem.tag]
        else:
            transaction = any(child.tag in _TRANSACTION_CHILDREN for child in elem)
            table = _LEGACY_ENTRIES[elem.tag][0 if transaction else 1]
        counts[table] += 1
        rows[elem] = (table, counts[table])
    return rows


def _locate(
    elem: etree._Element, entries: dict[etree._Element, tuple[str, int]]
) -> tuple[str, int | None] | None:
    """(table, sequence) of the row an element belongs to; None for footnotes."""
    for ancestor in elem.iterancestors():
        if ancestor in entries:
            return entries[ancestor]
        tag = ancestor.tag
        if tag == "reportingOwner":
            same = [s for s in ancestor.itersiblings(preceding=True) if s.tag == tag]
            return "filing_owners", len(same) + 1
        if tag == "ownerSignature":
            same = [s for s in ancestor.itersiblings(preceding=True) if s.tag == tag]
            return "owner_signatures", len(same) + 1
        if tag == "footnotes":
            return None
    return "filings", None


def expected_values(xml: bytes) -> Counter:
    """Counter of (table, sequence, column, normalised value) for every non-empty leaf."""
    root = _root(xml)
    entries = _entry_rows(root)
    found: Counter = Counter()
    for elem in root.iter():
        if not isinstance(elem.tag, str) or len(elem) or elem.tag in ("footnoteId", "footnote"):
            continue
        text = (elem.text or "").strip()
        if not text:
            continue
        leaf = elem.getparent() if elem.tag == "value" else elem
        if leaf.tag in _SKIP:
            continue
        where = _locate(leaf, entries)
        if where is None:
            continue
        table, sequence = where
        column = snake_case(leaf.tag)
        kind = _KINDS[table].get(column)
        if kind is None:
            continue  # not a column: the parser keeps it in unmapped_values (checked apart)
        found[(table, sequence, column, _normalise(kind, text))] += 1
    return found


def expected_refs(xml: bytes) -> Counter:
    """Counter of (footnote_id, table, sequence, column) for every <footnoteId>."""
    root = _root(xml)
    entries = _entry_rows(root)
    found: Counter = Counter()
    for elem in root.iter("footnoteId"):
        holder = elem.getparent()
        if holder in entries:  # directly on an entry: that row, the entry's name
            where: tuple[str, int | None] | None = entries[holder]
        else:
            where = _locate(holder, entries)
        table, sequence = where if where else ("filings", None)
        if holder.tag in ("nonDerivativeTable", "derivativeTable"):
            table, sequence = snake_case(holder.tag), None
        found[(elem.get("id"), table, sequence, snake_case(holder.tag))] += 1
    return found


def expected_footnotes(xml: bytes) -> dict[str, str]:
    """footnote id -> its whole text (markup inside left out), the first of a repeated id."""
    found: dict[str, str] = {}
    for footnotes in _root(xml).iterchildren("footnotes"):
        for note in footnotes.iterchildren("footnote"):
            footnote_id = (note.get("id") or "").strip()
            if footnote_id and footnote_id not in found:
                found[footnote_id] = "".join(note.itertext()).strip()
    return found


def parsed_footnotes(document) -> dict[str, str]:
    found: dict[str, str] = {}
    for footnote_id, text in document.footnotes:
        found.setdefault(footnote_id, text)
    return found


# -- the SGML header of a full submission -----------------------------------------------------

_HEADER_FIELDS = {
    "accession_number": (r"^\s*ACCESSION NUMBER:\s*(\S+)", r"<ACCESSION-NUMBER>([^<\r\n]*)"),
    "form_type": (r"^\s*CONFORMED SUBMISSION TYPE:\s*(.*?)\s*$", r"<TYPE>([^<\r\n]*)"),
    "filed_date": (r"^\s*FILED AS OF DATE:\s*(\d{8})", r"<FILING-DATE>(\d{8})"),
    "header_period": (r"^\s*CONFORMED PERIOD OF REPORT:\s*(\d{8})", r"<PERIOD>(\d{8})"),
    "accepted_at": (r"<ACCEPTANCE-DATETIME>(\d{14})",),
}
_CIKS = (r"^\s*CENTRAL INDEX KEY:\s*(\d+)\s*$", r"<CIK>(\d+)")


def expected_header(raw: bytes) -> dict[str, object]:
    """What the header (everything before the first <DOCUMENT>) says: accession, form type,
    filed date, period, acceptance time (wall clock, US Eastern, naive), every CIK named."""
    end = raw.find(b"<DOCUMENT>")
    text = (raw if end < 0 else raw[:end]).decode("latin-1")
    found: dict[str, object] = {}
    for name, patterns in _HEADER_FIELDS.items():
        first = None
        for pattern in patterns:
            match = re.search(pattern, text, re.MULTILINE)
            if match and match.group(1).strip() and (first is None or match.start() < first.start()):
                first = match
        value = first.group(1).strip() if first else None
        if value is not None and name in ("filed_date", "header_period"):
            value = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        elif value is not None and name == "accepted_at":
            value = datetime.strptime(value, "%Y%m%d%H%M%S")
        found[name] = value
    ciks = {int(m) for pattern in _CIKS for m in re.findall(pattern, text, re.MULTILINE)}
    found["filer_ciks"] = sorted(ciks) if ciks else None
    return found


def parsed_values(document) -> Counter:
    """The same view built from a parser OwnershipDocument."""
    found: Counter = Counter()
    for column, value in document.filing.items():
        found[("filings", None, column, normalise_db_value(value))] += 1
    for index, owner in enumerate(document.owners, 1):
        for column, value in owner.items():
            found[("filing_owners", index, column, normalise_db_value(value))] += 1
    for table, rows in document.entries.items():
        for index, row in enumerate(rows, 1):
            for column, value in row.items():
                found[(table, index, column, normalise_db_value(value))] += 1
    for index, (name, signed) in enumerate(document.signatures, 1):
        if name is not None:
            found[("owner_signatures", index, "signature_name", name)] += 1
        if signed is not None:
            found[("owner_signatures", index, "signature_date", signed)] += 1
    return found


def parsed_refs(document) -> Counter:
    return Counter(
        (r.footnote_id, r.table_name, r.sequence, r.column_name) for r in document.footnote_refs
    )
