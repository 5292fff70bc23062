"""Parser fidelity (issue 10): 2003 X0101 layout, filings whose entries did not all land,
and submissions that hold no ownership XML.

``parsed = true`` means every transaction and holding entry of the document reached its
table; a filing with an entry kept in ``unmapped_values`` instead says so in ``parse_error``
(with ``parsed = false``) and keeps the rows that did map.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ingest.load import Loader
from ingest.parse import accession_from_name, parse_file
from ingest.records import (
    NO_DOCUMENTS,
    NO_OWNERSHIP_XML,
    NO_XML_DOCUMENT,
    UNMAPPED_ENTRIES,
    ParsedFiling,
    ParseError,
)
from tests.oracle import expected_refs, expected_values, parsed_refs, parsed_values

FIXTURES = Path(__file__).parent / "fixtures"
X0101 = FIXTURES / "constructed" / "x0101-form4-sonus-2003-10-15.xml"
X0101_ACCESSION = "0001105472-03-000002"
APPLE = FIXTURES / "submissions" / "0000320193-22-000061.txt"

# What `edgar-insider status` counts as "stored, but some entries reached no table".
FLAGGED_SQL = "SELECT accession_number FROM filings WHERE NOT parsed AND parse_error LIKE %s"


def parse_x0101() -> ParsedFiling:
    return parse_file(X0101.read_bytes(), X0101.name, accession=X0101_ACCESSION)


def minimal(body: bytes) -> bytes:
    return (b'<?xml version="1.0"?><ownershipDocument><schemaVersion>X0508</schemaVersion>'
            b"<documentType>4</documentType><issuer><issuerCik>0000000001</issuerCik>"
            b"<issuerName>X</issuerName></issuer>" + body + b"</ownershipDocument>")


HOLDING = (b"<nonDerivativeHolding><securityTitle><value>Common</value></securityTitle>"
           b"<postTransactionAmounts><sharesOwnedFollowingTransaction><value>5</value>"
           b"</sharesOwnedFollowingTransaction></postTransactionAmounts></nonDerivativeHolding>")
# A transaction under a name no schema has: its values cannot reach a table.
MISNAMED_TRANSACTION = (b"<nonDerivativeTransactionX><securityTitle><value>Common</value></securityTitle>"
                        b"<transactionAmounts><transactionShares><value>100</value></transactionShares>"
                        b"</transactionAmounts></nonDerivativeTransactionX>")


# -- 1. X0101: entries directly under the root, transactionValue as the price ---------------


def test_x0101_entries_directly_under_the_root_land_in_their_tables():
    parsed = parse_x0101()
    assert parsed.parsed and parsed.parse_error is None
    entries = parsed.document.entries
    assert {table: len(rows) for table, rows in entries.items()} == {
        "non_derivative_transactions": 2, "non_derivative_holdings": 1,
        "derivative_transactions": 1, "derivative_holdings": 1,
    }
    assert parsed.document.unmapped == []
    sale = entries["non_derivative_transactions"][1]
    assert sale == {
        "security_title": "Common Stock", "transaction_date": date(2003, 10, 10),
        "transaction_form_type": "4", "transaction_code": "S", "equity_swap_involved": False,
        "transaction_shares": Decimal("100000"), "transaction_value": Decimal("8.575"),
        "transaction_acquired_disposed_code": "D",
        "shares_owned_following_transaction": Decimal("14782"), "direct_or_indirect_ownership": "D",
    }
    assert entries["non_derivative_holdings"][0]["nature_of_ownership"] == "By spouse"
    assert entries["derivative_transactions"][0]["transaction_value"] == Decimal("0")
    assert entries["derivative_holdings"][0]["conversion_or_exercise_price"] == Decimal("6.00")


def test_x0101_values_and_references_match_an_independent_reading():
    parsed = parse_x0101()
    xml = X0101.read_bytes()
    assert parsed_values(parsed.document) == expected_values(xml)
    assert parsed_refs(parsed.document) == expected_refs(xml)
    assert ("F2", "non_derivative_transactions", 2, "transaction_value") in parsed_refs(parsed.document)


def test_entries_under_the_root_and_in_a_table_share_one_sequence():
    raw = minimal(b"<nonDerivativeTable>" + HOLDING + b"</nonDerivativeTable>" + HOLDING.replace(
        b"<value>5</value>", b"<value>6</value>"))
    parsed = parse_file(raw, "x.xml", accession="0000000001-24-000001")
    holdings = parsed.document.entries["non_derivative_holdings"]
    assert [h["shares_owned_following_transaction"] for h in holdings] == [5, 6]
    assert parsed.parsed


# -- 2. parsed = true only when every entry reached its table -------------------------------


@pytest.mark.parametrize("body, lost", [
    (b"<nonDerivativeTable>" + HOLDING + MISNAMED_TRANSACTION + b"</nonDerivativeTable>",
     "nonDerivativeTable/nonDerivativeTransactionX"),
    (b"<nonDerivativeTable>" + HOLDING + b"</nonDerivativeTable>" + MISNAMED_TRANSACTION,
     "nonDerivativeTransactionX"),
    (b"<nonDerivativeTable>" + HOLDING + b"</nonDerivativeTable><derivativeTables>"
     b"<derivativeTransaction><securityTitle><value>Option</value></securityTitle>"
     b"</derivativeTransaction></derivativeTables>", "derivativeTables"),
], ids=["in-a-table", "under-the-root", "misnamed-table"])
def test_an_entry_left_unmapped_flags_the_filing_and_keeps_the_rest(body, lost):
    parsed = parse_file(minimal(body), "x.xml", accession="0000000001-24-000001")
    assert not parsed.parsed
    assert parsed.parse_error.startswith(UNMAPPED_ENTRIES) and lost in parsed.parse_error
    assert parsed.document.entries["non_derivative_holdings"] == [
        {"security_title": "Common", "shares_owned_following_transaction": Decimal("5")}]
    assert any(u.path.startswith(lost) for u in parsed.document.unmapped)


@pytest.mark.parametrize("body", [
    b"<script>x</script>",  # an unknown leaf beside the document's fields
    b"<nonDerivativeTable>" + HOLDING + b"<!-- c --></nonDerivativeTable>",
    b"<nonDerivativeTable>" + HOLDING.replace(b"</securityTitle>", b"</securityTitle><zz>1</zz>")
    + b"</nonDerivativeTable>",  # an unknown value inside an entry that did land
    b'<nonDerivativeTable><footnoteId id="F1"/>' + HOLDING + b"</nonDerivativeTable>",
    b"<issuerAddress><street>1 Main St</street></issuerAddress>",  # no entry values inside
], ids=["root-leaf", "comment", "value-in-entry", "table-footnote", "unknown-group"])
def test_what_is_not_an_entry_does_not_flag_the_filing(body):
    parsed = parse_file(minimal(body), "x.xml", accession="0000000001-24-000001")
    assert parsed.parsed and parsed.parse_error is None, parsed.parse_error


def test_no_corpus_filing_is_flagged():
    """Real filings that are fine must not become flagged: measured over every fixture."""
    paths = [p for p in sorted(FIXTURES.rglob("*")) if p.suffix in (".xml", ".txt", ".nc", ".sgml")]
    flagged = []
    for n, path in enumerate(paths, 1):
        accession = accession_from_name(path.name) or f"9999999999-99-{n:06d}"
        try:
            parsed = parse_file(path.read_bytes(), path.name, accession=accession)
        except ParseError:  # not a filing at all (the seed's rendered text, a 10-K): nothing to flag
            continue
        if parsed.parse_error and parsed.parse_error.startswith(UNMAPPED_ENTRIES):
            flagged.append(path.name)
    assert len(paths) > 250 and flagged == []


def test_a_flagged_filing_is_stored_unparsed_with_its_mapped_rows_and_countable(
    db_conn: psycopg.Connection,
):
    body = b"<nonDerivativeTable>" + HOLDING + MISNAMED_TRANSACTION + b"</nonDerivativeTable>"
    flagged = parse_file(minimal(body), "x.xml", accession="0000000001-24-000001")
    fine = parse_file(minimal(b"<nonDerivativeTable>" + HOLDING + b"</nonDerivativeTable>"),
                      "y.xml", accession="0000000001-24-000002")
    Loader(db_conn).load([flagged, fine])
    assert db_conn.execute(FLAGGED_SQL, (UNMAPPED_ENTRIES + "%",)).fetchall() == [("0000000001-24-000001",)]
    assert db_conn.execute(
        "SELECT accession_number, count(*) FROM non_derivative_holdings GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("0000000001-24-000001", 1), ("0000000001-24-000002", 1)]
    kept = db_conn.execute(
        "SELECT path FROM unmapped_values WHERE accession_number = '0000000001-24-000001'"
    ).fetchall()
    assert kept and all(p.startswith("nonDerivativeTable/nonDerivativeTransactionX") for (p,) in kept)
    errors = db_conn.execute("SELECT accession_number, stage, message FROM ingest_errors").fetchall()
    assert errors == [("0000000001-24-000001", "parse", flagged.parse_error)]


# -- 3. submissions without an ownership document say why -----------------------------------


def test_a_submission_whose_xml_is_another_document_says_so():
    raw = APPLE.read_bytes()
    start, end = raw.index(b"<ownershipDocument>"), raw.index(b"</ownershipDocument>") + 20
    other = b"<edgarSubmission><schemaVersion>X0101</schemaVersion></edgarSubmission>"
    parsed = parse_file(raw[:start] + other + raw[end:], APPLE.name)
    assert parsed.document is None and not parsed.parsed
    assert parsed.parse_error == NO_OWNERSHIP_XML == "no ownership XML document in the submission"
    assert parsed.header.filed_date == date(2022, 5, 6)


def test_a_text_filing_with_no_xml_says_so():
    parsed = parse_file((FIXTURES / "submissions" / "0001094891-00-000193.txt").read_bytes(),
                        "0001094891-00-000193.txt")
    assert parsed.document is None and parsed.parse_error == NO_XML_DOCUMENT
    assert "text filing" in NO_XML_DOCUMENT


@pytest.mark.parametrize("name", ["0001012325-98-000004.header-only.txt",
                                  "secheader.4.evercommerce.header-only.txt"])
def test_a_header_only_submission_says_so(name):
    path = FIXTURES / "submissions" / name
    parsed = parse_file(path.read_bytes(), name, accession=accession_from_name(name) or
                        "9999999999-99-000001")
    assert parsed.document is None and parsed.parse_error == NO_DOCUMENTS
