"""An independent reading of an ownership XML document, to check the parser and the DB.

It walks the raw tree with plain lxml (not the parser's code path) and lists every
non-empty leaf value and every footnote reference as
``(table, sequence, column, value)`` / ``(footnote_id, table, sequence, column)``,
with values normalised by the column's kind (numbers as Decimal, dates as date,
flags as bool) so that "1.50" and "1.5" compare equal.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
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


def _locate(elem: etree._Element) -> tuple[str, int | None] | None:
    """(table, sequence) of the row an element belongs to; None for footnotes."""
    for ancestor in elem.iterancestors():
        tag = ancestor.tag
        if tag in ENTRY_ELEMENTS:
            same = [s for s in ancestor.itersiblings(preceding=True) if s.tag == tag]
            return ENTRY_ELEMENTS[tag], len(same) + 1
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
    root = etree.fromstring(xml.lstrip())
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
        where = _locate(leaf)
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
    root = etree.fromstring(xml.lstrip())
    found: Counter = Counter()
    for elem in root.iter("footnoteId"):
        holder = elem.getparent()
        if holder.tag in ENTRY_ELEMENTS:  # directly on an entry: that row, the entry's name
            same = [s for s in holder.itersiblings(preceding=True) if s.tag == holder.tag]
            where: tuple[str, int | None] | None = (ENTRY_ELEMENTS[holder.tag], len(same) + 1)
        else:
            where = _locate(holder)
        table, sequence = where if where else ("filings", None)
        if holder.tag in ("nonDerivativeTable", "derivativeTable"):
            table, sequence = snake_case(holder.tag), None
        found[(elem.get("id"), table, sequence, snake_case(holder.tag))] += 1
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
