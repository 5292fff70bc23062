"""The parser against real filings: every value of every corpus document, and the seed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.parse import accession_from_name, parse_file
from ingest.records import NO_DOCUMENTS, NO_XML_DOCUMENT, ParseError
from tests.oracle import (
    expected_footnotes,
    expected_header,
    expected_refs,
    expected_values,
    parsed_footnotes,
    parsed_refs,
    parsed_values,
)

FIXTURES = Path(__file__).parent / "fixtures"
OWNERSHIP_DOCS = sorted((FIXTURES / "ownership").glob("*.xml"))
SUBMISSIONS = sorted((FIXTURES / "submissions").iterdir())
STAND_IN_ACCESSION = "9999999999-99-000001"


def parse_fixture(path: Path, accession: str | None = None):
    accession = accession or (None if accession_from_name(path.name) else STAND_IN_ACCESSION)
    return parse_file(path.read_bytes(), path.name, accession=accession)


def test_corpus_is_present():
    assert len(OWNERSHIP_DOCS) == 165
    assert len(SUBMISSIONS) == 55


@pytest.mark.parametrize("path", OWNERSHIP_DOCS, ids=lambda p: p.name)
def test_every_leaf_and_footnote_reference_of_every_document(path: Path):
    parsed = parse_fixture(path)
    assert parsed.parse_error is None
    document = parsed.document
    assert parsed_values(document) == expected_values(path.read_bytes())
    assert parsed_refs(document) == expected_refs(path.read_bytes())
    assert parsed_footnotes(document) == expected_footnotes(path.read_bytes())
    # Anything without a column is kept, never dropped: only the two fixtures with an
    # injected <script> element have such a value.
    for kept in document.unmapped:
        assert kept.path == "script", kept


@pytest.mark.parametrize("path", SUBMISSIONS, ids=lambda p: p.name)
def test_every_submission_reads(path: Path):
    parsed = parse_fixture(path)
    assert parsed.source_kind == "submission"
    assert parsed.header is not None and parsed.header.filed_date is not None
    header = parsed.header
    assert {
        "form_type": header.form_type, "filed_date": header.filed_date, "header_period": header.period,
        "accepted_at": header.accepted_at and header.accepted_at.replace(tzinfo=None),
        "filer_ciks": sorted({f.cik for f in header.filers if f.cik is not None}) or None,
    } == {k: v for k, v in expected_header(path.read_bytes()).items() if k != "accession_number"}
    if "header-only" in path.name:
        assert parsed.document is None and parsed.parse_error == NO_DOCUMENTS
    elif path.name.startswith("0001094891-00"):  # pre-2003 text filing: kept, not parsed
        assert parsed.document is None and parsed.parse_error == NO_XML_DOCUMENT
    else:
        assert parsed.document is not None and parsed.parse_error is None


def test_seed_filing_has_the_values_of_its_rendering():
    parsed = parse_fixture(FIXTURES / "seed" / "seed-form4-sonus-2003-10-15.xml", "0001105472-03-000001")
    doc = parsed.document
    assert doc.filing["issuer_name"] == "SONUS NETWORKS INC"
    assert doc.filing["issuer_trading_symbol"] == "SONS"
    assert doc.filing["period_of_report"] == date(2003, 10, 10)
    owner = doc.owners[0]
    assert owner["rpt_owner_name"] == "JONES PAUL R"
    assert owner["is_officer"] is True and owner["is_director"] is False
    assert owner["officer_title"] == "VP of Engineering"
    exercise, sale = doc.entries["non_derivative_transactions"]
    assert (exercise["transaction_code"], exercise["transaction_shares"],
            exercise["transaction_acquired_disposed_code"], exercise["transaction_price_per_share"],
            exercise["shares_owned_following_transaction"], exercise["direct_or_indirect_ownership"]
            ) == ("M", Decimal("100000"), "A", Decimal("4.6667"), Decimal("114782"), "D")
    assert (sale["transaction_code"], sale["transaction_shares"],
            sale["transaction_acquired_disposed_code"], sale["transaction_price_per_share"],
            sale["shares_owned_following_transaction"]) == (
        "S", Decimal("100000"), "D", Decimal("8.575"), Decimal("14782"))
    [option] = doc.entries["derivative_transactions"]
    assert option["security_title"] == "Employee Stock Options (right to buy)"
    assert option["conversion_or_exercise_price"] == Decimal("4.6667")
    assert option["exercise_date"] == date(2001, 5, 19)
    assert option["expiration_date"] == date(2010, 5, 7)
    assert option["shares_owned_following_transaction"] == Decimal("264296")
    [ref] = doc.footnote_refs
    assert (ref.footnote_id, ref.table_name, ref.sequence, ref.column_name) == (
        "F1", "derivative_transactions", 1, "exercise_date")
    assert doc.footnotes[0][1].startswith("Options vested as to 25% of the shares on 05/19/2001.")
    assert doc.signatures == [
        ("/s/ Charles J. Gray as attorney-in-fact for Paul R. Jones", date(2003, 10, 15))]


def test_date_with_timezone_suffix():
    name = "edgar-pipeline-form4_tz_suffix_date-arec-2024-07-19.xml"
    doc = parse_fixture(FIXTURES / "ownership" / name).document
    assert doc.filing["period_of_report"] == date(2024, 7, 19)
    assert doc.entries["non_derivative_transactions"][0]["transaction_date"] == date(2024, 7, 19)


def test_value_given_only_by_footnote_is_null_with_its_reference():
    doc = parse_fixture(FIXTURES / "ownership" / "0001062993-21-005990.xml").document
    footnote_only = [
        (r.table_name, r.sequence, r.column_name) for r in doc.footnote_refs
        if r.column_name not in doc.entries.get(r.table_name, [{}] * 99)[(r.sequence or 1) - 1]
    ]
    assert footnote_only, "this Form 3 has values given only by a footnote"
    table, sequence, column = footnote_only[0]
    assert column not in doc.entries[table][sequence - 1]


def test_ten_reporting_owners():
    doc = parse_fixture(FIXTURES / "ownership" / "0000921895-23-001298.xml").document
    assert len(doc.owners) == 10
    assert len({owner["rpt_owner_cik"] for owner in doc.owners}) == 10


def test_booleans_written_true_false_and_aff10b5one():
    doc = parse_fixture(FIXTURES / "ownership" / "0001562180-23-003111.xml").document
    assert doc.filing["aff10b5_one"] is True
    assert doc.filing["not_subject_to_section16"] is False


def test_amendment_date_of_original_submission():
    doc = parse_fixture(FIXTURES / "ownership" / "0000707549-25-000004.xml").document
    assert doc.filing["document_type"] == "4/A"
    assert doc.filing["date_of_original_submission"] == date(2024, 11, 4)


def test_lowercase_none_ticker_is_kept_as_reported():
    doc = parse_fixture(FIXTURES / "ownership" / "0001935874-23-000004.xml").document
    assert doc.filing["issuer_trading_symbol"] == "none"


def test_thirty_five_footnotes_on_one_value():
    source = (FIXTURES / "ownership" / "0000899243-21-044241.xml").read_bytes()
    refs = b"".join(b'<footnoteId id="F%d"/>' % i for i in range(1, 36))
    notes = b"".join(b'<footnote id="F%d">note %d</footnote>' % (i, i) for i in range(1, 36))
    first_price = source.index(b"</transactionPricePerShare>")
    mutated = source[:first_price] + refs + source[first_price:]
    mutated = mutated.replace(b"</footnotes>", notes + b"</footnotes>", 1)
    mutated = mutated.replace(b"<footnotes>", b"<footnotes>", 1)
    doc = parse_file(mutated, "0000899243-21-044241.xml").document
    on_price = [r for r in doc.footnote_refs
                if (r.table_name, r.sequence, r.column_name)
                == ("non_derivative_transactions", 1, "transaction_price_per_share")]
    assert len(on_price) >= 35


# -- submissions and headers ------------------------------------------------------


def test_text_header_with_acceptance_time_in_eastern():
    parsed = parse_fixture(FIXTURES / "submissions" / "0001104659-23-005474.txt")
    header = parsed.header
    assert parsed.accession_number == "0001104659-23-005474"
    assert header.form_type == "4"
    assert header.filed_date == date(2023, 1, 20)
    assert header.accepted_at == datetime.fromisoformat("2023-01-20T17:36:52-05:00")
    assert header.accepted_at.utcoffset() == timedelta(hours=-5)
    assert len(parsed.document.owners) == 10
    assert sum(1 for f in header.filers if f.role == "reporting-owner") == 10


def test_summer_acceptance_time_is_edt():
    header = parse_fixture(FIXTURES / "submissions" / "0000320193-22-000061.txt").header
    assert header.accepted_at.utcoffset() == timedelta(hours=-4)


def test_tag_style_feed_header_on_one_line():
    parsed = parse_fixture(FIXTURES / "submissions" / "0001127602-25-004598.nc")
    assert parsed.accession_number == "0001127602-25-004598"
    assert parsed.header.filed_date == date(2025, 2, 13)
    assert parsed.header.period == date(2025, 2, 12)
    assert {(f.role, f.cik) for f in parsed.header.filers} == {
        ("reporting-owner", 1870985), ("issuer", 7536)}
    assert parsed.document.filing["issuer_trading_symbol"] == "ARW"


def test_pre_2003_pem_wrapped_text_filing_is_recorded_unparsed():
    parsed = parse_fixture(FIXTURES / "submissions" / "0001094891-00-000193.txt")
    assert parsed.document is None and parsed.parse_error == NO_XML_DOCUMENT
    assert parsed.header.filed_date == date(2000, 3, 14)
    assert ("subject-company", 911787) in {(f.role, f.cik) for f in parsed.header.filers}
    assert ("reporting-owner", 1050609) in {(f.role, f.cik) for f in parsed.header.filers}


def test_accession_from_file_names():
    assert accession_from_name("dir/0001104659-23-005474.txt") == "0001104659-23-005474"
    assert accession_from_name("000110465923005474.txt") == "0001104659-23-005474"
    assert accession_from_name("candlechaser-form4-mvis-2026-06-08.xml") is None


def test_no_accession_anywhere_is_a_clear_error():
    with pytest.raises(ParseError, match="no accession number"):
        parse_file((FIXTURES / "ownership" / "doc2dict-tsla4.xml").read_bytes(), "doc2dict-tsla4.xml")


def test_non_ownership_submission_is_refused():
    raw = b"<SEC-DOCUMENT>\nACCESSION NUMBER:\t0000320193-24-000001\nCONFORMED SUBMISSION TYPE:\t10-K\n"
    with pytest.raises(ParseError, match="not an ownership filing"):
        parse_file(raw, "x.txt")
