"""Ownership XML (<ownershipDocument>, Forms 3/4/5 and amendments) -> OwnershipDocument.

Pure: bytes in, typed records out. The mapping is generic on purpose: a leaf element
lands in the column named by its element name in snake_case (see ``records``), so every
schema version (X0101 ... X0609) is read by the same code, and an element we have no
column for is kept in ``unmapped`` instead of being dropped.

Safety: ownership documents never carry a DTD, so any DOCTYPE/ENTITY declaration is
refused before parsing (no entity expansion, no external fetches); lxml is also told
not to resolve entities, load DTDs or touch the network, and keeps its default limits
on depth and text size (no ``huge_tree``).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from .records import (
    ENTRY_ELEMENTS,
    ENTRY_TABLES,
    FILING_DOCUMENT_COLUMNS,
    OWNER_COLUMNS,
    FootnoteRef,
    Kind,
    OwnershipDocument,
    Unmapped,
    Value,
    snake_case,
)

MAX_XML_BYTES = 10 * 1024 * 1024  # the largest real Form 4 is a few hundred KB

# The spec allows 0-999,999,999,999.9999; a value far beyond that is a typo or an
# attack, not a trade. Kept verbatim in unmapped_values, NULL in the column.
MAX_ABS_NUMBER = Decimal("1e18")

SIGNATURE_COLUMNS: dict[str, Kind] = {"signature_name": Kind.TEXT, "signature_date": Kind.DATE}

# X0101 (2003) used generic entry names; which table an entry belongs to is decided by
# whether it reports a transaction.
_LEGACY_ENTRY_ELEMENTS = {
    "nonDerivativeSecurity": ("non_derivative_transactions", "non_derivative_holdings"),
    "derivativeSecurity": ("derivative_transactions", "derivative_holdings"),
}
_TRANSACTION_MARKERS = frozenset({"transactionCoding", "transactionAmounts", "transactionDate"})

# rptOwnerCcc is the filer's EDGAR access code (a credential). EDGAR strips it before
# dissemination; should one ever appear we deliberately do not store it.
_NEVER_STORED = frozenset({"rptOwnerCcc"})

_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:?\d{2})?$")
_PLAIN_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_GROUPED_NUMBER_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
_DECLARATION_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)

_VALUE_HOLDER_CHILDREN = frozenset({"value", "footnoteId"})


class OwnershipXmlError(ValueError):
    """The bytes are not a readable, safe ownership document."""


def _make_parser(encoding: str | None = None) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        encoding=encoding,
    )


# lxml parsers are not thread-safe but are cheap to reuse within a thread; the
# ingest runs parsing in worker processes, one parser per process.
_PARSER = _make_parser()


def parse_ownership_xml(xml: bytes) -> OwnershipDocument:
    """Parse one <ownershipDocument>. Raises OwnershipXmlError with a clear message."""
    root = _parse_root(xml)
    return _DocumentReader(root).read()


def _parse_root(xml: bytes) -> etree._Element:
    if len(xml) > MAX_XML_BYTES:
        raise OwnershipXmlError(
            f"ownership XML is {len(xml):,} bytes, over the {MAX_XML_BYTES:,}-byte cap"
        )
    if _DECLARATION_RE.search(xml):
        raise OwnershipXmlError(
            "ownership XML contains a DOCTYPE or ENTITY declaration; refused "
            "(ownership documents never have one, and entities can be used as bombs)"
        )
    # Pretty-printed fixtures sometimes put whitespace before the XML declaration.
    xml = xml.lstrip()
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        if not _is_encoding_error(exc):
            raise OwnershipXmlError(f"malformed XML: {exc}") from exc
        root = _parse_mis_encoded(xml, exc)
    if root is None:
        raise OwnershipXmlError("empty XML document")
    tag = _local(root.tag)
    if tag != "ownershipDocument":
        raise OwnershipXmlError(f"not an ownership document: root element is <{tag}>")
    return root


def _is_encoding_error(exc: etree.XMLSyntaxError) -> bool:
    message = str(exc).lower()
    return "encoding" in message or "utf-8" in message or "bytes" in message


def _parse_mis_encoded(xml: bytes, original: etree.XMLSyntaxError) -> etree._Element:
    """Documents declared (or defaulted to) UTF-8 but written in Windows-1252 exist.

    Reading them as Windows-1252 keeps every character; a document that still fails
    is reported with the original error.
    """
    try:
        return etree.fromstring(xml, _make_parser("cp1252"))
    except (etree.XMLSyntaxError, LookupError, ValueError):
        raise OwnershipXmlError(f"malformed XML (bad encoding): {original}") from original


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2] if tag.startswith("{") else tag


class _DocumentReader:
    """Walks one document tree once, filling the parts of an OwnershipDocument."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.filing: dict[str, Value] = {}
        self.owners: list[dict[str, Value]] = []
        self.entries: dict[str, list[dict[str, Value]]] = {name: [] for name in ENTRY_TABLES}
        self.footnotes: list[tuple[str, str]] = []
        self.refs: list[FootnoteRef] = []
        self.signatures: list[tuple[str | None, date | None]] = []
        self.unmapped: list[Unmapped] = []

    def read(self) -> OwnershipDocument:
        for child in self.root:
            tag = _local(child.tag)
            if not tag:
                continue
            handler = self._SECTION_HANDLERS.get(tag)
            if handler is not None:
                handler(self, child, tag)
            elif tag in _NEVER_STORED:
                continue
            else:
                self._read_fields(child, FILING_DOCUMENT_COLUMNS, self.filing, "filings", None, "")
        return OwnershipDocument(
            filing=self.filing,
            owners=self.owners,
            entries=self.entries,
            footnotes=self.footnotes,
            footnote_refs=self.refs,
            signatures=self.signatures,
            unmapped=self.unmapped,
        )

    # -- sections ----------------------------------------------------------

    def _read_issuer(self, elem: etree._Element, tag: str) -> None:
        self._read_children(elem, FILING_DOCUMENT_COLUMNS, self.filing, "filings", None, tag)

    def _read_owner(self, elem: etree._Element, tag: str) -> None:
        sequence = len(self.owners) + 1
        row: dict[str, Value] = {}
        path = f"{tag}[{sequence}]"
        self._read_children(elem, OWNER_COLUMNS, row, "filing_owners", sequence, path)
        self.owners.append(row)

    def _read_table(self, elem: etree._Element, tag: str) -> None:
        table_column = snake_case(tag)
        for child in elem:
            child_tag = _local(child.tag)
            if not child_tag:
                continue
            table = ENTRY_ELEMENTS.get(child_tag) or self._legacy_table(child, child_tag)
            if table is not None:
                self._read_entry(child, f"{tag}/{child_tag}", table)
            elif child_tag == "footnoteId":
                self._add_ref(child, table_column, None, table_column, tag)
            else:
                self._keep(f"{tag}/{child_tag}", _text_of(child), "unknown element in table")

    def _legacy_table(self, elem: etree._Element, tag: str) -> str | None:
        tables = _LEGACY_ENTRY_ELEMENTS.get(tag)
        if tables is None:
            return None
        is_transaction = any(_local(c.tag) in _TRANSACTION_MARKERS for c in elem)
        return tables[0] if is_transaction else tables[1]

    def _read_entry(self, elem: etree._Element, path: str, table: str) -> None:
        rows = self.entries[table]
        sequence = len(rows) + 1
        row: dict[str, Value] = {}
        self._read_children(elem, ENTRY_TABLES[table], row, table, sequence, f"{path}[{sequence}]")
        rows.append(row)

    def _read_footnotes(self, elem: etree._Element, tag: str) -> None:
        for child in elem:
            child_tag = _local(child.tag)
            if child_tag == "footnote":
                footnote_id = (child.get("id") or "").strip()
                text = "".join(child.itertext()).strip()
                if footnote_id:
                    self.footnotes.append((footnote_id, text))
                else:
                    self._keep(f"{tag}/footnote", text, "footnote without an id")
            elif child_tag:
                self._keep(f"{tag}/{child_tag}", _text_of(child), "unknown element in footnotes")

    def _read_signature(self, elem: etree._Element, tag: str) -> None:
        sequence = len(self.signatures) + 1
        row: dict[str, Value] = {}
        path = f"{tag}[{sequence}]"
        self._read_children(elem, SIGNATURE_COLUMNS, row, "owner_signatures", sequence, path)
        name = row.get("signature_name")
        signed = row.get("signature_date")
        self.signatures.append(
            (name if isinstance(name, str) else None, signed if isinstance(signed, date) else None)
        )

    _SECTION_HANDLERS = {
        "issuer": _read_issuer,
        "reportingOwner": _read_owner,
        "nonDerivativeTable": _read_table,
        "derivativeTable": _read_table,
        "footnotes": _read_footnotes,
        "ownerSignature": _read_signature,
    }

    # -- generic leaf mapping ---------------------------------------------

    def _read_children(
        self,
        container: etree._Element,
        columns: dict[str, Kind],
        row: dict[str, Value],
        table: str,
        sequence: int | None,
        path: str,
    ) -> None:
        """Map every leaf below ``container`` into ``row``; footnoteIds become refs."""
        container_column = snake_case(_local(container.tag))
        for child in container:
            tag = _local(child.tag)
            if not tag:
                continue
            if tag == "footnoteId":
                self._add_ref(child, table, sequence, container_column, path)
            elif tag not in _NEVER_STORED:
                self._read_fields(child, columns, row, table, sequence, path)

    def _read_fields(
        self,
        elem: etree._Element,
        columns: dict[str, Kind],
        row: dict[str, Value],
        table: str,
        sequence: int | None,
        parent_path: str,
    ) -> None:
        tag = _local(elem.tag)
        path = f"{parent_path}/{tag}" if parent_path else tag
        if len(elem) == 0:
            self._set(row, columns, snake_case(tag), elem.text, path)
            return
        child_tags = {_local(c.tag) for c in elem}
        child_tags.discard("")
        if child_tags <= _VALUE_HOLDER_CHILDREN:
            self._read_value_holder(elem, columns, row, table, sequence, path)
        else:
            self._read_children(elem, columns, row, table, sequence, path)

    def _read_value_holder(
        self,
        elem: etree._Element,
        columns: dict[str, Kind],
        row: dict[str, Value],
        table: str,
        sequence: int | None,
        path: str,
    ) -> None:
        """``<x><value>..</value><footnoteId id=".."/>..</x>``: value optional if footnoted."""
        column = snake_case(_local(elem.tag))
        for child in elem:
            tag = _local(child.tag)
            if tag == "value":
                self._set(row, columns, column, child.text, f"{path}/value")
            elif tag == "footnoteId":
                self._add_ref(child, table, sequence, column, path)

    def _add_ref(
        self,
        elem: etree._Element,
        table: str,
        sequence: int | None,
        column: str,
        path: str,
    ) -> None:
        footnote_id = (elem.get("id") or "").strip()
        if footnote_id:
            self.refs.append(FootnoteRef(footnote_id, table, sequence, column))
        else:
            self._keep(f"{path}/footnoteId", "", "footnoteId without an id")

    def _set(
        self,
        row: dict[str, Value],
        columns: dict[str, Kind],
        column: str,
        text: str | None,
        path: str,
    ) -> None:
        if text is None:
            return
        text = text.strip()
        if not text:
            return
        kind = columns.get(column)
        if kind is None:
            self._keep(path, text, "no column for this element")
            return
        if column in row:
            self._keep(path, text, "element repeated; first value kept")
            return
        try:
            row[column] = convert(text, kind)
        except ValueError as exc:
            self._keep(path, text, str(exc))

    def _keep(self, path: str, raw_value: str, reason: str) -> None:
        self.unmapped.append(Unmapped(path, raw_value, reason))


def _text_of(elem: etree._Element) -> str:
    """A whole element as text, so an unknown element is kept, not lost."""
    if len(elem) == 0:
        return (elem.text or "").strip()
    return etree.tostring(elem, encoding="unicode", with_tail=False)


# ---------------------------------------------------------------------------
# Value conversion
# ---------------------------------------------------------------------------


def convert(text: str, kind: Kind) -> Value:
    """Convert a stripped, non-empty text to the column's kind; ValueError says why not."""
    if kind is Kind.TEXT:
        return text
    if kind is Kind.DATE:
        return parse_date(text)
    if kind is Kind.NUMERIC:
        return parse_decimal(text)
    if kind is Kind.BOOL:
        return parse_bool(text)
    if kind is Kind.CIK:
        return parse_cik(text)
    raise ValueError(f"unknown column kind {kind}")


def parse_date(text: str) -> date:
    """ISO date, with or without a timezone suffix (``2024-07-19-05:00`` is real)."""
    match = _DATE_RE.match(text)
    if match is None:
        raise ValueError("not a YYYY-MM-DD date")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"impossible date: {exc}") from exc


def parse_decimal(text: str) -> Decimal:
    if _PLAIN_NUMBER_RE.match(text):
        cleaned = text
    elif _GROUPED_NUMBER_RE.match(text):
        cleaned = text.replace(",", "")
    else:
        raise ValueError("not a number")
    try:
        number = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the regexes admit only numbers
        raise ValueError("not a number") from exc
    if abs(number) >= MAX_ABS_NUMBER:
        raise ValueError("absurd number (magnitude 1e18 or more)")
    return number


_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("not a boolean (1/0/true/false)")


def parse_cik(text: str) -> int:
    if not text.isdigit() or len(text) > 10:
        raise ValueError("not a CIK (up to 10 digits)")
    return int(text)
