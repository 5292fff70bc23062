"""Ownership XML (<ownershipDocument>, Forms 3/4/5 and amendments) -> OwnershipDocument.

Pure: bytes in, typed records out. The mapping is generic on purpose: a leaf element
lands in the column named by its element name in snake_case (see ``records``), so every
schema version (X0101 ... X0609) is read by the same code, and an element we have no
column for is kept in ``unmapped`` instead of being dropped.

Safety: ownership documents never carry a DTD, so any DOCTYPE/ENTITY declaration is
refused before parsing (no entity expansion, no external fetches), and again after
parsing for encodings the byte check cannot see (UTF-16/32); lxml is also told
not to resolve entities, load DTDs or touch the network, and keeps its default limits
on depth and text size (no ``huge_tree``).

Speed: this is the ingest's hot loop (about 200 elements per document, millions of
documents). Parsing is lxml's C code; the walk over the tree is Python, so it is written
to touch each element as few times as possible (see ``_DocumentReader``).
``benchmarks/bench_parse.py`` measures it.
"""

from __future__ import annotations

import codecs
import copy
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

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

# X0101 (2003) used generic entry names, and put the entries directly under the root with
# no table around them (public description: https://github.com/iangow/edgar/issues/42);
# which table an entry belongs to is decided by whether it reports a transaction.
_LEGACY_ENTRY_ELEMENTS = {
    "nonDerivativeSecurity": ("non_derivative_transactions", "non_derivative_holdings"),
    "derivativeSecurity": ("derivative_transactions", "derivative_holdings"),
}
_TRANSACTION_MARKERS = frozenset({"transactionCoding", "transactionAmounts", "transactionDate"})

# rptOwnerCcc is the filer's EDGAR access code (a credential). EDGAR strips it before
# dissemination; should one ever appear we deliberately do not store it.
_NEVER_STORED = frozenset({"rptOwnerCcc"})

# ASCII digits only: Python's \d, isdecimal() and Decimal() also take other scripts'
# digits (Arabic-Indic, fullwidth...), which no SEC filing means as a number; such a value
# is kept verbatim in unmapped_values instead.
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:?\d{2})?$", re.ASCII)
_PLAIN_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$", re.ASCII)
_GROUPED_NUMBER_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$", re.ASCII)
_DECLARATION_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_LESS_THAN = ord("<")
# How many "!" not preceded by "<" are skipped one by one before the regex takes over.
_CHEAP_DECLARATION_PROBES = 8

# The local names a value holder's (<x><value>..</value><footnoteId/></x>) children may
# have; "" stands for comments, PIs and entities, which do not make an element a group.
_VALUE_HOLDER_PARTS = frozenset({"", "value", "footnoteId"})


class OwnershipXmlError(ValueError):
    """The bytes are not a readable, safe ownership document."""


def _make_parser(encoding: str | None = None, keep_blank_text: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        # Whitespace-only text between elements (the indentation) is a third of the
        # nodes of a pretty-printed document; not building them makes parsing ~25%
        # cheaper. Values never depend on it: a leaf's text is stripped, and libxml2
        # only drops a blank run that has no text before it in its element. Mixed
        # content (a footnote or unknown element with child elements) does depend on
        # it, and is re-read from an exact tree: see parse_ownership_xml.
        remove_blank_text=not keep_blank_text,
        encoding=encoding,
    )


# lxml parsers are not thread-safe but are cheap to reuse within a thread; the
# ingest runs parsing in worker processes, one parser per process.
_PARSER = _make_parser()
_EXACT_PARSER = _make_parser(keep_blank_text=True)
# For documents decoded byte by byte (see _parse_mis_encoded), re-encoded as UTF-8.
_UTF8_PARSERS = {flag: _make_parser("utf-8", keep_blank_text=flag) for flag in (False, True)}


class _NeedsExactWhitespace(Exception):
    """A value depends on whitespace-only text, which the fast parse dropped."""


def parse_ownership_xml(xml: bytes) -> OwnershipDocument:
    """Parse one <ownershipDocument>. Raises OwnershipXmlError with a clear message."""
    root = _parse_root(xml, keep_blank_text=False)
    try:
        return _DocumentReader(root, exact=False).read()
    except _NeedsExactWhitespace:
        # Rare (mixed content in a footnote or an unknown element): read again from a
        # tree that keeps every text node, so the result is exactly what it would be
        # without the fast parse.
        return _DocumentReader(_parse_root(xml, keep_blank_text=True), exact=True).read()


# ---------------------------------------------------------------------------
# Parsing, safely
# ---------------------------------------------------------------------------


def _parse_root(xml: bytes, keep_blank_text: bool) -> etree._Element:
    if len(xml) > MAX_XML_BYTES:
        raise OwnershipXmlError(
            f"ownership XML is {len(xml):,} bytes, over the {MAX_XML_BYTES:,}-byte cap"
        )
    if _has_declaration(xml):
        raise OwnershipXmlError(_DECLARATION_REFUSED)
    # Pretty-printed fixtures sometimes put whitespace before the XML declaration.
    xml = xml.lstrip()
    try:
        root = etree.fromstring(xml, _EXACT_PARSER if keep_blank_text else _PARSER)
    except etree.XMLSyntaxError as exc:
        if not _is_encoding_error(exc):
            raise OwnershipXmlError(f"malformed XML: {exc}") from exc
        root = _parse_mis_encoded(xml, exc, keep_blank_text)
    if root is None:
        raise OwnershipXmlError("empty XML document")
    # The byte check above only sees ASCII-compatible encodings; a declaration written
    # in UTF-16/UTF-32 (or EBCDIC) is caught here, on the parsed tree (once per document).
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise OwnershipXmlError(_DECLARATION_REFUSED)
    tag = _local(root.tag)
    if tag != "ownershipDocument":
        raise OwnershipXmlError(f"not an ownership document: root element is <{tag}>")
    return root


_DECLARATION_REFUSED = (
    "ownership XML contains a DOCTYPE or ENTITY declaration; refused "
    "(ownership documents never have one, and entities can be used as bombs)"
)


def _has_declaration(xml: bytes) -> bool:
    """True when the bytes hold a DOCTYPE or ENTITY declaration anywhere.

    Every declaration starts with ``<!``. Searching for the single byte ``!`` runs at
    memchr speed, an order of magnitude faster than searching for two bytes (or running
    the regex) over the whole document, and most documents hold no ``!`` at all. After a
    few ``!`` that do not follow a ``<`` (exclamations in remarks) the regex scans the
    rest, so the cost stays bounded whatever the input.
    """
    start = 0
    for _ in range(_CHEAP_DECLARATION_PROBES):
        bang = xml.find(b"!", start)
        if bang < 0:
            return False
        if bang > 0 and xml[bang - 1] == _LESS_THAN:
            return _DECLARATION_RE.search(xml, bang - 1) is not None
        start = bang + 1
    return _DECLARATION_RE.search(xml, start) is not None


def _is_encoding_error(exc: etree.XMLSyntaxError) -> bool:
    message = str(exc).lower()
    return "encoding" in message or "utf-8" in message or "bytes" in message


def _parse_mis_encoded(
    xml: bytes, original: etree.XMLSyntaxError, keep_blank_text: bool
) -> etree._Element:
    """Documents declared (or defaulted to) UTF-8 but with Windows-1252 bytes exist.

    Such a document is decoded byte by byte: valid UTF-8 stays UTF-8, and only the bytes
    that are not UTF-8 are read as Windows-1252 (Latin-1 for the five bytes it leaves
    undefined), so one stray byte does not garble the rest. A document declared in
    another encoding is re-read as Windows-1252 as a whole. A document that still fails
    is reported with the original error.
    """
    try:
        if _declares_other_encoding(xml):
            return etree.fromstring(xml, _make_parser("cp1252", keep_blank_text))
        text = xml.decode("utf-8", errors=_CP1252_BYTES)
        if text.startswith("\ufeff"):
            text = text[1:]
        return etree.fromstring(text.encode("utf-8"), _UTF8_PARSERS[keep_blank_text])
    except (etree.XMLSyntaxError, LookupError, ValueError):
        raise OwnershipXmlError(f"malformed XML (bad encoding): {original}") from original


_ENCODING_DECLARATION_RE = re.compile(
    rb"<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._:-]*)[\"']", re.IGNORECASE
)
_UTF8_NAMES = frozenset({b"utf-8", b"utf8"})


def _declares_other_encoding(xml: bytes) -> bool:
    """Whether the document says (by BOM, layout or declaration) it is not UTF-8."""
    head = xml[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        return True  # UTF-16/UTF-32
    if not xml.startswith(b"<?xml") and not xml.startswith(b"\xef\xbb\xbf<?xml"):
        return False  # no declaration: UTF-8 by default
    match = _ENCODING_DECLARATION_RE.match(xml, 3 if xml[:1] == b"\xef" else 0)
    return match is not None and match.group(1).lower() not in _UTF8_NAMES


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: each byte that is not UTF-8 as Windows-1252 (else Latin-1)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    chars = []
    for byte in exc.object[exc.start : exc.end]:
        try:
            chars.append(bytes((byte,)).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(byte))
    return "".join(chars), exc.end


_CP1252_BYTES = "ownership-xml-cp1252-bytes"
codecs.register_error(_CP1252_BYTES, _cp1252_bytes)


def _local(tag: object) -> str:
    """The element name without its namespace; "" for comments, PIs and entities.

    Ownership documents are (in practice) never namespaced, so the hot paths compare
    raw tags with the names they expect and call this only when that fails.
    """
    if not isinstance(tag, str):
        return ""
    return tag if tag[0] != "{" else tag.rpartition("}")[2]


def _join(parent_path: str, name: str) -> str:
    return f"{parent_path}/{name}" if parent_path else name


# Where an element is, to label values kept in ``unmapped``: a path, or (the location
# of its parent, its tag). The pair costs next to nothing to make; the path string is
# only built, by _path_of, when a value is actually kept.
_Location: TypeAlias = str | tuple["_Location", str]


def _path_of(location: _Location) -> str:
    if isinstance(location, str):
        return location
    parent, tag = location
    return _join(_path_of(parent), _local(tag))


# ---------------------------------------------------------------------------
# The tree walk
# ---------------------------------------------------------------------------


class _DocumentReader:
    """Walks one document tree once, filling the parts of an OwnershipDocument.

    How it stays fast, in lxml terms: every ``.tag``/``.text`` access builds a new str
    and every element handed to Python is a new proxy object, so each element is
    fetched once and its tag and text read once; children are taken as a list
    (``elem[:]``, built in C) rather than through lxml's costly child iterator; a tag is
    looked up raw in a per-table dict (``_TableColumns``) rather than namespace-stripped
    and snake_cased each time; the path of a value is only built when it is actually
    kept in ``unmapped``.
    """

    def __init__(self, root: etree._Element, exact: bool) -> None:
        self.root = root
        self.exact = exact  # whether the tree keeps whitespace-only text nodes
        self.filing: dict[str, Value] = {}
        self.owners: list[dict[str, Value]] = []
        self.entries: dict[str, list[dict[str, Value]]] = {name: [] for name in ENTRY_TABLES}
        self.footnotes: list[tuple[str, str]] = []
        self.refs: list[FootnoteRef] = []
        self.signatures: list[tuple[str | None, date | None]] = []
        self.unmapped: list[Unmapped] = []
        self.unmapped_entries: list[str] = []

    def read(self) -> OwnershipDocument:
        root = self.root
        # Text beside the root's children is kept at the root's name (paths omit the root).
        if root.text is not None:
            self._keep_text(root.text, "ownershipDocument")
        for child in root[:]:
            if child.tail is not None:
                self._keep_text(child.tail, "ownershipDocument")
            tag = child.tag
            name = _local(tag)  # the root has a dozen children: no need for a fast path
            if not name or name in _NEVER_STORED:
                continue
            if name == "footnoteId":
                # Refers to no field; kept whole (its id, and any content).
                self._keep(name, self._markup_of(child, whole=True), _ROOT_REF)
                continue
            handler = self._SECTION_HANDLERS.get(name)
            if handler is not None:
                handler(self, child, name)
                continue
            spec = _FILING_COLUMNS.spec(tag)
            if spec[1] is _no_column and _holds_entry_values(child):
                self.unmapped_entries.append(name)  # e.g. a misnamed table or entry
            self._read_field(child, tag, spec, _FILING_COLUMNS, self.filing, None, "")
        return OwnershipDocument(
            filing=self.filing,
            owners=self.owners,
            entries=self.entries,
            footnotes=self.footnotes,
            footnote_refs=self.refs,
            signatures=self.signatures,
            unmapped=self.unmapped,
            unmapped_entries=self.unmapped_entries,
        )

    # -- sections ----------------------------------------------------------

    def _read_issuer(self, elem: etree._Element, tag: str) -> None:
        if elem.text is not None:
            self._keep_text(elem.text, tag)
        self._read_group(elem[:], tag, _FILING_COLUMNS, self.filing, None, tag)

    def _read_owner(self, elem: etree._Element, tag: str) -> None:
        sequence = len(self.owners) + 1
        row: dict[str, Value] = {}
        path = f"{tag}[{sequence}]"
        if elem.text is not None:
            self._keep_text(elem.text, path)
        self._read_group(elem[:], tag, _OWNER_COLUMNS, row, sequence, path)
        self.owners.append(row)

    def _read_table(self, elem: etree._Element, tag: str) -> None:
        table_column = snake_case(tag)
        if elem.text is not None:
            self._keep_text(elem.text, tag)
        for child in elem[:]:
            if child.tail is not None:
                self._keep_text(child.tail, tag)
            child_tag = _local(child.tag)
            if not child_tag or child_tag in _NEVER_STORED:
                continue
            table = ENTRY_ELEMENTS.get(child_tag) or self._legacy_table(child, child_tag)
            if table is not None:
                self._read_entry(child, child_tag, f"{tag}/{child_tag}", table)
            elif child_tag == "footnoteId":
                if not self._add_ref(child, table_column, None, table_column):
                    self._keep_idless_ref(tag)
                self._check_ref_content(child, tag)
            else:
                path = f"{tag}/{child_tag}"
                self.unmapped_entries.append(path)
                self._keep(path, self._markup_of(child), "unknown element in table")

    def _read_root_entry(self, elem: etree._Element, tag: str) -> None:
        """An entry directly under the root, with no table around it (X0101)."""
        table = ENTRY_ELEMENTS.get(tag) or self._legacy_table(elem, tag)
        assert table is not None  # only entry names are dispatched here
        self._read_entry(elem, tag, tag, table)

    def _legacy_table(self, elem: etree._Element, tag: str) -> str | None:
        tables = _LEGACY_ENTRY_ELEMENTS.get(tag)
        if tables is None:
            return None
        is_transaction = any(_local(c.tag) in _TRANSACTION_MARKERS for c in elem)
        return tables[0] if is_transaction else tables[1]

    def _read_entry(self, elem: etree._Element, tag: str, path: str, table: str) -> None:
        rows = self.entries[table]
        sequence = len(rows) + 1
        row: dict[str, Value] = {}
        columns = _ENTRY_COLUMNS[table]
        path = f"{path}[{sequence}]"
        if elem.text is not None:
            self._keep_text(elem.text, path)
        self._read_group(elem[:], tag, columns, row, sequence, path)
        rows.append(row)

    def _read_footnotes(self, elem: etree._Element, tag: str) -> None:
        if elem.text is not None:
            self._keep_text(elem.text, tag)
        for child in elem[:]:
            if child.tail is not None:
                self._keep_text(child.tail, tag)
            child_tag = _local(child.tag)
            if child_tag == "footnote":
                footnote_id = (child.get("id") or "").strip()
                text = self._text_within(child)
                if footnote_id:
                    self.footnotes.append((footnote_id, text))
                else:
                    self._keep(f"{tag}/footnote", text, "footnote without an id")
            elif child_tag and child_tag not in _NEVER_STORED:
                markup = self._markup_of(child)
                self._keep(f"{tag}/{child_tag}", markup, "unknown element in footnotes")

    def _read_signature(self, elem: etree._Element, tag: str) -> None:
        sequence = len(self.signatures) + 1
        row: dict[str, Value] = {}
        path = f"{tag}[{sequence}]"
        if elem.text is not None:
            self._keep_text(elem.text, path)
        self._read_group(elem[:], tag, _SIGNATURE_COLUMNS, row, sequence, path)
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
        **dict.fromkeys([*ENTRY_ELEMENTS, *_LEGACY_ENTRY_ELEMENTS], _read_root_entry),
    }

    # -- generic leaf mapping ---------------------------------------------
    #
    # Inside a section every element is one of: a leaf (its text goes to the column
    # named after it); a value holder, <x><value>..</value><footnoteId/>..</x> (the
    # value goes to x's column, the footnoteIds refer to x's column); a footnoteId
    # (refers to the enclosing element); or a group of further such elements.

    def _read_group(
        self,
        children: list[etree._Element],
        group_tag: str,
        columns: _TableColumns,
        row: dict[str, Value],
        sequence: int | None,
        path: _Location,
    ) -> None:
        """Map every field among a group's ``children`` into ``row``.

        A footnoteId among them refers to the group itself, named ``group_tag``. ``path``
        (never empty) locates the group for values kept in ``unmapped``. The loop body is
        ``_read_field`` with the two commonest cases, a leaf and a holder of just a
        <value>, handled in place: nearly every element of a document passes here.
        """
        fields = columns.by_tag
        for child in children:
            if child.tail is not None:  # text beside the group's children (mixed content)
                self._keep_text(child.tail, path)
            tag = child.tag
            spec = fields.get(tag)
            if spec is None:
                spec = self._unusual_child(child, tag, group_tag, columns, sequence, path)
                if spec is None:
                    continue
            count = len(child)
            if count == 0:
                text = child.text
            elif (
                count == 1
                and (only := child[0]).tag == "value"
                and not len(only)
                and only.tail is None
                and child.text is None
            ):
                text = only.text
            else:
                # A value holder with footnoteIds or unusual content, or a nested group
                # (_read_nested, inlined).
                parts = child[:]
                if child.text is not None:
                    self._keep_text(child.text, (path, tag))
                if _holds_a_value(parts):
                    self._read_value_holder(parts, tag, spec, columns.table, row, sequence, path)
                else:
                    self._read_group(parts, tag, columns, row, sequence, (path, tag))
                continue
            if text is None:
                continue
            text = text.strip()
            if not text:
                continue
            column, convert = spec  # _store, inlined
            if column in row:
                reason = _REPEATED
            else:
                try:
                    row[column] = convert(text)
                    continue
                except ValueError as exc:
                    reason = str(exc)
            where = _path_of((path, tag))
            self._keep(f"{where}/value" if count else where, text, reason)

    def _unusual_child(
        self,
        child: etree._Element,
        tag: object,
        group_tag: str,
        columns: _TableColumns,
        sequence: int | None,
        path: _Location,
    ) -> ColumnSpec | None:
        """A group's child whose tag is not a remembered field (the rare case).

        A footnoteId becomes a reference to the group; comments, PIs and credentials are
        skipped; anything else is a field named by the column rule. Returns the field's
        column, or None when there is nothing more to do with the child.
        """
        local = _local(tag)
        if local == "footnoteId":
            group_column = snake_case(_local(group_tag))
            if not self._add_ref(child, columns.table, sequence, group_column):
                self._keep_idless_ref(_path_of(path))
            self._check_ref_content(child, path)
            return None
        if not local or local in _NEVER_STORED:
            return None
        assert isinstance(tag, str)  # it has a local name, so it is an element's tag
        return columns.spec(tag)

    def _read_field(
        self,
        elem: etree._Element,
        tag: str,
        spec: ColumnSpec,
        columns: _TableColumns,
        row: dict[str, Value],
        sequence: int | None,
        parent_path: _Location,
    ) -> None:
        """One element that maps to column ``spec``: a leaf, a value holder or a group."""
        if len(elem):
            self._read_nested(elem, tag, spec, columns, row, sequence, parent_path)
        else:
            self._set(row, spec, elem.text, parent_path, tag)

    def _read_nested(
        self,
        elem: etree._Element,
        tag: str,
        spec: ColumnSpec,
        columns: _TableColumns,
        row: dict[str, Value],
        sequence: int | None,
        parent_path: _Location,
    ) -> None:
        """An element with children: a value holder, or a group of further fields."""
        parts = elem[:]
        if elem.text is not None:
            self._keep_text(elem.text, (parent_path, tag))
        if _holds_a_value(parts):
            self._read_value_holder(parts, tag, spec, columns.table, row, sequence, parent_path)
        else:
            self._read_group(parts, tag, columns, row, sequence, (parent_path, tag))

    def _read_value_holder(
        self,
        parts: list[etree._Element],
        tag: str,
        spec: ColumnSpec,
        table: str,
        row: dict[str, Value],
        sequence: int | None,
        parent_path: _Location,
    ) -> None:
        """``<x><value>..</value><footnoteId id=".."/>..</x>``: value optional if footnoted."""
        for part in parts:
            if part.tail is not None:
                self._keep_text(part.tail, (parent_path, tag))
            part_tag = part.tag
            if part_tag != "value" and part_tag != "footnoteId":
                part_tag = _local(part_tag)
            if part_tag == "value":
                if len(part):
                    where = f"{_path_of((parent_path, tag))}/value"
                    self._keep(where, self._markup_of(part, whole=True), _VALUE_WITH_ELEMENTS)
                    continue
                text = part.text
                if text is not None and (text := text.strip()):
                    reason = _store(row, spec, text)
                    if reason is not None:
                        self._keep(f"{_path_of((parent_path, tag))}/value", text, reason)
            elif part_tag == "footnoteId":
                if not self._add_ref(part, table, sequence, spec[0]):
                    self._keep_idless_ref(_path_of((parent_path, tag)))
                self._check_ref_content(part, (parent_path, tag))

    def _add_ref(
        self, elem: etree._Element, table: str, sequence: int | None, column: str
    ) -> bool:
        """Record ``elem``, a <footnoteId>, as a reference to ``column`` of the row.

        False when it has no id: nothing is recorded and the caller keeps it in
        ``unmapped`` (with ``_keep_idless_ref``; its path is only built then).
        """
        footnote_id = elem.get("id")
        if footnote_id is None or not (footnote_id := footnote_id.strip()):
            return False
        self.refs.append(FootnoteRef(footnote_id, table, sequence, column))
        return True

    def _keep_idless_ref(self, path: str) -> None:
        self._keep(f"{path}/footnoteId", "", "footnoteId without an id")

    def _set(
        self,
        row: dict[str, Value],
        spec: ColumnSpec,
        text: str | None,
        parent_path: _Location,
        tag: str,
    ) -> None:
        """Store a leaf's text in its column, or keep it (at parent_path/tag) saying why not."""
        if text is None:
            return
        text = text.strip()
        if text:
            reason = _store(row, spec, text)
            if reason is not None:
                self._keep(_path_of((parent_path, tag)), text, reason)

    def _keep(self, path: str, raw_value: str, reason: str) -> None:
        self.unmapped.append(Unmapped(path, raw_value, reason))

    def _keep_text(self, text: str, path: _Location) -> None:
        """Text beside child elements (mixed content): kept at the parent's path."""
        text = text.strip()
        if text:
            self._keep(_path_of(path), text, _MIXED_CONTENT)

    def _check_ref_content(self, elem: etree._Element, path: _Location) -> None:
        """A <footnoteId> is empty; text or elements inside one are kept, not dropped."""
        text = elem.text
        if len(elem) or (text is not None and text.strip()):
            where = f"{_path_of(path)}/footnoteId"
            self._keep(where, self._markup_of(elem, whole=True), _REF_WITH_CONTENT)

    # -- mixed content ------------------------------------------------------

    def _text_within(self, elem: etree._Element) -> str:
        """All the text inside ``elem``, stripped (a footnote, possibly with markup)."""
        if len(elem) == 0:
            return (elem.text or "").strip()
        self._require_exact_tree()
        return "".join(_without_credentials(elem).itertext()).strip()

    def _markup_of(self, elem: etree._Element, whole: bool = False) -> str:
        """An element as text, so an unknown element is kept, not lost.

        A leaf is its stripped text unless ``whole``; credentials inside are left out.
        """
        if len(elem) == 0:
            if not whole:
                return (elem.text or "").strip()
        else:
            self._require_exact_tree()
            elem = _without_credentials(elem)
        return etree.tostring(elem, encoding="unicode", with_tail=False)

    def _require_exact_tree(self) -> None:
        """Text around child elements needs the whitespace-only text the fast parse drops."""
        if not self.exact:
            raise _NeedsExactWhitespace


def _without_credentials(elem: etree._Element) -> etree._Element:
    """``elem``, or a copy of it without its credential elements (their tails stay)."""
    if not any(_local(e.tag) in _NEVER_STORED for e in elem.iterdescendants()):
        return elem
    elem = copy.deepcopy(elem)
    for found in [e for e in elem.iterdescendants() if _local(e.tag) in _NEVER_STORED]:
        parent = found.getparent()
        if parent is None:  # pragma: no cover - a descendant always has a parent
            continue
        tail = found.tail
        if tail:
            previous = found.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail
        parent.remove(found)
    return elem


_MIXED_CONTENT = "text beside child elements (mixed content); not read"
_VALUE_WITH_ELEMENTS = "value holding elements; not read"
_REF_WITH_CONTENT = "footnoteId holding text or elements; only its id is read"
_ROOT_REF = "footnoteId directly under ownershipDocument refers to no field"


def _holds_a_value(children: list[etree._Element]) -> bool:
    """Whether every child is a <value> or a <footnoteId> (comments and PIs aside)."""
    for child in children:
        tag = child.tag
        if tag == "value" or tag == "footnoteId":
            continue
        if isinstance(tag, str) and tag[0] != "{":
            return False  # a plain element name, neither of the two
        if _local(tag) not in _VALUE_HOLDER_PARTS:
            return False
    return True


def _holds_entry_values(elem: etree._Element) -> bool:
    """Whether ``elem`` is, or holds, an element found only in transaction and holding
    entries (an entry, a table, or a field of one). An unknown element under the root that
    is or holds one is an entry that reached no table. Called only for unknown elements."""
    return any(_local(e.tag) in _ENTRY_ONLY_NAMES for e in elem.iter())


_REPEATED = "element repeated; first value kept"


def _store(row: dict[str, Value], spec: ColumnSpec, text: str) -> str | None:
    """Convert ``text`` (stripped, not empty) into its column of ``row``.

    Returns None when stored, else why not; the caller keeps the value in ``unmapped``.
    """
    column, convert = spec
    if column in row:
        return _REPEATED
    try:
        row[column] = convert(text)
    except ValueError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------
# Value conversion
# ---------------------------------------------------------------------------


def convert(text: str, kind: Kind) -> Value:
    """Convert a stripped, non-empty text to the column's kind; ValueError says why not."""
    converter = _CONVERTERS.get(kind) if isinstance(kind, Kind) else None
    if converter is None:
        raise ValueError(f"unknown column kind {kind}")
    return converter(text)


def parse_date(text: str) -> date:
    """ISO date, with or without a timezone suffix (``2024-07-19-05:00`` is real)."""
    # Fast path for the plain YYYY-MM-DD nearly every document uses. With the dashes in
    # place, fromisoformat accepts exactly the ASCII-digit dates the regex accepts;
    # whatever it rejects takes the regex path, which gives the precise error.
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    match = _DATE_RE.match(text)
    if match is None:
        raise ValueError("not a YYYY-MM-DD date")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"impossible date: {exc}") from exc


def parse_decimal(text: str) -> Decimal:
    # Fast path, no regex: digits with at most one dot (and at least one digit) is
    # exactly what _PLAIN_NUMBER_RE accepts when there is no sign.
    if (text.isascii() and text.replace(".", "", 1).isdecimal()) or _PLAIN_NUMBER_RE.match(text):
        cleaned = text
    elif _GROUPED_NUMBER_RE.match(text):
        cleaned = text.replace(",", "")
    else:
        raise ValueError("not a number")
    try:
        number = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the regexes admit only numbers
        raise ValueError("not a number") from exc
    # 18 characters hold at most 18 digits, which is below 1e18 whatever the sign or dot.
    if len(cleaned) > 18 and abs(number) >= MAX_ABS_NUMBER:
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
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise ValueError("not a CIK (up to 10 digits)")
    return int(text)


Converter: TypeAlias = Callable[[str], Value]

# Converted values remembered per kind. Few distinct texts recur across documents
# (dates, flags, CIKs, round share counts and prices), and a dict hit costs a fraction
# of a conversion. Converted values are immutable, so sharing them is safe. When a
# memo is full it is emptied: bounded memory whatever the input.
_MEMO_LIMIT = 4096


class _Memo(dict[str, Value]):
    """text -> its converted value, filled on first use (a failure is not remembered)."""

    def __init__(self, convert: Converter) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, text: str) -> Value:
        value = self.convert(text)
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        self[text] = value
        return value


_MEMOS = {
    Kind.DATE: _Memo(parse_date),
    Kind.NUMERIC: _Memo(parse_decimal),
    Kind.BOOL: _Memo(parse_bool),
    Kind.CIK: _Memo(parse_cik),
}

# Kind -> converter, as the walk calls it. ``str`` stores text as is (str() of a str is
# that same object); the others are a memo's ``__getitem__``: a C call on a hit.
_CONVERTERS: dict[Kind, Converter] = {
    Kind.TEXT: str,
    **{kind: memo.__getitem__ for kind, memo in _MEMOS.items()},
}


def clear_value_memos() -> None:
    """Forget every remembered conversion. Never needed for correctness: benchmarks use
    it so that a corpus parsed over and over is not all cache hits."""
    for memo in _MEMOS.values():
        memo.clear()


# ---------------------------------------------------------------------------
# Column lookup by element tag
# ---------------------------------------------------------------------------

# (column name, converter). When the table has no column of that name the converter is
# ``_no_column``, which refuses every value (so it is kept in ``unmapped``); the name
# still labels footnote references to the element. Such a column is never in a row,
# so "no column" is reported before "repeated", as it should be.
ColumnSpec: TypeAlias = tuple[str, Converter]


def _no_column(text: str) -> Value:
    raise ValueError("no column for this element")


# Distinct element tags remembered per table. Real documents use a few dozen; the cap
# stops a stream of made-up tags from growing a long-lived worker's memory.
_MAX_REMEMBERED_TAGS = 1024


class _TableColumns:
    """The columns of one table, looked up by element tag.

    The column rule (element name in snake_case, see ``records``) is applied once per
    distinct tag and remembered in ``by_tag``, so reading an element costs one dict
    lookup instead of a namespace strip, a snake_case conversion and two catalog
    lookups. ``by_tag`` only ever holds tags that name a field in every context: never
    a credential, comment or PI (the readers deal with those before calling ``spec``),
    and never ``footnoteId``, which is a reference inside a section but an ordinary
    field directly under the root.
    """

    __slots__ = ("table", "kinds", "by_tag")

    def __init__(self, table: str, kinds: dict[str, Kind]) -> None:
        self.table = table
        self.kinds = kinds
        self.by_tag: dict[object, ColumnSpec] = {}
        for column, kind in kinds.items():
            tag = _camel_case(column)
            if snake_case(tag) == column:
                self.by_tag[tag] = (column, _CONVERTERS[kind])

    def spec(self, tag: str) -> ColumnSpec:
        """The column that element ``tag`` (maybe namespaced) maps to, by the column rule."""
        spec = self.by_tag.get(tag)
        if spec is None:
            name = _local(tag)
            column = snake_case(name)
            kind = self.kinds.get(column)
            spec = (column, _no_column if kind is None else _CONVERTERS[kind])
            if name != "footnoteId" and len(self.by_tag) < _MAX_REMEMBERED_TAGS:
                self.by_tag[tag] = spec
        return spec


def _camel_case(column: str) -> str:
    """``rpt_owner_zip_code`` -> ``rptOwnerZipCode``: the element name of a column."""
    first, *rest = column.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


_FILING_COLUMNS = _TableColumns("filings", FILING_DOCUMENT_COLUMNS)
_OWNER_COLUMNS = _TableColumns("filing_owners", OWNER_COLUMNS)
_SIGNATURE_COLUMNS = _TableColumns("owner_signatures", SIGNATURE_COLUMNS)
_ENTRY_COLUMNS = {table: _TableColumns(table, kinds) for table, kinds in ENTRY_TABLES.items()}


# Element names found only in transaction and holding entries (see _holds_entry_values).
_ENTRY_ONLY_NAMES = frozenset(
    {
        *ENTRY_ELEMENTS,
        *_LEGACY_ENTRY_ELEMENTS,
        "nonDerivativeTable",
        "derivativeTable",
        *(_camel_case(column) for kinds in ENTRY_TABLES.values() for column in kinds),
    }
    - {_camel_case(column) for column in (*FILING_DOCUMENT_COLUMNS, *OWNER_COLUMNS)}
)
