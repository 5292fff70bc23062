"""Full EDGAR submissions (.txt, .nc, .hdr.sgml): the SGML header and the embedded XML.

Three header dialects are real and all are read here:
- text style (``ACCESSION NUMBER:\\t0001...``), used by ``{accession}.txt`` since ~1993,
  optionally wrapped in a ``-----BEGIN PRIVACY-ENHANCED MESSAGE-----`` envelope;
- pre-2001 text style, where owners open with a ``<REPORTING-OWNER>`` tag and the issuer
  is the ``SUBJECT COMPANY``;
- tag style (``<ACCESSION-NUMBER>0001...``), used by the dissemination feed (``.nc``) and
  ``.hdr.sgml`` files, with or without line breaks between tags.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from .records import HeaderFiler, SubmissionHeader

EASTERN = ZoneInfo("America/New_York")

_TAG_RE = re.compile(r"<(/?)([A-Z][A-Z0-9-]*)>([^<\r\n]*)")
# The three below are the specification of what is read; the functions that read it
# (_text_field, extract_ownership_xml, _bare_ownership_document) use str/bytes methods
# instead, in one linear pass: the regex engine cannot search a case-insensitive literal
# fast, and these patterns backtrack quadratically on hostile input (a long run of
# spaces in a header line, thousands of unclosed start tags).
_TEXT_FIELD_RE = re.compile(r"^\s*([A-Z][A-Z0-9 &/()-]*?):[ \t]*(.*?)\s*$")
_XML_BLOCK_RE = re.compile(rb"<XML>(.*?)</XML>", re.DOTALL | re.IGNORECASE)
_BARE_OWNERSHIP_RE = re.compile(rb"<ownershipDocument\b.*?</ownershipDocument>", re.DOTALL)

_KEY_FIRST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 &/()-")
_OWNERSHIP_OPEN = b"<ownershipDocument"
_OWNERSHIP_CLOSE = b"</ownershipDocument>"
_XML_STARTS = (b"<?xml", _OWNERSHIP_OPEN)
_UNICODE_STARTS = (
    b"\xef\xbb\xbf",  # UTF-8 BOM
    b"\xff\xfe", b"\xfe\xff",  # UTF-16 BOMs (and UTF-32 LE, which starts with ff fe)
    b"\x00\x00\xfe\xff",  # UTF-32 BE BOM
    b"<\x00", b"\x00<",  # UTF-16 without a BOM
)

# Header key (text or tag dialect) -> SubmissionHeader attribute.
_TOP_LEVEL_KEYS = {
    "ACCESSION NUMBER": "accession_number",
    "ACCESSION-NUMBER": "accession_number",
    "CONFORMED SUBMISSION TYPE": "form_type",
    "TYPE": "form_type",
    "FILED AS OF DATE": "filed_date",
    "FILING-DATE": "filed_date",
    "CONFORMED PERIOD OF REPORT": "period",
    "PERIOD": "period",
    "ACCEPTANCE-DATETIME": "accepted_at",
}
_SECTION_ROLES = {
    "REPORTING-OWNER": "reporting-owner",
    "ISSUER": "issuer",
    "SUBJECT COMPANY": "subject-company",
    "SUBJECT-COMPANY": "subject-company",
    "FILER": "filer",
    "FILED BY": "filed-by",
    "FILED-BY": "filed-by",
}
_CIK_KEYS = frozenset({"CENTRAL INDEX KEY", "CIK"})
_NAME_KEYS = frozenset({"COMPANY CONFORMED NAME", "CONFORMED-NAME"})
# Every key _apply does something with; any other field is skipped unread.
_READ_KEYS = frozenset(_TOP_LEVEL_KEYS) | frozenset(_SECTION_ROLES) | _CIK_KEYS | _NAME_KEYS


def looks_like_submission(raw: bytes) -> bool:
    """True for SGML submissions/headers, False for a bare XML document."""
    # SGML submissions are ASCII/Latin-1 text and never start with a byte-order mark or
    # UTF-16/32 bytes; an XML document may (and its text must not be searched for markers).
    if raw.startswith(_UNICODE_STARTS):
        return False
    # A bare XML document is told from its first bytes, without copying 4 KB.
    if raw[:64].lstrip().startswith(_XML_STARTS):
        return False
    head = raw[:4096].lstrip()
    if head.startswith(_XML_STARTS):
        return False
    markers = (b"<SEC-DOCUMENT>", b"<SEC-HEADER>", b"<SUBMISSION>", b"ACCESSION NUMBER:",
               b"<ACCESSION-NUMBER>", b"-----BEGIN PRIVACY-ENHANCED MESSAGE-----",
               b"<ACCEPTANCE-DATETIME>")
    return any(marker in head for marker in markers)


def header_region(raw: bytes) -> str:
    """The header text: everything before the first <DOCUMENT>."""
    end = raw.find(b"<DOCUMENT>")
    region = raw if end < 0 else raw[:end]
    return region.decode("latin-1")


def parse_header(raw: bytes) -> SubmissionHeader:
    header = SubmissionHeader()
    section: HeaderFiler | None = None
    for line in header_region(raw).splitlines():
        # A tag needs a "<" and a text field a ":". Most fields (addresses, phone
        # numbers, ...) are not read at all: _apply would ignore them, so the key is
        # checked first and they cost neither a regex nor a call.
        if "<" in line:
            tags = _TAG_RE.findall(line)
            if tags:
                for closing, name, value in tags:
                    if name in _READ_KEYS:
                        section = _apply(header, section, name, value.strip(), closing == "/")
                continue
        if ":" in line and line.partition(":")[0].strip() in _READ_KEYS:
            field = _text_field(line)
            if field is not None:
                key, value = field
                section = _apply(header, section, key.strip(), value, False)
    return header


def _text_field(line: str) -> tuple[str, str] | None:
    """The key and value of a text-style header line (``KEY: value``), or None.

    Exactly _TEXT_FIELD_RE's groups 1 and 2, in linear time: the key runs from the first
    non-blank to the first ":" and must look like one; the value is the rest without the
    spaces and tabs before it and the whitespace after it.
    """
    key, colon, rest = line.partition(":")
    key = key.lstrip()
    if not colon or not key or key[0] not in _KEY_FIRST_CHARS or not _KEY_CHARS.issuperset(key):
        return None
    return key, rest.lstrip(" \t").rstrip()


def _apply(
    header: SubmissionHeader,
    section: HeaderFiler | None,
    key: str,
    value: str,
    closing: bool,
) -> HeaderFiler | None:
    """Fold one key/value of either dialect into the header; returns the open section."""
    if closing:
        return None if key in _SECTION_ROLES else section
    role = _SECTION_ROLES.get(key)
    if role is not None and not value:
        filer = HeaderFiler(role=role, cik=None, name=None)
        header.filers.append(filer)
        return filer
    if section is not None and key in _CIK_KEYS:
        # ASCII only: str.isdigit() also takes '\xb2' (superscript two), which int() refuses.
        if section.cik is None and value.isascii() and value.isdigit() and len(value) <= 10:
            section.cik = int(value)
        return section
    if section is not None and key in _NAME_KEYS:
        if section.name is None and value:
            section.name = value
        return section
    attribute = _TOP_LEVEL_KEYS.get(key)
    if attribute is not None and value and getattr(header, attribute) is None:
        converted = _convert_top_level(attribute, value)
        if converted is not None:
            setattr(header, attribute, converted)
    return section


def _convert_top_level(attribute: str, value: str) -> object:
    if attribute in ("filed_date", "period"):
        return _yyyymmdd(value)
    if attribute == "accepted_at":
        return _acceptance_time(value)
    return value


def _yyyymmdd(value: str) -> date | None:
    digits = value[:8]
    if len(digits) == 8 and digits.isascii() and digits.isdigit():
        # What strptime accepts from 8 ASCII digits, without its regex machinery.
        try:
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            return None
    try:  # strptime also takes shorter forms (e.g. single-digit month or day)
        return datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        return None


def _acceptance_time(value: str) -> datetime | None:
    """ACCEPTANCE-DATETIME is wall-clock US Eastern time (EST or EDT as of that day)."""
    digits = value[:14]
    try:
        if len(digits) == 14 and digits.isascii() and digits.isdigit():
            # What strptime accepts from 14 ASCII digits, without its regex machinery.
            parts = (digits[:4], digits[4:6], digits[6:8], digits[8:10], digits[10:12], digits[12:])
            naive = datetime(*map(int, parts))
        else:
            naive = datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=EASTERN)


def has_unclosed_ownership_block(raw: bytes) -> bool:
    """An <XML> block holding an ownership document that never closes: a cut-off file."""
    lowered = raw.lower()
    start = lowered.rfind(b"<xml>")
    return (
        start >= 0
        and lowered.find(b"</xml>", start) < 0
        and raw.find(_OWNERSHIP_OPEN, start) >= 0
    )


def has_xml_block(raw: bytes) -> bool:
    """Whether the submission holds an <XML> block (of any kind, closed)."""
    lowered = raw.lower()
    start = lowered.find(b"<xml>")
    return start >= 0 and lowered.find(b"</xml>", start + 5) >= 0


def has_document(raw: bytes) -> bool:
    """Whether the submission holds a <DOCUMENT> (a header-only file holds none)."""
    return raw.find(b"<DOCUMENT>") >= 0


def extract_ownership_xml(raw: bytes) -> bytes | None:
    """The ownership XML inside a submission, or None when it has none.

    A submission may hold several <XML> blocks (rare); the first that is an
    ownershipDocument is taken. Pre-2003 filings are plain text: None.
    """
    # Same as iterating _XML_BLOCK_RE (case-insensitive "<XML>", then the nearest
    # "</XML>"), with bytes.find on a lower-cased copy instead of the regex engine,
    # which cannot search case-insensitively for a literal fast. ASCII case folding
    # keeps every offset.
    lowered = raw.lower()
    start = lowered.find(b"<xml>")
    while start >= 0:
        end = lowered.find(b"</xml>", start + 5)
        if end < 0:
            break
        block = raw[start + 5 : end]
        if b"<ownershipDocument" in block:
            return block.strip()
        start = lowered.find(b"<xml>", end + 6)
    return _bare_ownership_document(raw)


def _bare_ownership_document(raw: bytes) -> bytes | None:
    """What _BARE_OWNERSHIP_RE.search(raw) matches, in linear time.

    The first ``<ownershipDocument`` that ends a word, up to the nearest closing tag; when
    that one is never closed, no later one can be either.
    """
    start = raw.find(_OWNERSHIP_OPEN)
    while start >= 0:
        name_end = start + len(_OWNERSHIP_OPEN)
        next_byte = raw[name_end : name_end + 1]
        if not (next_byte.isalnum() or next_byte == b"_"):  # the regex's \b
            end = raw.find(_OWNERSHIP_CLOSE, name_end)
            return raw[start : end + len(_OWNERSHIP_CLOSE)] if end >= 0 else None
        start = raw.find(_OWNERSHIP_OPEN, name_end)
    return None
