"""Acceptance: every value of every corpus document lands in PostgreSQL under the contract.

The whole corpus (bare XML documents, full submissions, the seed) and the constructed
documents (tests/fixtures/constructed: the X0101 layout, and SEC's v5.5 samples with the
columns no corpus filing fills) are loaded once per module; then each ownership document
is walked with plain lxml and each submission header read with regular expressions
(tests/oracle.py, not the parser's code) and compared with the rows: numbers as numbers,
dates as dates, footnotes by their text. Every catalog column holds a value in this load.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ingest.load import Loader
from ingest.parse import accession_from_name, parse_file
from ingest.records import ENTRY_TABLES, FILING_DOCUMENT_COLUMNS, NO_XML_DOCUMENT, OWNER_COLUMNS
from models import schema
from tests.oracle import (
    expected_footnotes,
    expected_header,
    expected_refs,
    expected_values,
    normalise_db_value,
)

FIXTURES = Path(__file__).parent / "fixtures"
OWNERSHIP_DOCS = sorted((FIXTURES / "ownership").glob("*.xml"))
SUBMISSIONS = sorted((FIXTURES / "submissions").iterdir())
CONSTRUCTED_DOCS = sorted((FIXTURES / "constructed").glob("*.xml"))
SEED = FIXTURES / "seed" / "seed-form4-sonus-2003-10-15.xml"
SEED_ACCESSION = "0001105472-03-000001"  # the rendering shows none; any valid one will do

TABLES = [
    "filings", "filing_owners", "non_derivative_transactions", "non_derivative_holdings",
    "derivative_transactions", "derivative_holdings", "footnotes", "footnote_references",
    "owner_signatures", "unmapped_values", "raw_submissions", "issuers", "persons",
]


def accession_for(path: Path, index: int) -> str:
    return accession_from_name(path.name) or f"9999999999-99-{index:06d}"


def constructed_accession(index: int) -> str:
    return f"9999999998-99-{index:06d}"


# Every document walked by the oracle: (accession, path).
DOCUMENTS = [(accession_for(p, n), p) for n, p in enumerate(OWNERSHIP_DOCS, 1)] + [
    (constructed_accession(n), p) for n, p in enumerate(CONSTRUCTED_DOCS, 1)
]


def corpus_batch() -> list:
    batch = [parse_file(p.read_bytes(), p.name) for p in SUBMISSIONS]
    batch += [
        parse_file(p.read_bytes(), p.name, accession=accession_for(p, n))
        for n, p in enumerate(OWNERSHIP_DOCS, 1)
    ]
    batch += [
        parse_file(p.read_bytes(), p.name, accession=constructed_accession(n))
        for n, p in enumerate(CONSTRUCTED_DOCS, 1)
    ]
    batch.append(parse_file(SEED.read_bytes(), SEED.name, accession=SEED_ACCESSION))
    return batch


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.fixture(scope="module")
def corpus_db(server_url, template_database, tmp_path_factory):
    """One database with the whole corpus loaded, shared by this module's read-only tests."""
    name = f"edgar_corpus_{tmp_path_factory.getbasetemp().name.replace('-', '_')}"
    admin_url = server_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    if "?" in admin_url:  # socket URLs keep their query (host=...)
        url += "?" + admin_url.split("?", 1)[1]
    conn = psycopg.connect(url, autocommit=True)
    results = Loader(conn).load(corpus_batch())
    yield conn, results
    conn.close()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_values(conn: psycopg.Connection, accession: str) -> Counter:
    found: Counter = Counter()
    filing_cols = list(FILING_DOCUMENT_COLUMNS)
    row = conn.execute(
        f"SELECT {', '.join(filing_cols)} FROM filings WHERE accession_number = %s", (accession,)
    ).fetchone()
    for column, value in zip(filing_cols, row, strict=True):
        if value is not None:
            found[("filings", None, column, normalise_db_value(value))] += 1
    tables = {"filing_owners": list(OWNER_COLUMNS), **{t: list(c) for t, c in ENTRY_TABLES.items()},
              "owner_signatures": ["signature_name", "signature_date"]}
    for table, columns in tables.items():
        rows = conn.execute(
            f"SELECT sequence, {', '.join(columns)} FROM {table} WHERE accession_number = %s",
            (accession,),
        ).fetchall()
        for sequence, *values in rows:
            for column, value in zip(columns, values, strict=True):
                if value is not None:
                    found[(table, sequence, column, normalise_db_value(value))] += 1
    return found


def db_footnotes(conn: psycopg.Connection, accession: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT footnote_id, text FROM footnotes WHERE accession_number = %s", (accession,)
    ).fetchall()
    return dict(rows)


def db_refs(conn: psycopg.Connection, accession: str) -> Counter:
    rows = conn.execute(
        "SELECT footnote_id, table_name, sequence, column_name FROM footnote_references"
        " WHERE accession_number = %s",
        (accession,),
    ).fetchall()
    return Counter(tuple(r) for r in rows)


def test_whole_corpus_loads_without_failure(corpus_db):
    conn, results = corpus_db
    assert [r for r in results if r.status == "failed"] == []
    # 52 of the bare XML documents are the XML of a full submission also in the corpus:
    # one filing each, kept from the submission (which has the header).
    assert len({r.accession_number for r in results}) == 55 + 165 + 3 + 1 - 52 == 172
    kinds = dict(conn.execute("SELECT source_kind, count(*) FROM filings GROUP BY 1").fetchall())
    assert kinds == {"submission": 55, "xml": 117}


@pytest.mark.parametrize("accession_path", DOCUMENTS, ids=lambda ap: ap[1].name)
def test_every_leaf_footnote_and_reference_lands_in_the_database(corpus_db, accession_path):
    conn, _ = corpus_db
    accession, path = accession_path
    xml = path.read_bytes()
    assert db_values(conn, accession) == expected_values(xml)
    assert db_refs(conn, accession) == expected_refs(xml)
    assert db_footnotes(conn, accession) == expected_footnotes(xml)


@pytest.mark.parametrize("path", SUBMISSIONS, ids=lambda p: p.name)
def test_every_submission_header_lands_in_the_database(corpus_db, path):
    conn, _ = corpus_db
    expected = expected_header(path.read_bytes())
    row = conn.execute(
        "SELECT form_type, filed_date, accepted_at AT TIME ZONE 'America/New_York', header_period,"
        " filer_ciks, source_kind FROM filings WHERE accession_number = %s",
        (expected.pop("accession_number"),),
    ).fetchone()
    columns = ("form_type", "filed_date", "accepted_at", "header_period", "filer_ciks")
    assert dict(zip(columns, row[:5], strict=True)) == expected
    assert row[5] == "submission"


# Columns of the filing tables that are not values of a document or header.
_BOOKKEEPING = {"accession_number", "sequence", "ingested_at", "updated_at", "source_name",
                *schema.DERIVED_COLUMNS}


def test_every_catalog_column_holds_a_value(corpus_db):
    """No column is dead weight in the tests: each holds a value somewhere in this load, so
    the comparisons above check it (the constructed documents fill the rare ones)."""
    conn, _ = corpus_db
    tables = [schema.filings, schema.filing_owners, *schema.entry_tables.values(),
              schema.footnotes, schema.footnote_references, schema.owner_signatures,
              schema.unmapped_values]
    empty = [
        f"{table.name}.{column.name}"
        for table in tables
        for column in table.columns
        if column.name not in _BOOKKEEPING
        and not conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table.name} WHERE {column.name} IS NOT NULL)"
        ).fetchone()[0]
    ]
    assert empty == []


def test_values_given_only_by_footnote_are_null_with_their_reference(corpus_db):
    conn, _ = corpus_db
    # 0001062993-21-005990 (Form 3): derivative holdings whose dates are footnotes only.
    rows = conn.execute(
        "SELECT h.sequence, r.column_name FROM derivative_holdings h"
        " JOIN footnote_references r ON r.accession_number = h.accession_number"
        "  AND r.table_name = 'derivative_holdings' AND r.sequence = h.sequence"
        " WHERE h.accession_number = '0001062993-21-005990'"
        "  AND r.column_name = 'exercise_date' AND h.exercise_date IS NULL"
    ).fetchall()
    assert rows, "footnote-only exercise dates are NULL with their reference kept"


def test_seed_filing_as_rendered(corpus_db):
    conn, _ = corpus_db
    rows = conn.execute(
        "SELECT transaction_code, transaction_shares, transaction_acquired_disposed_code,"
        " transaction_price_per_share, shares_owned_following_transaction,"
        " direct_or_indirect_ownership, transaction_date"
        " FROM non_derivative_transactions WHERE accession_number = %s ORDER BY sequence",
        (SEED_ACCESSION,),
    ).fetchall()
    assert rows == [
        ("M", Decimal("100000"), "A", Decimal("4.6667"), Decimal("114782"), "D", date(2003, 10, 10)),
        ("S", Decimal("100000"), "D", Decimal("8.575"), Decimal("14782"), "D", date(2003, 10, 10)),
    ]
    derivative = conn.execute(
        "SELECT security_title, conversion_or_exercise_price, transaction_code, exercise_date,"
        " expiration_date, underlying_security_title, underlying_security_shares,"
        " shares_owned_following_transaction"
        " FROM derivative_transactions WHERE accession_number = %s",
        (SEED_ACCESSION,),
    ).fetchall()
    assert derivative == [(
        "Employee Stock Options (right to buy)", Decimal("4.6667"), "M", date(2001, 5, 19),
        date(2010, 5, 7), "Common Stock", Decimal("100000"), Decimal("264296"),
    )]
    ref = conn.execute(
        "SELECT r.footnote_id, r.table_name, r.sequence, r.column_name, f.text"
        " FROM footnote_references r JOIN footnotes f USING (accession_number, footnote_id)"
        " WHERE r.accession_number = %s",
        (SEED_ACCESSION,),
    ).fetchall()
    assert len(ref) == 1
    assert ref[0][:4] == ("F1", "derivative_transactions", 1, "exercise_date")
    assert ref[0][4].startswith("Options vested as to 25% of the shares on 05/19/2001.")
    owner = conn.execute(
        "SELECT rpt_owner_name, is_officer, is_director, officer_title, rpt_owner_city"
        " FROM filing_owners WHERE accession_number = %s",
        (SEED_ACCESSION,),
    ).fetchone()
    assert owner == ("JONES PAUL R", True, False, "VP of Engineering", "WESTFORD")
    signature = conn.execute(
        "SELECT signature_name, signature_date FROM owner_signatures WHERE accession_number = %s",
        (SEED_ACCESSION,),
    ).fetchall()
    assert signature == [("/s/ Charles J. Gray as attorney-in-fact for Paul R. Jones", date(2003, 10, 15))]
    issuer = conn.execute(
        "SELECT issuer_name, issuer_trading_symbol, period_of_report FROM filings"
        " WHERE accession_number = %s",
        (SEED_ACCESSION,),
    ).fetchone()
    assert issuer == ("SONUS NETWORKS INC", "SONS", date(2003, 10, 10))


def test_submission_header_fields_land(corpus_db):
    conn, _ = corpus_db
    row = conn.execute(
        "SELECT form_type, filed_date, accepted_at AT TIME ZONE 'America/New_York', parsed, source_kind"
        " FROM filings WHERE accession_number = '0001104659-23-005474'"
    ).fetchone()
    assert row[0] == "4" and row[1] == date(2023, 1, 20)
    assert str(row[2]) == "2023-01-20 17:36:52"
    assert row[3] is True and row[4] == "submission"
    owners = conn.execute(
        "SELECT count(*) FROM filing_owners WHERE accession_number = '0001104659-23-005474'"
    ).fetchone()[0]
    assert owners == 10


def test_pre_xml_text_filing_is_recorded_unparsed_with_raw_kept(corpus_db):
    conn, _ = corpus_db
    row = conn.execute(
        "SELECT f.parsed, f.parse_error, f.filed_date, f.issuer_cik, r.raw_size > 0"
        " FROM filings f JOIN raw_submissions r USING (accession_number)"
        " WHERE accession_number = '0001094891-00-000193'"
    ).fetchone()
    assert row == (False, NO_XML_DOCUMENT, date(2000, 3, 14), 911787, True)


def test_loading_the_corpus_again_changes_nothing(corpus_db):
    conn, _ = corpus_db
    before = counts(conn)
    results = Loader(conn).load(corpus_batch())
    assert {r.status for r in results} == {"unchanged"}
    assert counts(conn) == before


def test_placeholder_ticker_is_kept_as_filed_but_not_made_the_issuers_ticker(corpus_db):
    conn, _ = corpus_db
    filed, latest = conn.execute(
        "SELECT f.issuer_trading_symbol, i.trading_symbol FROM filings f"
        " JOIN issuers i ON i.cik = f.issuer_cik WHERE f.accession_number = '0001935874-23-000004'"
    ).fetchone()
    assert filed == "none" and latest is None
