"""The parser's speed-ups read exactly what the plain code they replaced read.

Each fast path is checked against its specification: the regex or library call it
stands in for (kept in the module, or written out here as the reference), on generated
inputs and on the corpus. No timings here: benchmarks/bench_parse.py measures speed.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import ownership_xml, sgml
from ingest.ownership_xml import (
    _DECLARATION_RE,
    _DocumentReader,
    _has_declaration,
    _parse_root,
    clear_value_memos,
    parse_date,
    parse_decimal,
    parse_ownership_xml,
)
from ingest.parse import parse_file

FIXTURES = Path(__file__).parent / "fixtures"
OWNERSHIP_DOCS = sorted((FIXTURES / "ownership").glob("*.xml"))
SUBMISSIONS = sorted((FIXTURES / "submissions").iterdir())
ACCESSION = "0000000001-24-000001"


def minimal(body: bytes) -> bytes:
    return (
        b'<?xml version="1.0"?><ownershipDocument><schemaVersion>X0508</schemaVersion>'
        b"<documentType>4</documentType><issuer><issuerCik>0000000001</issuerCik>"
        b"<issuerName>X</issuerName></issuer>" + body + b"</ownershipDocument>"
    )


def read_exactly(xml: bytes):
    """The document read from a tree that keeps every text node (no fast parse)."""
    return _DocumentReader(_parse_root(xml, keep_blank_text=True), exact=True).read()


# -- the fast parse (whitespace-only text dropped) ---------------------------------


@pytest.mark.parametrize("path", OWNERSHIP_DOCS, ids=lambda p: p.name)
def test_fast_parse_reads_every_corpus_document_as_the_exact_parse_does(path: Path):
    xml = path.read_bytes()
    assert repr(parse_ownership_xml(xml)) == repr(read_exactly(xml))


def test_footnote_with_markup_keeps_the_spaces_between_its_elements():
    xml = minimal(b'<footnotes><footnote id="F1"><b>Rule</b> <i>10b5-1</i>\n plan</footnote>'
                  b'<footnote id="F2">plain</footnote></footnotes>')
    doc = parse_ownership_xml(xml)
    assert doc.footnotes == [("F1", "Rule 10b5-1\n plan"), ("F2", "plain")]
    assert repr(doc) == repr(read_exactly(xml))


@pytest.mark.parametrize("container", [b"nonDerivativeTable", b"footnotes"])
def test_unknown_element_with_children_is_kept_with_its_exact_markup(container: bytes):
    markup = b"<mystery>\n    <part>1</part>\n    <part>2</part>\n  </mystery>"
    doc = parse_ownership_xml(minimal(b"<" + container + b">\n  " + markup + b"\n</" + container + b">"))
    [kept] = doc.unmapped
    assert kept.raw_value == markup.decode()
    assert kept.path == f"{container.decode()}/mystery"


def test_blank_text_in_values_changes_nothing():
    body = (b"<remarks>\n   \n</remarks><nonDerivativeTable><nonDerivativeHolding>"
            b"<securityTitle>  <value>  Common  </value>  </securityTitle>"
            b"<postTransactionAmounts><sharesOwnedFollowingTransaction><value>"
            + b" " * 400 + b"\r\n12" + b" " * 400
            + b"</value></sharesOwnedFollowingTransaction></postTransactionAmounts>"
            b"</nonDerivativeHolding></nonDerivativeTable>")
    doc = parse_ownership_xml(minimal(body))
    assert doc.entries["non_derivative_holdings"] == [
        {"security_title": "Common", "shares_owned_following_transaction": Decimal("12")}]
    assert "remarks" not in doc.filing
    assert repr(doc) == repr(read_exactly(minimal(body)))


# -- tag lookups remembered across documents ---------------------------------------


def test_document_level_footnote_id_does_not_turn_later_references_into_fields():
    # At the root a <footnoteId> is an ordinary (unmapped) field; inside a section it is
    # a reference. Reading the first must not change how the second is read.
    first = parse_file(minimal(b"<footnoteId>x</footnoteId>"), "a.xml", accession=ACCESSION).document
    assert [u.path for u in first.unmapped] == ["footnoteId"]
    second = minimal(b"").replace(b"</issuer>", b'<footnoteId id="F1"/></issuer>')
    doc = parse_file(second, "b.xml", accession=ACCESSION).document
    assert [(r.footnote_id, r.table_name, r.column_name) for r in doc.footnote_refs] == [
        ("F1", "filings", "issuer")]
    assert doc.unmapped == []


def test_namespaced_section_name_seen_as_a_field_stays_a_section_at_the_root():
    ns = b' xmlns="urn:x"'
    inside_issuer = minimal(b"").replace(b"<ownershipDocument>", b"<ownershipDocument" + ns + b">")
    inside_issuer = inside_issuer.replace(b"</issuer>", b"<ownerSignature>odd</ownerSignature></issuer>")
    parse_file(inside_issuer, "a.xml", accession=ACCESSION)
    at_root = minimal(b"<ownerSignature><signatureName>A B</signatureName>"
                      b"<signatureDate>2024-01-02</signatureDate></ownerSignature>")
    at_root = at_root.replace(b"<ownershipDocument>", b"<ownershipDocument" + ns + b">")
    doc = parse_file(at_root, "b.xml", accession=ACCESSION).document
    assert doc.signatures == [("A B", date(2024, 1, 2))]


# -- value conversion ---------------------------------------------------------------

# The specification the fast paths must agree with. ASCII digits only (parser version 2):
# other scripts' digits are not numbers in a filing.
_DATE_SPEC = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:?\d{2})?$", re.ASCII)


def reference_parse_date(text: str) -> date:
    match = _DATE_SPEC.match(text)
    if match is None:
        raise ValueError("not a YYYY-MM-DD date")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"impossible date: {exc}") from exc


def reference_parse_decimal(text: str) -> Decimal:
    if re.match(r"^[+-]?(?:\d+\.?\d*|\.\d+)$", text, re.ASCII):
        cleaned = text
    elif re.match(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$", text, re.ASCII):
        cleaned = text.replace(",", "")
    else:
        raise ValueError("not a number")
    number = Decimal(cleaned)
    if abs(number) >= Decimal("1e18"):
        raise ValueError("absurd number (magnitude 1e18 or more)")
    return number


def outcome(function, text: str) -> object:
    try:
        value = function(text)
    except ValueError as exc:
        return ("error", str(exc))
    return (type(value).__name__, repr(value))


_date_like = st.one_of(
    st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}(Z|[+-][0-9]{2}:?[0-9]{2})?\Z"),
    st.text(alphabet="0123456789-+:Z W\u0663", max_size=16),
)
_number_like = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.from_regex(r"\A[+-]?[0-9]{0,22}(\.[0-9]{0,6})?\Z"),
    st.text(alphabet="0123456789.,+-eE_ \u0663\u00b2", max_size=24),
)


@settings(max_examples=600)
@given(_date_like)
def test_parse_date_fast_path_agrees_with_the_regex(text: str):
    assert outcome(parse_date, text) == outcome(reference_parse_date, text)


@settings(max_examples=600)
@given(_number_like)
def test_parse_decimal_fast_path_agrees_with_the_regexes(text: str):
    assert outcome(parse_decimal, text) == outcome(reference_parse_decimal, text)


def test_remembered_conversions_are_the_same_values_and_failures_are_not_remembered():
    clear_value_memos()
    body = (b"<nonDerivativeTable>" + b"".join(
        b"<nonDerivativeHolding><securityTitle><value>C</value></securityTitle>"
        b"<postTransactionAmounts><sharesOwnedFollowingTransaction><value>" + shares
        + b"</value></sharesOwnedFollowingTransaction></postTransactionAmounts></nonDerivativeHolding>"
        for shares in (b"1.50", b"1.50", b"1.5", b"12abc", b"12abc")) + b"</nonDerivativeTable>")
    for _ in range(2):  # the second time every conversion is remembered
        doc = parse_ownership_xml(minimal(body))
        values = [row.get("shares_owned_following_transaction")
                  for row in doc.entries["non_derivative_holdings"]]
        assert [repr(v) for v in values] == [
            "Decimal('1.50')", "Decimal('1.50')", "Decimal('1.5')", "None", "None"]
        assert [u.raw_value for u in doc.unmapped] == ["12abc", "12abc"]


def test_value_memos_stay_bounded():
    clear_value_memos()
    memo = ownership_xml._MEMOS[ownership_xml.Kind.NUMERIC]
    for n in range(ownership_xml._MEMO_LIMIT * 2 + 10):
        assert memo[str(n)] == Decimal(n)
    assert 0 < len(memo) <= ownership_xml._MEMO_LIMIT
    clear_value_memos()
    assert len(memo) == 0


# -- the DOCTYPE/ENTITY check ------------------------------------------------------


@settings(max_examples=800)
@given(st.lists(st.sampled_from([b"<", b"!", b"<!", b"DOCTYPE", b"doctype", b"ENTITY", b"Entity",
                                 b"<!--", b"x", b" ", b"!!!!!!!!!!"]), max_size=30).map(b"".join))
def test_declaration_check_agrees_with_the_regex(xml: bytes):
    assert _has_declaration(xml) == (_DECLARATION_RE.search(xml) is not None)


def test_declaration_after_many_exclamation_marks_is_still_refused():
    # Past the few "!" checked one by one, the regex scans the rest.
    xml = minimal(b"<remarks>" + b"Wow! " * 50 + b"</remarks>").replace(
        b"</ownershipDocument>", b"</ownershipDocument><!DOCTYPE x>")
    parsed = parse_file(xml, "x.xml", accession=ACCESSION)
    assert parsed.document is None and "DOCTYPE or ENTITY" in parsed.parse_error


# -- submissions (ingest.sgml) -----------------------------------------------------


_header_text = st.text(alphabet="ACIKNZ0123456789 &/()-:\t\u00a0\u2003x_.<>", max_size=30)


@settings(max_examples=800)
@given(_header_text)
def test_text_field_agrees_with_the_regex(line: str):
    match = sgml._TEXT_FIELD_RE.match(line)
    assert sgml._text_field(line) == (match.groups() if match else None)


_block_parts = st.sampled_from([b"<XML>", b"<xml>", b"</XML>", b"</Xml>", b"<XML", b"x", b"\n",
                                b"<ownershipDocument>", b"<ownershipDocumentX>", b"<ownershipDocument ",
                                b"</ownershipDocument>", b"</ownershipdocument>", b"_", b"1"])


@settings(max_examples=800)
@given(st.lists(_block_parts, max_size=12).map(b"".join))
def test_ownership_xml_extraction_agrees_with_the_regexes(raw: bytes):
    expected = None
    for match in sgml._XML_BLOCK_RE.finditer(raw):
        if b"<ownershipDocument" in match.group(1):
            expected = match.group(1).strip()
            break
    else:
        bare = sgml._BARE_OWNERSHIP_RE.search(raw)
        expected = bare.group(0) if bare else None
    assert sgml.extract_ownership_xml(raw) == expected


def reference_parse_header(raw: bytes):
    """The header loop before the fast paths: every line through both regexes."""
    header = sgml.SubmissionHeader()
    section = None
    for line in sgml.header_region(raw).splitlines():
        tags = sgml._TAG_RE.findall(line)
        if tags:
            for closing, name, value in tags:
                section = sgml._apply(header, section, name, value.strip(), closing == "/")
            continue
        match = sgml._TEXT_FIELD_RE.match(line)
        if match:
            section = sgml._apply(header, section, match.group(1).strip(), match.group(2), False)
    return header


_keys = st.sampled_from(["ACCESSION NUMBER", "CONFORMED SUBMISSION TYPE", "FILED AS OF DATE", "PERIOD",
                         "ACCEPTANCE-DATETIME", "REPORTING-OWNER", "ISSUER", "SUBJECT COMPANY", "FILER",
                         "CENTRAL INDEX KEY", "CIK", "COMPANY CONFORMED NAME", "CONFORMED-NAME",
                         "STREET 1", "BUSINESS PHONE", "A\tB", "cik", "1X"])
_values = st.sampled_from(["", "4", "0000320193", "20240105", "20240105123456", "Apple Inc.", " x ",
                           "2024 1 5", "\u00a0v\u00a0", "a:b"])
_lines = st.tuples(st.integers(0, 3), _keys, _values, st.sampled_from(["", " ", "\t", "\u00a0"])).map(
    lambda t: [f"{t[3]}{t[1]}:{t[3]}{t[2]}", f"<{t[1]}>{t[2]}", f"</{t[1]}>",
               f"<{t[1]}>{t[2]}<{t[1]}>{t[2]}"][t[0]])


@settings(max_examples=400)
@given(st.lists(_lines, max_size=30), st.sampled_from(["\n", "\r\n"]))
def test_header_fast_paths_read_what_the_plain_loop_reads(lines: list[str], newline: str):
    raw = newline.join(lines).encode("latin-1", "replace")
    assert repr(sgml.parse_header(raw)) == repr(reference_parse_header(raw))


@pytest.mark.parametrize("path", SUBMISSIONS, ids=lambda p: p.name)
def test_header_fast_paths_on_the_corpus(path: Path):
    raw = path.read_bytes()
    assert repr(sgml.parse_header(raw)) == repr(reference_parse_header(raw))


def reference_yyyymmdd(value: str) -> date | None:
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


def reference_acceptance_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=sgml.EASTERN)
    except ValueError:
        return None


@settings(max_examples=800)
@given(st.one_of(st.from_regex(r"\A[0-9]{8,16}\Z"), st.text(alphabet="0123456789 x\u0663", max_size=16)))
def test_header_dates_agree_with_strptime(value: str):
    assert sgml._yyyymmdd(value) == reference_yyyymmdd(value)
    assert sgml._acceptance_time(value) == reference_acceptance_time(value)


def test_header_dates_agree_with_strptime_on_a_grid():
    for year in ("0000", "0001", "2024", "9999"):
        for month in range(0, 14):
            for day in range(0, 33):
                value = f"{year}{month:02d}{day:02d}"
                assert sgml._yyyymmdd(value) == reference_yyyymmdd(value), value
                for clock in ("000000", "235959", "240000", "236000", "235960", "235961"):
                    stamp = value + clock
                    assert sgml._acceptance_time(stamp) == reference_acceptance_time(stamp), stamp


@pytest.mark.parametrize("blank", [0, 1, 63, 64, 65, 200])
def test_bare_xml_is_told_from_a_submission_whatever_the_leading_whitespace(blank: int):
    raw = b" " * blank + (FIXTURES / "ownership" / OWNERSHIP_DOCS[0].name).read_bytes().lstrip()
    assert sgml.looks_like_submission(raw) is False
    assert sgml.looks_like_submission(b" " * blank + b"<SEC-HEADER>\nACCESSION NUMBER: 1") is True


def test_lxml_tree_of_the_fast_parse_keeps_every_element():
    # The fast parse drops only whitespace-only text, never an element or a value.
    for path in OWNERSHIP_DOCS[:40]:
        xml = path.read_bytes().lstrip()
        fast = _parse_root(xml, keep_blank_text=False)
        exact = _parse_root(xml, keep_blank_text=True)
        assert [e.tag for e in fast.iter()] == [e.tag for e in exact.iter()]
        assert [(e.text or "").strip() for e in fast.iter()] == [(e.text or "").strip() for e in exact.iter()]
