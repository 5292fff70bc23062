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
_TEXT_FIELD_RE = re.compile(r"^\s*([A-Z][A-Z0-9 &/()-]*?):[ \t]*(.*?)\s*$")
_XML_BLOCK_RE = re.compile(rb"<XML>(.*?)</XML>", re.DOTALL | re.IGNORECASE)
_BARE_OWNERSHIP_RE = re.compile(rb"<ownershipDocument\b.*?</ownershipDocument>", re.DOTALL)

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


def looks_like_submission(raw: bytes) -> bool:
    """True for SGML submissions/headers, False for a bare XML document."""
    head = raw[:4096].lstrip()
    if head.startswith(b"<?xml") or head.startswith(b"<ownershipDocument"):
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
        tags = _TAG_RE.findall(line)
        if tags:
            for closing, name, value in tags:
                section = _apply(header, section, name, value.strip(), closing == "/")
            continue
        match = _TEXT_FIELD_RE.match(line)
        if match:
            section = _apply(header, section, match.group(1).strip(), match.group(2), False)
    return header


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
        if section.cik is None and value.isdigit():
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
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _acceptance_time(value: str) -> datetime | None:
    """ACCEPTANCE-DATETIME is wall-clock US Eastern time (EST or EDT as of that day)."""
    try:
        naive = datetime.strptime(value[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=EASTERN)


def extract_ownership_xml(raw: bytes) -> bytes | None:
    """The ownership XML inside a submission, or None when it has none.

    A submission may hold several <XML> blocks (rare); the first that is an
    ownershipDocument is taken. Pre-2003 filings are plain text: None.
    """
    for match in _XML_BLOCK_RE.finditer(raw):
        block = match.group(1)
        if b"<ownershipDocument" in block:
            return block.strip()
    bare = _BARE_OWNERSHIP_RE.search(raw)
    return bare.group(0) if bare else None
