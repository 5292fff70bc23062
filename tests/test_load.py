"""Loader: idempotency, replacement, precedence, failure isolation, issuers/persons."""

from __future__ import annotations

import gzip
import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

import ingest.parse
from ingest import load as load_module
from ingest.load import Loader, encode_children, prepare
from ingest.records import (
    NO_DOCUMENTS,
    PARSER_VERSION,
    FootnoteRef,
    HeaderFiler,
    OwnershipDocument,
    ParsedFiling,
    SubmissionHeader,
    Unmapped,
)
from ingest.rows import EncodedRows
from ingest.worker import Outcome, Stage
from models import schema

FIXTURES = Path(__file__).parent / "fixtures" / "load"
NY = ZoneInfo("America/New_York")


# ---------------------------------------------------------------------------
# Hand-made filings
# ---------------------------------------------------------------------------


def make_filing(
    accession: str = "0000320193-24-000001",
    *,
    source_kind: str = "submission",
    raw: bytes | None = None,
    filed: date | None = date(2024, 5, 6),
    period: date | None = date(2024, 5, 4),
    issuer: tuple[int, str, str] = (320193, "Apple Inc.", "AAPL"),
    owners: list[tuple[int, str]] | None = None,
    transactions: int = 2,
    footnotes: list[tuple[str, str]] | None = None,
    with_document: bool = True,
    parse_error: str | None = None,
    remarks: str | None = "remarks",
) -> ParsedFiling:
    """A ParsedFiling as the parser would produce it (raw defaults to unique bytes)."""
    owners = [(1462356, "Adams Katherine L.")] if owners is None else owners
    footnotes = [("F1", "10b5-1 plan"), ("F2", "weighted average")] if footnotes is None else footnotes
    header = None
    if source_kind == "submission":
        header = SubmissionHeader(
            accession_number=accession,
            form_type="4",
            filed_date=filed,
            accepted_at=datetime(2024, 5, 6, 18, 30, 57, tzinfo=NY) if filed else None,
            period=period,
            filers=[HeaderFiler("reporting-owner", cik, name) for cik, name in owners]
            + [HeaderFiler("issuer", issuer[0], issuer[1])],
        )
    document = None
    if with_document:
        document = OwnershipDocument(
            filing={
                "schema_version": "X0306",
                "document_type": "4",
                "period_of_report": period,
                "not_subject_to_section16": False,
                "aff10b5_one": True,
                "remarks": remarks,
                "issuer_cik": issuer[0],
                "issuer_name": issuer[1],
                "issuer_trading_symbol": issuer[2],
            },
            owners=[
                {"rpt_owner_cik": cik, "rpt_owner_name": name, "is_officer": True} for cik, name in owners
            ],
            entries={
                "non_derivative_transactions": [
                    {
                        "security_title": "Common Stock",
                        "transaction_date": date(2024, 5, 4),
                        "transaction_code": "S",
                        "transaction_shares": Decimal("9136") + i,
                        "transaction_price_per_share": Decimal("159.9412"),
                        "transaction_acquired_disposed_code": "D",
                        "shares_owned_following_transaction": Decimal("468198.5"),
                        "direct_or_indirect_ownership": "D",
                    }
                    for i in range(transactions)
                ],
                "derivative_holdings": [
                    {
                        "security_title": "Option",
                        "conversion_or_exercise_price": Decimal("12.5"),
                        "expiration_date": date(2030, 1, 1),
                    }
                ],
            },
            footnotes=list(footnotes),
            footnote_refs=[
                FootnoteRef("F1", "non_derivative_transactions", 1, "security_title"),
                FootnoteRef("F2", "filings", None, "remarks"),
            ],
            signatures=[("/s/ Sam Whittington", date(2024, 5, 6))],
            unmapped=[Unmapped("ownershipDocument/oddity", "xyz", "no column")],
        )
    if raw is None:
        raw = f"<raw {accession} {source_kind} {transactions} {remarks}>".encode()
    return ParsedFiling(
        accession_number=accession,
        source_kind=source_kind,
        header=header,
        document=document,
        parse_error=parse_error,
        raw=raw,
    )


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: equal snapshots = nothing written."""
    out: dict[str, list[tuple]] = {}
    for table in schema.ALL_TABLES:
        rows = conn.execute(f"SELECT * FROM {table.name}").fetchall()
        out[table.name] = sorted(rows, key=repr)
    return out


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t.name: conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in schema.ALL_TABLES}


def statuses(results) -> list[str]:
    return [r.status for r in results]


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


def test_new_filing_lands_in_every_table(db_conn: psycopg.Connection) -> None:
    filing = make_filing()
    results = Loader(db_conn).load([prepare(filing, source_name="/data/a.txt")])
    assert statuses(results) == ["loaded"]
    assert results[0].source_name == "/data/a.txt"

    row = db_conn.execute(
        "SELECT form_type, document_type, issuer_cik, issuer_trading_symbol, filed_date, "
        "accepted_at, header_period, filer_ciks, parsed, parse_error, source_kind, "
        "source_name, raw_sha256, parser_version, aff10b5_one, updated_at FROM filings"
    ).fetchone()
    assert row == (
        "4",
        "4",
        320193,
        "AAPL",
        date(2024, 5, 6),
        datetime(2024, 5, 6, 18, 30, 57, tzinfo=NY),
        date(2024, 5, 4),
        [320193, 1462356],
        True,
        None,
        "submission",
        "/data/a.txt",
        hashlib.sha256(filing.raw).hexdigest(),
        PARSER_VERSION,
        True,
        None,
    )
    tx = db_conn.execute(
        "SELECT sequence, transaction_shares, transaction_price_per_share "
        "FROM non_derivative_transactions ORDER BY sequence"
    ).fetchall()
    # NUMERIC keeps every decimal exactly.
    assert tx == [(1, Decimal("9136"), Decimal("159.9412")), (2, Decimal("9137"), Decimal("159.9412"))]
    compression, size, packed, sha = db_conn.execute(
        "SELECT compression, raw_size, raw, sha256 FROM raw_submissions"
    ).fetchone()
    assert compression == "gzip" and size == len(filing.raw)
    assert gzip.decompress(packed) == filing.raw and sha == hashlib.sha256(filing.raw).hexdigest()
    n = counts(db_conn)
    assert n["filing_owners"] == 1 and n["derivative_holdings"] == 1
    assert n["footnotes"] == 2 and n["footnote_references"] == 2
    assert n["owner_signatures"] == 1 and n["unmapped_values"] == 1
    assert n["issuers"] == 1 and n["persons"] == 1 and n["ingest_errors"] == 0


def test_same_batch_twice_is_unchanged_and_writes_nothing(db_conn: psycopg.Connection) -> None:
    batch = [
        prepare(make_filing("0000000001-24-000001"), "a"),
        prepare(make_filing("0000000001-24-000002", issuer=(2, "B CORP", "B")), "b"),
        make_filing("0000000001-24-000003", with_document=False, parse_error="bad XML"),
    ]
    loader = Loader(db_conn)
    assert statuses(loader.load(batch)) == ["loaded"] * 3
    before = snapshot(db_conn)
    again = loader.load(batch)
    assert statuses(again) == ["unchanged"] * 3
    assert snapshot(db_conn) == before


def test_new_filings_are_copied_into_place_and_one_stored_meanwhile_is_upserted(
    db_conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch of new filings only is COPYed straight into filings (no staging, no upsert).
    # If another loader stored one of them after this batch looked (simulated: the first
    # look misses it), the unique key refuses the COPY and the batch is loaded again one
    # filing at a time, the stored one upserted: nothing fails, nothing is doubled.
    stored = prepare(make_filing("0000000001-24-000004"), "a")
    new = prepare(make_filing("0000000001-24-000005", issuer=(2, "B CORP", "B")), "b")
    Loader(db_conn).load([stored])
    with db_conn.transaction(force_rollback=True):  # what the batch stores without a race
        Loader(db_conn).load([stored, new])
        expected = counts(db_conn)
    ingested = db_conn.execute("SELECT ingested_at FROM filings").fetchone()[0]
    looks = []
    real_plan = Loader._plan

    def first_look_misses_it(self: Loader, items: list, indexes: list[int], force: bool) -> list:
        plans = real_plan(self, items, indexes, force)
        if not looks:
            for plan in plans:
                plan.status = load_module.Status.LOADED
        looks.append([plan.status for plan in plans])
        return plans

    monkeypatch.setattr(Loader, "_plan", first_look_misses_it)
    assert statuses(Loader(db_conn).load([stored, new])) == ["unchanged", "loaded"]
    assert len(looks) == 3  # the batch, then each filing on its own
    assert db_conn.execute("SELECT count(*) FROM ingest_errors").fetchone()[0] == 0
    assert db_conn.execute("SELECT ingested_at FROM filings WHERE accession_number = "
                           "'0000000001-24-000004'").fetchone()[0] == ingested
    assert counts(db_conn) == expected


def test_changed_bytes_replace_every_row(db_conn: psycopg.Connection) -> None:
    acc = "0000000001-24-000010"
    loader = Loader(db_conn)
    loader.load([make_filing(acc, transactions=3)])
    first_ingested = db_conn.execute("SELECT ingested_at FROM filings").fetchone()[0]

    v2 = make_filing(acc, transactions=1, footnotes=[("F9", "new note")], remarks="amended")
    assert statuses(loader.load([v2])) == ["replaced"]

    assert db_conn.execute(
        "SELECT sequence FROM non_derivative_transactions WHERE accession_number = %s", (acc,)
    ).fetchall() == [(1,)]
    assert db_conn.execute("SELECT footnote_id, text FROM footnotes").fetchall() == [("F9", "new note")]
    remarks, ingested, updated, sha = db_conn.execute(
        "SELECT remarks, ingested_at, updated_at, raw_sha256 FROM filings"
    ).fetchone()
    assert remarks == "amended" and ingested == first_ingested and updated is not None
    assert sha == hashlib.sha256(v2.raw).hexdigest()
    assert gzip.decompress(db_conn.execute("SELECT raw FROM raw_submissions").fetchone()[0]) == v2.raw
    n = counts(db_conn)
    assert n["filings"] == 1 and n["raw_submissions"] == 1 and n["owner_signatures"] == 1


def test_new_parser_version_replaces_same_bytes(
    db_conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    filing = make_filing()
    loader = Loader(db_conn)
    loader.load([filing])
    monkeypatch.setattr(load_module, "PARSER_VERSION", PARSER_VERSION + 1)
    assert statuses(loader.load([filing])) == ["replaced"]
    assert db_conn.execute("SELECT parser_version FROM filings").fetchone()[0] == PARSER_VERSION + 1
    assert statuses(loader.load([filing])) == ["unchanged"]
    # An older parser never overwrites what a newer one stored.
    monkeypatch.setattr(load_module, "PARSER_VERSION", PARSER_VERSION)
    result = loader.load([filing])[0]
    assert result.status == "unchanged" and "newer parser" in (result.message or "")


def test_force_replaces_unchanged(db_conn: psycopg.Connection) -> None:
    loader = Loader(db_conn)
    loader.load([make_filing()])
    assert statuses(loader.load([make_filing()], force=True)) == ["replaced"]
    assert counts(db_conn)["non_derivative_transactions"] == 2


def test_xml_never_replaces_a_submission(db_conn: psycopg.Connection) -> None:
    acc = "0000000001-24-000020"
    loader = Loader(db_conn)
    loader.load([make_filing(acc)])
    before = snapshot(db_conn)
    xml = make_filing(acc, source_kind="xml", transactions=5)
    result = loader.load([xml])[0]
    assert result.status == "unchanged" and "never replaces" in (result.message or "")
    assert snapshot(db_conn) == before
    # ...even when forced.
    assert statuses(loader.load([xml], force=True)) == ["unchanged"]


def test_submission_replaces_an_xml(db_conn: psycopg.Connection) -> None:
    acc = "0000000001-24-000021"
    loader = Loader(db_conn)
    assert statuses(loader.load([make_filing(acc, source_kind="xml")])) == ["loaded"]
    row = db_conn.execute("SELECT source_kind, filed_date, filer_ciks FROM filings").fetchone()
    assert row == ("xml", None, None)
    assert statuses(loader.load([make_filing(acc)])) == ["replaced"]
    assert db_conn.execute("SELECT source_kind FROM filings").fetchone()[0] == "submission"


def test_duplicates_in_one_batch(db_conn: psycopg.Connection) -> None:
    acc = "0000000001-24-000030"
    sub = make_filing(acc, transactions=1)
    xml = make_filing(acc, source_kind="xml", transactions=4)
    results = Loader(db_conn).load([sub, xml])
    assert statuses(results) == ["loaded", "unchanged"]
    assert db_conn.execute("SELECT source_kind FROM filings").fetchone()[0] == "submission"

    acc2 = "0000000001-24-000031"
    first = make_filing(acc2, transactions=1)
    last = make_filing(acc2, transactions=3)
    assert statuses(Loader(db_conn).load([first, last])) == ["unchanged", "loaded"]
    assert (
        db_conn.execute(
            "SELECT count(*) FROM non_derivative_transactions WHERE accession_number = %s", (acc2,)
        ).fetchone()[0]
        == 3
    )


def test_a_bad_filing_does_not_stop_the_batch(db_conn: psycopg.Connection) -> None:
    good1 = make_filing("0000000001-24-000040")
    # NUL only in a parsed value (raw is clean): the database refuses it, the batch falls
    # back to one filing at a time.
    bad_db = make_filing("0000000001-24-000041", remarks="bad \x00 remark", raw=b"<clean>")
    # NUL also in the raw bytes: caught before the database is asked.
    bad_raw = make_filing("0000000001-24-000042", remarks="x\x00y", raw=b"<raw \x00>")
    # A value of the wrong type for its column.
    bad_type = make_filing("0000000001-24-000043")
    bad_type.document.entries["non_derivative_transactions"][0]["transaction_shares"] = "12 shares"
    good2 = make_filing("0000000001-24-000044")

    results = Loader(db_conn).load([good1, bad_db, bad_raw, bad_type, good2])
    assert statuses(results) == ["loaded", "failed", "failed", "failed", "loaded"]
    assert "NUL" in results[2].message
    stored = {r[0] for r in db_conn.execute("SELECT accession_number FROM filings")}
    assert stored == {"0000000001-24-000040", "0000000001-24-000044"}
    # A failed filing leaves nothing behind in any table.
    for table in schema.CHILD_TABLES:
        accs = {r[0] for r in db_conn.execute(f"SELECT accession_number FROM {table.name}")}
        assert accs <= stored, table.name
    errors = db_conn.execute(
        "SELECT accession_number, stage FROM ingest_errors ORDER BY accession_number"
    ).fetchall()
    assert errors == [
        ("0000000001-24-000041", "load"),
        ("0000000001-24-000042", "load"),
        ("0000000001-24-000043", "load"),
    ]
    # Errors are history: reloading the good ones does not touch them.
    Loader(db_conn).load([good1, good2])
    assert counts(db_conn)["ingest_errors"] == 3


def test_single_bad_filing_fails_alone(db_conn: psycopg.Connection) -> None:
    results = Loader(db_conn).load([make_filing(remarks="\x00", raw=b"<clean>")])
    assert statuses(results) == ["failed"]
    assert counts(db_conn)["filings"] == 0 and counts(db_conn)["ingest_errors"] == 1


def test_unparsed_filing_is_recorded(db_conn: psycopg.Connection) -> None:
    broken = make_filing("0000000001-24-000050", with_document=False, parse_error="XML syntax error line 3")
    header_only = make_filing("0001012325-98-000004", with_document=False, filed=date(1998, 1, 5))
    results = Loader(db_conn).load([broken, header_only])
    assert statuses(results) == ["loaded", "loaded"]
    rows = db_conn.execute(
        "SELECT accession_number, parsed, parse_error, form_type, filed_date, issuer_cik "
        "FROM filings ORDER BY accession_number"
    ).fetchall()
    assert rows == [
        # Unparsed, but still findable by issuer: the CIK comes from the SGML header.
        ("0000000001-24-000050", False, "XML syntax error line 3", "4", date(2024, 5, 6), 320193),
        ("0001012325-98-000004", False, None, "4", date(1998, 1, 5), 320193),
    ]
    assert counts(db_conn)["raw_submissions"] == 2
    assert db_conn.execute("SELECT accession_number, stage, message FROM ingest_errors").fetchall() == [
        ("0000000001-24-000050", "parse", "XML syntax error line 3")
    ]
    # Names still known from the SGML header.
    assert db_conn.execute("SELECT cik, name FROM persons").fetchall() == [(1462356, "Adams Katherine L.")]


def test_issuers_and_persons_keep_the_newest_filing(db_conn: psycopg.Connection) -> None:
    loader = Loader(db_conn)
    newer = make_filing(
        "0000000002-24-000002",
        filed=date(2024, 6, 1),
        issuer=(42, "NEW NAME INC", "NEW"),
        owners=[(7, "Doe Jane (new)")],
    )
    older = make_filing(
        "0000000002-24-000001",
        filed=date(2024, 1, 1),
        issuer=(42, "OLD NAME INC", "OLD"),
        owners=[(7, "Doe Jane"), (8, "Roe Richard")],
    )
    loader.load([newer])
    loader.load([older])  # arrives later, is older: must not win
    assert db_conn.execute("SELECT * FROM issuers").fetchall() == [
        (42, "NEW NAME INC", "NEW", date(2024, 6, 1), "0000000002-24-000002")
    ]
    assert db_conn.execute(
        "SELECT cik, name, last_accession_number FROM persons ORDER BY cik"
    ).fetchall() == [
        (7, "Doe Jane (new)", "0000000002-24-000002"),
        (8, "Roe Richard", "0000000002-24-000001"),
    ]

    # Same filed date: the later period wins, then the greater accession.
    same_day_later_period = make_filing(
        "0000000002-24-000000",
        filed=date(2024, 6, 1),
        period=date(2024, 5, 30),
        issuer=(42, "PERIOD WINS", "PW"),
    )
    loader.load([same_day_later_period])
    assert db_conn.execute("SELECT name FROM issuers").fetchone()[0] == "PERIOD WINS"
    tie = make_filing(
        "0000000002-24-000009",
        filed=date(2024, 6, 1),
        period=date(2024, 5, 30),
        issuer=(42, "ACCESSION WINS", "AW"),
    )
    loader.load([tie])
    assert db_conn.execute("SELECT name FROM issuers").fetchone()[0] == "ACCESSION WINS"

    # Within one batch, order does not matter.
    a = make_filing("0000000003-24-000001", filed=date(2023, 1, 1), issuer=(99, "A", "A"))
    b = make_filing("0000000003-24-000002", filed=date(2023, 2, 1), issuer=(99, "B", "B"))
    loader.load([b, a])
    assert db_conn.execute("SELECT name FROM issuers WHERE cik = 99").fetchone()[0] == "B"

    # Re-loading the newest filing with changed content updates the values.
    tie_v2 = make_filing(
        "0000000002-24-000009",
        filed=date(2024, 6, 1),
        period=date(2024, 5, 30),
        issuer=(42, "ACCESSION WINS CORRECTED", "AW"),
        remarks="v2",
    )
    assert statuses(loader.load([tie_v2])) == ["replaced"]
    assert db_conn.execute("SELECT name FROM issuers WHERE cik = 42").fetchone()[0] == (
        "ACCESSION WINS CORRECTED"
    )


def test_duplicate_footnote_ids_keep_the_first(db_conn: psycopg.Connection) -> None:
    filing = make_filing(footnotes=[("F1", "first"), ("F1", "second"), ("F2", "other")])
    assert statuses(Loader(db_conn).load([filing])) == ["loaded"]
    assert db_conn.execute("SELECT footnote_id, text FROM footnotes ORDER BY 1").fetchall() == [
        ("F1", "first"),
        ("F2", "other"),
    ]
    rows = db_conn.execute(
        "SELECT sequence, raw_value, reason FROM unmapped_values ORDER BY sequence"
    ).fetchall()
    assert rows[0] == (1, "xyz", "no column")
    assert rows[1][0] == 2 and rows[1][1] == "second" and "duplicate footnote" in rows[1][2]


def test_values_without_a_column_are_kept(db_conn: psycopg.Connection) -> None:
    filing = make_filing()
    filing.document.owners[0]["rpt_owner_shoe_size"] = "42"
    Loader(db_conn).load([filing])
    assert db_conn.execute("SELECT path, raw_value FROM unmapped_values WHERE sequence = 2").fetchone() == (
        "reportingOwner[1]/rpt_owner_shoe_size",
        "42",
    )


def test_caller_transaction_commits_or_rolls_back_everything(db_conn: psycopg.Connection) -> None:
    loader = Loader(db_conn)
    with pytest.raises(RuntimeError), db_conn.transaction():
        assert statuses(loader.load([make_filing()])) == ["loaded"]
        raise RuntimeError("queue update failed")
    assert counts(db_conn)["filings"] == 0
    # The loader recovers (its staging table was rolled back with the transaction).
    with db_conn.transaction():
        assert statuses(loader.load([make_filing()])) == ["loaded"]
    assert counts(db_conn)["filings"] == 1


def test_write_records_a_failure(db_conn: psycopg.Connection) -> None:
    failure = Outcome.failure(Stage.READ, "gzip: bad magic", "/x/y.txt.gz")
    Loader(db_conn).write([failure])
    assert db_conn.execute(
        "SELECT accession_number, source_name, stage, message FROM ingest_errors"
    ).fetchall() == [(None, "/x/y.txt.gz", "read", "gzip: bad magic")]


def test_real_files_end_to_end(db_conn: psycopg.Connection) -> None:
    parse = ingest.parse
    items = [
        prepare(parse.parse_file(path.read_bytes(), path.name), str(path))
        for path in sorted(FIXTURES.iterdir())
    ]
    loader = Loader(db_conn)
    results = loader.load(items)
    by_acc = {r.accession_number: r.status for r in results if r.status != "unchanged"}
    assert set(by_acc.values()) == {"loaded"}
    # The .txt and the bare .xml of Apple's filing: the submission is kept.
    assert db_conn.execute(
        "SELECT source_kind, issuer_trading_symbol, parsed FROM filings "
        "WHERE accession_number = '0000320193-22-000061'"
    ).fetchone() == ("submission", "AAPL", True)
    assert (
        db_conn.execute(
            "SELECT count(*) FROM non_derivative_transactions WHERE accession_number = '0000320193-22-000061'"
        ).fetchone()[0]
        == 7
    )
    header_only = db_conn.execute(
        "SELECT parsed, parse_error FROM filings WHERE accession_number = '0001012325-98-000004'"
    ).fetchone()
    assert header_only == (False, NO_DOCUMENTS)
    before = snapshot(db_conn)
    assert set(statuses(loader.load(items))) == {"unchanged"}
    assert snapshot(db_conn) == before


def test_replaced_filing_under_another_issuer_repoints_the_latest_rows(
    db_conn: psycopg.Connection,
) -> None:
    # A corrected filing names another issuer and owner: the old issuer and owner no longer
    # take their latest values from it, but from their newest remaining filing, or keep
    # their values with no pointer when none is left.
    loader = Loader(db_conn)
    loader.load([
        make_filing("0000000003-24-000001", filed=date(2024, 1, 2),
                    issuer=(42, "EARLIER NAME INC", "ERL"), owners=[(7, "Doe Jane")]),
        make_filing("0000000003-24-000002", filed=date(2024, 6, 3),
                    issuer=(42, "WRONG ISSUER INC", "WRG"), owners=[(7, "Doe Jane (wrong)"),
                                                                    (5, "Only Here")]),
    ])
    assert db_conn.execute("SELECT last_accession_number FROM issuers WHERE cik = 42").fetchone() == (
        "0000000003-24-000002",)
    [result] = loader.load([
        make_filing("0000000003-24-000002", filed=date(2024, 6, 3), raw=b"corrected bytes",
                    issuer=(99, "RIGHT ISSUER INC", "NONE"), owners=[(8, "Roe Richard")]),
    ])
    assert result.status == "replaced"
    assert db_conn.execute("SELECT * FROM issuers ORDER BY cik").fetchall() == [
        (42, "EARLIER NAME INC", "ERL", date(2024, 1, 2), "0000000003-24-000001"),
        (99, "RIGHT ISSUER INC", None, date(2024, 6, 3), "0000000003-24-000002"),
    ]
    assert db_conn.execute(
        "SELECT cik, name, last_accession_number FROM persons ORDER BY cik"
    ).fetchall() == [
        (5, "Only Here", None),  # named by no filing any more: values kept, no pointer
        (7, "Doe Jane", "0000000003-24-000001"),
        (8, "Roe Richard", "0000000003-24-000002"),
    ]


@pytest.mark.parametrize("encoded", [False, True], ids=["rows", "encoded"])
def test_a_child_row_naming_another_filing_fails_its_filing_alone(
    db_conn: psycopg.Connection, encoded: bool
) -> None:
    # The server's foreign-key check of child rows is skipped for the COPY where it cannot
    # fail (load._CAN_SKIP_REFERENCE_CHECKS); what makes it redundant is checked in Python,
    # before rows are encoded (encode_children, the data-set reader's) or when loaded.
    good = prepare(make_filing("0000000001-24-000060"), "good")
    bad = prepare(make_filing("0000000001-24-000061"), "bad")
    stray = bad.rows.children["footnotes"][0]
    bad.rows.children["footnotes"][0] = ("0000000001-24-000099", *stray[1:])
    if encoded:
        good, bad = encode_children(good), encode_children(bad)
        assert isinstance(good.rows.children["footnotes"], EncodedRows)
        assert bad.rows.children["footnotes"][0][0] == "0000000001-24-000099"  # left as is
    results = Loader(db_conn).load([good, bad])
    assert statuses(results) == ["loaded", "failed"]
    assert "0000000001-24-000099" in results[1].message
    for table in schema.CHILD_TABLES:
        accs = {r[0] for r in db_conn.execute(f"SELECT accession_number FROM {table.name}")}
        assert accs <= {"0000000001-24-000060"}, table.name


def test_triggers_of_the_child_tables_still_fire(db_conn: psycopg.Connection) -> None:
    # session_replication_role = replica would skip a child table's own trigger: with one
    # present the loader leaves the setting alone and the server checks every row.
    db_conn.execute("CREATE TABLE seen_footnotes (accession_number text)")
    db_conn.execute(
        "CREATE FUNCTION note_footnote() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN INSERT INTO seen_footnotes VALUES (NEW.accession_number); RETURN NEW; END$$"
    )
    db_conn.execute("CREATE TRIGGER note_footnote AFTER INSERT ON footnotes "
                    "FOR EACH ROW EXECUTE FUNCTION note_footnote()")
    loader = Loader(db_conn)
    assert loader.load([prepare(make_filing("0000000001-24-000070"), "a")])[0].status == "loaded"
    assert db_conn.execute("SELECT count(*) FROM seen_footnotes").fetchone()[0] == 2
    assert db_conn.execute("SHOW session_replication_role").fetchone()[0] == "origin"


def test_reference_checks_are_skipped_only_during_the_child_copy(
    db_conn: psycopg.Connection,
) -> None:
    # On the test server (a superuser, no triggers of the child tables) the COPY skips them;
    # the setting is back as it was for the rest of the batch and after it.
    loader = Loader(db_conn)
    with db_conn.transaction():
        assert loader._can_skip_reference_checks(db_conn.cursor())
    loader.load([prepare(make_filing("0000000001-24-000080"), "a")])
    assert db_conn.execute("SHOW session_replication_role").fetchone()[0] == "origin"
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db_conn.execute("INSERT INTO footnotes (accession_number, footnote_id) "
                        "VALUES ('0000000001-24-000098', 'F1')")


def test_a_deferred_loader_brings_issuers_persons_and_analyst_rows_up_to_date_at_finish(
    db_conn: psycopg.Connection,
) -> None:
    # A data-set quarter's loader: many batches in the caller's one transaction, the latest
    # names and the analyst rows written once, by finish(), with the same result.
    newer = make_filing("0000000004-24-000002", filed=date(2024, 6, 1),
                        issuer=(42, "NEW NAME INC", "NEW"), owners=[(7, "Doe Jane (new)")])
    older = make_filing("0000000004-24-000001", filed=date(2024, 1, 1),
                        issuer=(42, "OLD NAME INC", "OLD"),
                        owners=[(7, "Doe Jane"), (8, "Roe Richard")])
    bad = make_filing("0000000004-24-000003", filed=date(2024, 9, 1),
                      issuer=(42, "NEVER STORED", "NO"), remarks="\x00", raw=b"<clean>")
    loader = Loader(db_conn, deferred=True)
    with pytest.raises(RuntimeError, match="caller's transaction"):
        loader.load([newer])
    with db_conn.transaction():
        assert statuses(loader.load([newer])) == ["loaded"]
        assert statuses(loader.load([older, bad])) == ["loaded", "failed"]
        assert counts(db_conn)["issuers"] == 0 and counts(db_conn)["persons"] == 0
        loader.finish()
    assert db_conn.execute("SELECT * FROM issuers").fetchall() == [
        (42, "NEW NAME INC", "NEW", date(2024, 6, 1), "0000000004-24-000002")
    ]
    assert db_conn.execute(
        "SELECT cik, name, last_accession_number FROM persons ORDER BY cik"
    ).fetchall() == [
        (7, "Doe Jane (new)", "0000000004-24-000002"),
        (8, "Roe Richard", "0000000004-24-000001"),
    ]
    summaries = db_conn.execute(
        "SELECT accession_number FROM filing_summaries ORDER BY 1").fetchall()
    assert summaries == [("0000000004-24-000001",), ("0000000004-24-000002",)]

    # A replaced filing's batch upserts at once (repointing reads what the upsert leaves).
    moved = make_filing("0000000004-24-000002", filed=date(2024, 6, 1),
                        issuer=(43, "OTHER INC", "OTH"), owners=[(7, "Doe Jane (new)")],
                        remarks="moved")
    with db_conn.transaction():
        assert statuses(loader.load([moved])) == ["replaced"]
        loader.finish()
    assert db_conn.execute("SELECT cik, name, last_accession_number FROM issuers "
                           "ORDER BY cik").fetchall() == [
        (42, "OLD NAME INC", "0000000004-24-000001"),
        (43, "OTHER INC", "0000000004-24-000002"),
    ]
