"""Hostile and broken input: every case gives a clear error or a kept value, never a crash."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.parse import parse_file
from ingest.records import ParseError

FIXTURES = Path(__file__).parent / "fixtures"
ACCESSION = "0000000001-24-000001"
REAL = (FIXTURES / "ownership" / "0001209191-23-021175.xml").read_bytes()


def parse(raw: bytes):
    return parse_file(raw, "hostile.xml", accession=ACCESSION)


def minimal(body: bytes = b"", head: bytes = b'<?xml version="1.0"?>') -> bytes:
    return head + (
        b"<ownershipDocument><schemaVersion>X0508</schemaVersion><documentType>4</documentType>"
        b"<issuer><issuerCik>0000000001</issuerCik><issuerName>X</issuerName></issuer>"
        + body + b"</ownershipDocument>"
    )


def test_billion_laughs_is_refused_before_parsing():
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10)
        for i in range(1, 10)
    ) + b"]><ownershipDocument><remarks>&lol9;</remarks></ownershipDocument>"
    parsed = parse(bomb)
    assert parsed.document is None
    assert "DOCTYPE or ENTITY" in parsed.parse_error


def test_external_entity_is_refused():
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<ownershipDocument><remarks>&x;</remarks></ownershipDocument>")
    parsed = parse(xxe)
    assert parsed.document is None and "refused" in parsed.parse_error


def test_not_an_ownership_document_is_not_a_filing():
    # Another XML named like an accession is no filing (issue 10): no filings row for it.
    with pytest.raises(ParseError, match="not an ownership document: root element is <edgarSubmission>"):
        parse(b"<edgarSubmission><schemaVersion>X0101</schemaVersion></edgarSubmission>")


@pytest.mark.parametrize("raw", [b"", b"   \n", b"hello", b"\x00" * 64, b"<html><body>404</body></html>"])
def test_empty_or_foreign_files_are_not_filings(raw: bytes):
    with pytest.raises(ParseError, match="not an ownership filing"):
        parse(raw)


def test_a_broken_ownership_document_is_still_a_filing():
    # Truncated, or UTF-16: it means to be ownership XML, so it is kept with its error.
    for raw in (REAL[: len(REAL) // 3], REAL[: len(REAL) // 3].decode("latin-1").encode("utf-16")):
        assert parse(raw).parse_error


def test_malformed_and_truncated_xml():
    parsed = parse(REAL[: len(REAL) // 2])
    assert parsed.document is None and parsed.parse_error.startswith("malformed XML")


def test_truncated_submission_keeps_header_and_records_error():
    raw = (FIXTURES / "submissions" / "0001209191-23-021175.txt").read_bytes()
    cut = raw[: raw.index(b"</ownershipDocument>") - 200]
    parsed = parse_file(cut, "0001209191-23-021175.txt")
    assert parsed.header.filed_date == date(2023, 3, 27)
    assert parsed.document is None
    # The <XML> block never closes, so the ownership document is not found at all, or it
    # is found and is malformed: either way the filing is recorded from its header.


def test_deeply_nested_document_is_an_error_not_a_crash():
    deep = b"<a>" * 5000 + b"</a>" * 5000
    parsed = parse(minimal(b"<remarks>" + deep + b"</remarks>"))
    assert parsed.document is None
    assert "malformed XML" in parsed.parse_error


def test_oversized_document_is_refused():
    huge = minimal(b"<remarks>" + b"x" * (11 * 1024 * 1024) + b"</remarks>")
    parsed = parse(huge)
    assert parsed.document is None and "cap" in parsed.parse_error


def test_windows_1252_bytes_in_a_utf8_document_are_read():
    raw = minimal(b"<remarks>Caf\xe9 \x93quoted\x94</remarks>")
    parsed = parse(raw)
    assert parsed.document.filing["remarks"] == "Caf\u00e9 \u201cquoted\u201d"


def test_bad_numbers_dates_and_flags_are_kept_not_lost():
    body = (b"<notSubjectToSection16>maybe</notSubjectToSection16>"
            b"<nonDerivativeTable><nonDerivativeTransaction>"
            b"<securityTitle><value>Common</value></securityTitle>"
            b"<transactionDate><value>2023-02-30</value></transactionDate>"
            b"<transactionAmounts><transactionShares><value>12abc</value></transactionShares>"
            b"<transactionPricePerShare><value>1e400</value></transactionPricePerShare>"
            b"</transactionAmounts>"
            b"<postTransactionAmounts><sharesOwnedFollowingTransaction><value>"
            b"99999999999999999999</value></sharesOwnedFollowingTransaction></postTransactionAmounts>"
            b"</nonDerivativeTransaction></nonDerivativeTable>")
    doc = parse(minimal(body)).document
    row = doc.entries["non_derivative_transactions"][0]
    assert row == {"security_title": "Common"}
    reasons = {u.raw_value: u.reason for u in doc.unmapped}
    assert reasons["maybe"].startswith("not a boolean")
    assert reasons["2023-02-30"].startswith("impossible date")
    assert reasons["12abc"] == "not a number"
    assert reasons["1e400"] == "not a number"
    assert reasons["99999999999999999999"].startswith("absurd number")
    paths = {u.path for u in doc.unmapped}
    assert "nonDerivativeTable/nonDerivativeTransaction[1]/transactionDate/value" in paths


@pytest.mark.parametrize("digits", ["\u0661\u0662\u0663", "\uff11\uff12.5", "1,\u0662\u0663\u0664"])
def test_digits_of_other_scripts_are_kept_verbatim_not_converted(digits: str):
    # Python's Decimal() reads Arabic-Indic or fullwidth digits as numbers; an SEC filing
    # never means them so: the value goes to unmapped_values as written.
    body = (b"<reportingOwner><reportingOwnerId><rptOwnerCik>\xd9\xa1\xd9\xa2</rptOwnerCik>"
            b"</reportingOwnerId></reportingOwner>"
            b"<nonDerivativeTable><nonDerivativeTransaction>"
            b"<securityTitle><value>Common</value></securityTitle>"
            b"<transactionDate><value>\xd9\xa2\xd9\xa0\xd9\xa2\xd9\xa3-01-05</value></transactionDate>"
            b"<transactionAmounts><transactionShares><value>" + digits.encode() + b"</value>"
            b"</transactionShares></transactionAmounts>"
            b"</nonDerivativeTransaction></nonDerivativeTable>")
    doc = parse(minimal(body)).document
    assert doc.entries["non_derivative_transactions"][0] == {"security_title": "Common"}
    assert "rpt_owner_cik" not in doc.owners[0]
    reasons = {u.raw_value: u.reason for u in doc.unmapped}
    assert reasons[digits] == "not a number"
    assert reasons["\u0661\u0662"].startswith("not a CIK")
    assert reasons["\u0662\u0660\u0662\u0663-01-05"].startswith("not a YYYY-MM-DD date")


def test_thousands_separators_are_read_as_numbers():
    body = (b"<nonDerivativeTable><nonDerivativeHolding>"
            b"<securityTitle><value>Common</value></securityTitle>"
            b"<postTransactionAmounts><sharesOwnedFollowingTransaction><value>1,234,567.5"
            b"</value></sharesOwnedFollowingTransaction></postTransactionAmounts>"
            b"</nonDerivativeHolding></nonDerivativeTable>")
    row = parse(minimal(body)).document.entries["non_derivative_holdings"][0]
    assert row["shares_owned_following_transaction"] == Decimal("1234567.5")


@pytest.mark.parametrize("text", [
    'O\'Brien "Jr." \\ back\\slash',
    "Zoë Ødegård — 株式会社",
    "tab\there and\r\nnewline",
])
def test_names_and_footnotes_round_trip_exactly(text: str):
    from xml.sax.saxutils import escape
    encoded = escape(text).encode()
    body = (b"<reportingOwner><reportingOwnerId><rptOwnerCik>0000000002</rptOwnerCik>"
            b"<rptOwnerName>" + encoded + b"</rptOwnerName></reportingOwnerId></reportingOwner>"
            b'<footnotes><footnote id="F1">' + encoded + b"</footnote></footnotes>")
    doc = parse(minimal(body, head=b'<?xml version="1.0" encoding="UTF-8"?>')).document
    # XML normalises CR LF to LF inside text; everything else is exact.
    expected = text.replace("\r\n", "\n")
    assert doc.owners[0]["rpt_owner_name"] == expected
    assert doc.footnotes == [("F1", expected)]


def test_credential_element_is_never_stored():
    body = (b"<reportingOwner><reportingOwnerId><rptOwnerCik>0000000002</rptOwnerCik>"
            b"<rptOwnerCcc>secret#1</rptOwnerCcc></reportingOwnerId></reportingOwner>")
    doc = parse(minimal(body)).document
    assert "secret#1" not in repr(doc)


def test_empty_input_and_garbage():
    for raw in (b"", b"   ", b"\x00\x01\x02", b"<"):
        with pytest.raises(ParseError, match="not an ownership filing"):
            parse(raw)
    parsed = parse(b"<ownershipDocument>")  # a truncated one: still a filing, with its error
    assert parsed.document is None and parsed.parse_error
