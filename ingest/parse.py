"""Parse stage entry point: the bytes of one file -> ParsedFiling. Pure (no I/O).

Accepts a full submission (``.txt``/``.nc``/SGML, with or without the PEM envelope, with
or without ownership XML) or a bare ownership XML document.
"""

from __future__ import annotations

import re

from .ownership_xml import OwnershipXmlError, parse_ownership_xml
from .records import (
    ACCESSION,
    ACCESSION_PLAIN,
    ACCESSION_RE,
    NO_DOCUMENTS,
    NO_OWNERSHIP_XML,
    NO_XML_DOCUMENT,
    OWNERSHIP_FORMS,
    OwnershipDocument,
    ParsedFiling,
    ParseError,
    SubmissionHeader,
    unmapped_entries_error,
)
from .sgml import (
    extract_ownership_xml,
    has_document,
    has_unclosed_ownership_block,
    has_xml_block,
    looks_like_submission,
    parse_header,
)

_DASHED_ACCESSION_IN_NAME = re.compile(rf"(?<![0-9])({ACCESSION})(?![0-9])")
_PLAIN_ACCESSION_IN_NAME = re.compile(rf"(?<![0-9]){ACCESSION_PLAIN}(?![0-9])")


def parse_file(raw: bytes, name: str, accession: str | None = None) -> ParsedFiling:
    """Parse one input file.

    ``accession`` overrides whatever the content or name says. Raises ParseError only
    when the filing cannot be keyed (no accession number) or is not an ownership filing
    at all; every other problem is reported in ``ParsedFiling.parse_error`` so the
    filing is still recorded and its raw bytes kept.
    """
    if looks_like_submission(raw):
        header = parse_header(raw)
        xml = extract_ownership_xml(raw)
        source_kind = "submission"
        _refuse_non_ownership(header, name)
    else:
        header = None
        xml = raw
        source_kind = "xml"
    accession_number = _resolve_accession(accession, header, name)
    if xml is None:
        document, parse_error = None, _why_no_ownership_xml(raw)
    else:
        document, parse_error = _parse_document(xml)
    if source_kind == "xml" and document is None and not _names_an_ownership_document(raw):
        # Not a filing at all (an empty file, another XML, anything else named like an
        # accession): an error about the file, never a filings row.
        raise ParseError(f"{name}: not an ownership filing: {parse_error or 'empty file'}")
    return ParsedFiling(
        accession_number=accession_number,
        source_kind=source_kind,
        header=header,
        document=document,
        parse_error=parse_error,
        raw=raw,
    )


# The root element's name in the encodings ownership XML comes in (UTF-16, UTF-32 both ways).
_OWNERSHIP_ROOT_NAMES = tuple(
    "ownershipDocument".encode(encoding)
    for encoding in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


def _names_an_ownership_document(raw: bytes) -> bool:
    """Whether unparseable bytes at least mean to be ownership XML (a truncated or malformed
    one is a filing, kept with its error; anything else is not a filing)."""
    return any(root in raw for root in _OWNERSHIP_ROOT_NAMES)


def _why_no_ownership_xml(raw: bytes) -> str:
    """The parse_error of a submission in which no ownership document was found."""
    if has_unclosed_ownership_block(raw):
        return "truncated submission: its <XML> block never closes"
    if has_xml_block(raw):
        return NO_OWNERSHIP_XML
    if has_document(raw):
        return NO_XML_DOCUMENT
    return NO_DOCUMENTS


def _parse_document(xml: bytes) -> tuple[OwnershipDocument | None, str | None]:
    try:
        document = parse_ownership_xml(xml)
    except OwnershipXmlError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop a batch
        return None, f"internal parser error ({type(exc).__name__}): {exc}"
    if document.unmapped_entries:  # stored with the rows that did map, but not "parsed"
        return document, unmapped_entries_error(document.unmapped_entries)
    return document, None


def _refuse_non_ownership(header: SubmissionHeader, name: str) -> None:
    form_type = (header.form_type or "").strip().upper()
    if form_type and form_type not in OWNERSHIP_FORMS:
        raise ParseError(f"{name}: not an ownership filing (form type {header.form_type!r})")


def _resolve_accession(explicit: str | None, header: SubmissionHeader | None, name: str) -> str:
    if explicit is not None:
        candidate = explicit.strip()
        if not ACCESSION_RE.match(candidate):
            raise ParseError(
                f"{explicit!r} is not an accession number (expected 0001234567-24-000123)"
            )
        return candidate
    if header is not None and header.accession_number:
        candidate = header.accession_number.strip()
        if ACCESSION_RE.match(candidate):
            return candidate
    from_name = accession_from_name(name)
    if from_name:
        return from_name
    raise ParseError(
        f"{name}: no accession number in the submission header or the file name; "
        "name the file after its accession (0001234567-24-000123.xml) or pass --accession"
    )


def accession_from_name(name: str) -> str | None:
    """``0001104659-23-005474.txt`` or ``000110465923005474.txt`` -> the dashed accession."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    match = _DASHED_ACCESSION_IN_NAME.search(base)
    if match:
        return match.group(1)
    match = _PLAIN_ACCESSION_IN_NAME.search(base)
    if match:
        return "-".join(match.groups())
    return None
