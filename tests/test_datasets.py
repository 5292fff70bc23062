"""SEC's quarterly Insider Transactions Data Sets: read, loaded, then replaced by the filings.

Quarter zips are built from the test corpus in SEC's layout by tests/dataset_zip.py (which
walks each filing's XML on its own, never through the project's mapping) and served by the
EDGAR stand-in; the real 2024 Q3 sample rows (tests/fixtures/datasets/) load too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import psycopg
import pytest

from ingest.config import EdgarSettings
from ingest.dataset_catalog import DATASET_TABLES
from ingest.dataset_compare import compare
from ingest.dataset_load import (
    STAGE,
    _QuarterReader,
    dataset_only_filings,
    load_quarter,
    loaded_quarters,
    status_by_year,
)
from ingest.datasets import (
    ArchiveError,
    ColumnError,
    DatasetError,
    MissingTableError,
    QuarterFile,
    RowError,
    ValueFormatError,
    dataset_path,
    quarters_between,
)
from ingest.fetch import EdgarClient, RateLimiter
from ingest.load import Loader, encode_children
from ingest.parse import parse_file
from ingest.records import (
    ENTRY_TABLES,
    LINE_FOOTNOTE_COLUMNS,
    OWNER_COLUMNS,
    ParsedFiling,
    snake_case,
)
from ingest.rows import EncodedRows
from models import schema
from tests import dataset_zip as dz
from tests.edgar_standin import EdgarStandin
from tests.test_amendments import stored_analyst_rows
from tests.test_analyst import line_footnote_mismatches

REPO = Path(__file__).resolve().parent.parent

TABLE_TARGETS = {
    "SUBMISSION": "filings", "REPORTINGOWNER": "filing_owners",
    "NONDERIV_TRANS": "non_derivative_transactions", "NONDERIV_HOLDING": "non_derivative_holdings",
    "DERIV_TRANS": "derivative_transactions", "DERIV_HOLDING": "derivative_holdings",
    "FOOTNOTES": "footnotes", "OWNER_SIGNATURE": "owner_signatures",
}
# Our columns the data sets have no column for (the rest of the catalog they fill).
NOT_IN_DATASETS = {
    "filings": {"schema_version", "issuer_foreign_trading_symbol", "aff10b5_one"},
    "filing_owners": {"rpt_owner_country", "rpt_owner_non_us_state_territory",
                      "rpt_owner_non_us_address_flag", "rpt_owner_good_address"},
    "non_derivative_transactions": {"transaction_value", "transaction_total_value"},
    "derivative_transactions": {"transaction_value"},
}
FLAGS = ("is_director", "is_officer", "is_ten_percent_owner", "is_other")
CHILD_TABLES = ("filing_owners", *ENTRY_TABLES, "footnotes", "footnote_references",
                "owner_signatures")


@cache
def submissions() -> tuple[ParsedFiling, ...]:
    return tuple(dz.corpus_submissions())


@cache
def submission_quarters() -> tuple[dz.QuarterZip, ...]:
    return tuple(dz.corpus_quarters(submissions()))


@cache
def documents() -> tuple[ParsedFiling, ...]:
    """The corpus's bare XML documents, the first one with a footnote reference the data
    sets have no column for added (the corpus has none): one on <postTransactionAmounts>."""
    parsed = dz.corpus_documents()
    first = next(p for p in parsed if b"<postTransactionAmounts>" in p.raw)
    raw = first.raw.replace(b"<postTransactionAmounts>",
                            b'<postTransactionAmounts><footnoteId id="F1"/>', 1)
    changed = parse_file(raw, "changed.xml", accession=first.accession_number)
    return tuple(changed if p is first else p for p in parsed)


@cache
def document_quarters() -> tuple[dz.QuarterZip, ...]:
    return tuple(dz.corpus_quarters(documents()))


def load_all(conn: psycopg.Connection, quarters) -> None:
    for quarter in quarters:
        report = load_quarter(conn, quarter.data, quarter=quarter.quarter)
        assert report.failed == 0 and report.orphan_rows == {}, report


# ---------------------------------------------------------------------------
# Reading the zip independently of the project's reader
# ---------------------------------------------------------------------------


def tsv_tables(data: bytes) -> dict[str, list[dict[str, str]]]:
    """Every table of a quarter zip as rows of column -> text (a line that does not start
    with an accession continues the previous row's last value)."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for table in TABLE_TARGETS:
            lines = archive.read(f"{table}.tsv").decode().split("\n")
            header, records = lines[0].split("\t"), []
            for line in lines[1:]:
                if line[10:11] == "-" and line[20:21] == "\t":
                    records.append(line)
                elif records:
                    records[-1] += "\n" + line
            if records and records[-1].endswith("\n"):
                records[-1] = records[-1].removesuffix("\n")
            out[table] = [dict(zip(header, r.split("\t"), strict=True)) for r in records]
    return out


def _expected(column: str, text: str) -> object:
    if column in dz._DATE_COLUMNS or column == "FILING_DATE":
        return datetime.strptime(text, "%d-%b-%Y").date()
    if column in dz._NUMBER_COLUMNS:
        return Decimal(text)
    if column in dz._CIK_COLUMNS:
        return int(text)
    return text.strip()


def _flag(text: str) -> bool | str:
    return {"0": False, "false": False, "1": True, "true": True}.get(text.lower(), text)


BOOL_COLUMNS = {"EQUITY_SWAP_INVOLVED", "NO_SECURITIES_OWNED", "NOT_SUBJECT_SEC16",
                "FORM3_HOLDINGS_REPORTED", "FORM4_TRANS_REPORTED", dz.AFF10B5ONE}


def expected_rows(data: bytes) -> tuple[dict, Counter, list[tuple[str, str]]]:
    """What the zip says, in our terms, by the stand-in's own column -> element table and the
    column rule (element name in snake_case): {(table, accession, row key): {column: value}},
    the footnote references, and the (accession, raw value) of FILE_NUMBER."""
    values: dict[tuple, dict[str, object]] = defaultdict(dict)
    refs: Counter = Counter()
    file_numbers = []
    tables = tsv_tables(data)
    for table, rows in tables.items():
        target = TABLE_TARGETS[table]
        elements = {**dz.DATASET_ELEMENTS.get(table, {}), **dz.SUBMISSION_ELEMENTS,
                    **dz.OWNER_ELEMENTS, "OWNERSIGNATURENAME": "signatureName",
                    "OWNERSIGNATUREDATE": "signatureDate", "FILING_DATE": "filedDate"}
        ranked = _ranked(table, rows)
        for row, key in ranked:
            acc = row["ACCESSION_NUMBER"]
            out = values[(target, acc, key)]
            for column, text in row.items():
                if column == "ACCESSION_NUMBER" or column.endswith("_SK") or not text:
                    continue
                if column == "FILE_NUMBER":
                    file_numbers.append((acc, text))
                elif column == "RPTOWNER_RELATIONSHIP":
                    listed = {w.lower() for w in text.split(",")}
                    for flag, (_, word) in zip(FLAGS, dz.RELATIONSHIPS, strict=True):
                        out[flag] = word.lower() in listed
                elif column.endswith("_FN"):
                    base = column.removesuffix("_FN")
                    named = "transaction_coding" if column in dz._CODING_FOOTNOTES else \
                        snake_case(elements[base])
                    for fid in text.split(", "):
                        refs[(acc, fid, target, key, named)] += 1
                elif table == "FOOTNOTES":
                    out["footnote_id" if column == "FOOTNOTE_ID" else "text"] = text.strip()
                else:
                    value = _flag(text) if column in BOOL_COLUMNS else _expected(column, text)
                    out[snake_case(elements[column])] = value
    return values, refs, file_numbers


def _ranked(table: str, rows: list[dict[str, str]]) -> list[tuple[dict[str, str], object]]:
    """Each row with its key: the rank of its surrogate key within the filing (entries),
    its place in the file (owners, signatures), its id (footnotes), None (SUBMISSION)."""
    if table == "SUBMISSION":
        return [(r, None) for r in rows]
    if table == "FOOTNOTES":
        return [(r, r["FOOTNOTE_ID"]) for r in rows]
    by_acc: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_acc[row["ACCESSION_NUMBER"]].append(row)
    out = []
    for group in by_acc.values():
        if f"{table}_SK" in group[0]:
            group = sorted(group, key=lambda r: int(r[f"{table}_SK"]))
        out.extend((row, seq) for seq, row in enumerate(group, 1))
    return out


# Columns of ours that say where a row came from, not what the data set says.
BOOKKEEPING = {"accession_number", "sequence", "form_type", "filer_ciks", "parsed", "source_kind",
               "source_name", "raw_sha256", "parser_version", "ingested_at", "updated_at",
               *schema.DERIVED_COLUMNS,
               # computed from the footnote references, compared with them below
               *LINE_FOOTNOTE_COLUMNS}


def stored_rows(conn: psycopg.Connection, accessions: list[str]) -> tuple[dict, Counter]:
    """The database in the same terms as expected_rows (NULLs and bookkeeping left out)."""
    values: dict[tuple, dict[str, object]] = {}
    for table in ("filings", "filing_owners", *ENTRY_TABLES, "footnotes", "owner_signatures"):
        cur = conn.execute(f"SELECT * FROM {table} WHERE accession_number = ANY(%s)", (accessions,))
        names = [d.name for d in cur.description]
        for row in cur.fetchall():
            record = dict(zip(names, row, strict=True))
            key = None if table == "filings" else \
                record["footnote_id" if table == "footnotes" else "sequence"]
            values[(table, record["accession_number"], key)] = {
                c: v for c, v in record.items() if v is not None and c not in BOOKKEEPING
            }
    refs = Counter(
        tuple(r) for r in conn.execute(
            "SELECT accession_number, footnote_id, table_name, sequence, column_name "
            "FROM footnote_references WHERE accession_number = ANY(%s)", (accessions,)
        )
    )
    return values, refs


# ---------------------------------------------------------------------------
# The layout
# ---------------------------------------------------------------------------


def test_standin_headers_are_secs() -> None:
    """The stand-in's headers are the real 2024 Q3 files' (metadata order, SEC's names)."""
    headers = dz.file_headers()
    for table in ("SUBMISSION", "DERIV_TRANS", "DERIV_HOLDING", "NONDERIV_HOLDING",
                  "OWNER_SIGNATURE"):
        sample = dz.DATASETS / dz.SAMPLE.format(table.lower())
        assert headers[table] == sample.read_text().split("\n", 1)[0].split("\t"), table


def test_mapping_knows_every_column_of_metadata_and_files() -> None:
    metadata, files = dz.metadata_headers(), dz.file_headers(aff10b5one=True)
    for table in DATASET_TABLES:
        known = {name for source in table.columns for name in source.names}
        assert set(metadata[table.name]) <= known, table.name
        assert set(files[table.name]) <= known, table.name
        required = {s.name for s in table.columns if not s.optional}
        assert required <= set(files[table.name]) | {"EQUITY_SWAP_TRANS_CD_FN"}, table.name


def test_standin_serves_quarter_zips_at_secs_path(tmp_path: Path) -> None:
    quarters = submission_quarters()
    paths = dz.write_site(tmp_path, quarters)
    assert paths[0] == dataset_path(quarters[0].quarter)
    assert paths[0].startswith("/files/structureddata/data/insider-transactions-data-sets/")
    with EdgarStandin(tmp_path) as sec:
        settings = EdgarSettings(user_agent="Edgar Insider Tests tests@example.org",
                                 base_url=sec.base_url, data_url=sec.data_url, max_rps=10)
        with EdgarClient(settings, RateLimiter(10)) as client:
            assert client.get(dataset_path(quarters[0].quarter)) == quarters[0].data


def test_quarters_between() -> None:
    assert quarters_between("2005Q4", "2006q2") == ["2005q4", "2006q1", "2006q2"]
    assert quarters_between("2006q1", "2006q1") == ["2006q1"]


# ---------------------------------------------------------------------------
# Every value lands; then the filings replace the data-set rows
# ---------------------------------------------------------------------------


def _check_every_value_lands(conn: psycopg.Connection, quarters) -> None:
    for quarter in quarters:
        expected, expected_refs, file_numbers = expected_rows(quarter.data)
        accessions = [f.accession for f in quarter.filings]
        stored, refs = stored_rows(conn, accessions)
        assert stored == dict(expected), quarter.quarter
        assert refs == expected_refs, quarter.quarter
        assert line_footnote_mismatches(conn) == [], quarter.quarter
        kept = conn.execute(
            "SELECT accession_number, raw_value FROM unmapped_values WHERE path LIKE '%%/FILE_NUMBER'"
            " AND accession_number = ANY(%s)", (accessions,),
        ).fetchall()
        assert sorted(kept) == sorted(file_numbers)


SUBMISSION_COLUMNS = {snake_case(e) for e in dz.SUBMISSION_ELEMENTS.values()} | {"filed_date"}


def test_every_value_of_every_table_lands(db_conn: psycopg.Connection) -> None:
    quarters = submission_quarters()
    load_all(db_conn, quarters)
    _check_every_value_lands(db_conn, quarters)
    kinds = db_conn.execute("SELECT DISTINCT source_kind, source_name LIKE '%%_form345.zip' "
                            "FROM filings").fetchall()
    assert kinds == [("dataset", True)]
    assert db_conn.execute("SELECT count(*) FROM raw_submissions").fetchone()[0] == 0
    recorded = db_conn.execute("SELECT quarter, filings FROM dataset_quarters ORDER BY 1").fetchall()
    assert recorded == [(q.quarter, len(q.filings)) for q in quarters]


def snapshot(conn: psycopg.Connection) -> dict[str, dict[tuple, dict[str, object]]]:
    """Each table's rows keyed as the comparison matches them."""
    keyed = {"filings": (), "filing_owners": ("rpt_owner_cik",), "footnotes": ("footnote_id",),
             "owner_signatures": ("signature_name",),
             **{t: ("sequence",) for t in ENTRY_TABLES}}
    out: dict[str, dict[tuple, dict[str, object]]] = {}
    for table, key in keyed.items():
        cur = conn.execute(f"SELECT * FROM {table}")
        names = [d.name for d in cur.description]
        out[table] = {}
        for row in cur.fetchall():
            record = dict(zip(names, row, strict=True))
            out[table][(record["accession_number"], *(record[k] for k in key))] = record
    return out


def _same_up_to_rounding(column: str, dataset_value: object, filing_value: object) -> bool:
    if column in FLAGS:
        return (dataset_value is True) == (filing_value is True)
    if isinstance(filing_value, Decimal) and isinstance(dataset_value, Decimal):
        return dataset_value == dz.round_number(filing_value)
    return dataset_value == filing_value


COMPARED = {
    "filings": SUBMISSION_COLUMNS - NOT_IN_DATASETS["filings"],
    "filing_owners": set(OWNER_COLUMNS) - NOT_IN_DATASETS["filing_owners"],
    **{t: set(c) - NOT_IN_DATASETS.get(t, set()) for t, c in ENTRY_TABLES.items()},
    "footnotes": {"text"},
    "owner_signatures": {"signature_date"},
}


def test_filings_replace_their_data_set_rows_and_agree(db_conn: psycopg.Connection) -> None:
    load_all(db_conn, submission_quarters())
    before = snapshot(db_conn)
    refs_before = Counter(db_conn.execute(
        "SELECT accession_number, footnote_id, table_name, sequence, column_name "
        "FROM footnote_references").fetchall())

    results = Loader(db_conn).load(list(submissions()))
    assert Counter(r.status for r in results) == {"replaced": len(submissions())}
    assert db_conn.execute("SELECT DISTINCT source_kind FROM filings").fetchall() == [("submission",)]
    after = snapshot(db_conn)
    for table, rows in before.items():
        assert rows.keys() == after[table].keys(), f"{table}: row counts or keys differ"
        for key, old in rows.items():
            new = after[table][key]
            for column in COMPARED[table]:
                assert _same_up_to_rounding(column, old[column], new[column]), (table, key, column)
    refs_after = Counter(db_conn.execute(
        "SELECT accession_number, footnote_id, table_name, sequence, column_name "
        "FROM footnote_references").fetchall())
    assert refs_after == refs_before
    # Some numbers really were rounded, and compared equal up to it.
    rounded = [(k, c) for t, rows in before.items() for k, old in rows.items()
               for c in COMPARED[t] if isinstance(old[c], Decimal) and old[c] != after[t][k][c]]
    assert rounded, "the corpus has numbers with more than 2 decimals"
    assert db_conn.execute("SELECT count(*) FROM dataset_differences").fetchone()[0] == 0
    assert db_conn.execute("SELECT count(*) FROM raw_submissions").fetchone()[0] == len(submissions())


def test_xml_documents_replace_data_set_rows_reporting_what_the_data_set_lacks(
    db_conn: psycopg.Connection,
) -> None:
    """165 more documents: every value agrees up to rounding; the only differences recorded
    are the footnote references the data sets have no column for, and the filed date (a bare
    XML has no header to give one)."""
    quarters = document_quarters()
    load_all(db_conn, quarters)
    _check_every_value_lands(db_conn, quarters)
    before = snapshot(db_conn)
    results = Loader(db_conn).load(list(documents()))
    assert Counter(r.status for r in results) == {"replaced": len(documents())}
    assert db_conn.execute("SELECT DISTINCT source_kind FROM filings").fetchall() == [("xml",)]
    after = snapshot(db_conn)
    for table, rows in before.items():
        assert rows.keys() == after[table].keys(), table
        for key, old in rows.items():
            for column in COMPARED[table] - {"filed_date"}:
                assert _same_up_to_rounding(column, old[column], after[table][key][column]), \
                    (table, key, column)
    filed = db_conn.execute(
        "SELECT accession_number, dataset_value FROM dataset_differences "
        "WHERE table_name = 'filings' AND column_name = 'filed_date' AND filing_value IS NULL"
    ).fetchall()
    assert sorted(filed) == sorted((k[0], v["filed_date"].isoformat())
                                   for k, v in before["filings"].items())
    # Footnote references: the filing's = the data set's + those without a data-set column.
    carried = {(t, snake_case(e)) for table, t in TABLE_TARGETS.items()
               for e in dz.DATASET_ELEMENTS.get(table, {}).values()}
    carried |= {(t, "transaction_coding") for t in ENTRY_TABLES}
    refs = Counter(db_conn.execute(
        "SELECT accession_number, table_name, sequence, column_name, footnote_id "
        "FROM footnote_references").fetchall())
    lacking = Counter({r: n for r, n in refs.items() if (r[1], r[3]) not in carried})
    assert [r[3] for r in lacking] == ["post_transaction_amounts"]
    recorded = Counter(
        (acc, key.split("[")[0], int(key.split("[")[1][:-1]) if "[" in key else None, column, fid)
        for acc, key, column, fid in db_conn.execute(
            "SELECT accession_number, row_key, column_name, filing_value FROM dataset_differences "
            "WHERE table_name = 'footnote_references' AND dataset_value IS NULL")
    )
    assert recorded == lacking
    others = db_conn.execute(
        "SELECT count(*) FROM dataset_differences WHERE (table_name <> 'footnote_references' "
        "OR dataset_value IS NOT NULL) AND column_name IS DISTINCT FROM 'filed_date'").fetchone()[0]
    assert others == 0


# ---------------------------------------------------------------------------
# Precedence: a data set never replaces a filing
# ---------------------------------------------------------------------------


def test_a_data_set_never_replaces_a_filing(db_conn: psycopg.Connection) -> None:
    Loader(db_conn).load(list(submissions()))
    before = snapshot(db_conn)
    for quarter in submission_quarters():
        report = load_quarter(db_conn, quarter.data, quarter=quarter.quarter)
        assert report.kept_filing == len(quarter.filings) and report.loaded == 0
    assert snapshot(db_conn) == before
    assert db_conn.execute("SELECT DISTINCT source_kind FROM filings").fetchall() == [("submission",)]


def test_in_one_batch_the_filing_wins_over_its_data_set_copy(db_conn: psycopg.Connection) -> None:
    quarter = submission_quarters()[-1]
    with QuarterFile(quarter.data, quarter.quarter) as dataset:
        items = [item for batch in dataset.batches() for item in batch]
    by_acc = {p.accession_number: p for p in submissions()}
    filing = by_acc[items[0].accession_number]
    results = Loader(db_conn).load([filing, items[0]])
    assert [r.status for r in results] == ["loaded", "unchanged"]
    results = Loader(db_conn).load([items[1], by_acc[items[1].accession_number]])
    assert [r.status for r in results] == ["unchanged", "loaded"]
    kinds = db_conn.execute("SELECT DISTINCT source_kind FROM filings").fetchall()
    assert kinds == [("submission",)]


# ---------------------------------------------------------------------------
# One quarter, one resumable unit
# ---------------------------------------------------------------------------


def test_same_zip_again_is_skipped_and_a_republished_one_changes_only_what_changed(
    db_conn: psycopg.Connection,
) -> None:
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))
    first = load_quarter(db_conn, quarter.data, quarter=quarter.quarter)
    assert first.loaded == len(quarter.filings)
    again = load_quarter(db_conn, io.BytesIO(quarter.data), quarter=quarter.quarter)
    assert again.status == "unchanged" and again.loaded == 0
    # SEC republishes the quarter with one remark changed: that filing is replaced.
    changed = dz.DatasetFiling(quarter.filings[0].accession, quarter.filings[0].filed, None,
                               {t: [dict(r) for r in rows]
                                for t, rows in quarter.filings[0].tables.items()})
    changed.tables["SUBMISSION"][0]["REMARKS"] = "Corrected remark."
    data = dz.build_zip([changed, *quarter.filings[1:]])
    report = load_quarter(db_conn, data, quarter=quarter.quarter)
    assert (report.replaced, report.unchanged) == (1, len(quarter.filings) - 1)
    remark = db_conn.execute("SELECT remarks FROM filings WHERE accession_number = %s",
                             (changed.accession,)).fetchone()[0]
    assert remark == "Corrected remark."
    assert loaded_quarters(db_conn)[quarter.quarter] == report.zip_sha256


def test_a_quarter_failing_midway_stores_nothing_and_loads_whole_when_run_again(
    db_conn: psycopg.Connection,
) -> None:
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))
    bad = dz.DatasetFiling(quarter.filings[-1].accession, quarter.filings[-1].filed, None,
                           {t: [dict(r) for r in rows] for t, rows in quarter.filings[-1].tables.items()})
    bad.tables["SUBMISSION"][0]["PERIOD_OF_REPORT"] = "2024-07-29"
    data = dz.build_zip([*quarter.filings[:-1], bad])
    # One filing per batch and per pass: the bad date is met after the others were written.
    with pytest.raises(ValueFormatError, match="PERIOD_OF_REPORT"):
        load_quarter(db_conn, data, quarter=quarter.quarter, batch_filings=1, filings_per_pass=1)
    assert db_conn.execute("SELECT count(*) FROM filings").fetchone()[0] == 0
    assert loaded_quarters(db_conn) == {}
    report = load_quarter(db_conn, quarter.data, quarter=quarter.quarter, batch_filings=1,
                          filings_per_pass=1)
    assert report.loaded == len(quarter.filings)
    assert db_conn.execute("SELECT count(*) FROM filings").fetchone()[0] == len(quarter.filings)


def test_a_quarter_brings_latest_names_and_analyst_rows_up_to_date_once(
    db_conn: psycopg.Connection,
) -> None:
    # The quarter's deferred loader upserts issuers/persons and refreshes the analyst rows once,
    # at the quarter's end: the same rows as recomputing them from the stored filings.
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))
    load_quarter(db_conn, quarter.data, quarter=quarter.quarter, batch_filings=2)
    after_load = stored_analyst_rows(db_conn)
    assert len(after_load["filing_summaries"]) == len(quarter.filings)
    db_conn.execute("SELECT rebuild_analyst_rows()")
    assert stored_analyst_rows(db_conn) == after_load
    # issuers/persons, upserted once at the quarter's end: each CIK points at its newest filing.
    newest = ("ORDER BY 1, coalesce(f.filed_date, '-infinity') DESC, "
              "coalesce(f.period_of_report, f.header_period, '-infinity') DESC, 2 DESC")
    assert db_conn.execute("SELECT cik, last_accession_number FROM issuers ORDER BY 1").fetchall() \
        == db_conn.execute("SELECT DISTINCT ON (issuer_cik) issuer_cik, accession_number "
                           f"FROM filings f WHERE issuer_cik IS NOT NULL {newest}").fetchall()
    assert db_conn.execute("SELECT cik, last_accession_number FROM persons ORDER BY 1").fetchall() \
        == db_conn.execute("SELECT DISTINCT ON (o.rpt_owner_cik) o.rpt_owner_cik, accession_number "
                           "FROM filing_owners o JOIN filings f USING (accession_number) "
                           f"WHERE o.rpt_owner_cik IS NOT NULL {newest}").fetchall()


def test_reading_in_several_passes_gives_the_same_rows() -> None:
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))

    def items(**options: int) -> list:
        with QuarterFile(quarter.data, quarter.quarter, **options) as dataset:
            return [(i.rows, i.raw_sha256) for batch in dataset.batches(3) for i in batch]

    assert items(filings_per_pass=2) == items()


def test_the_reader_process_hands_over_the_rows_it_read_and_stops_with_the_loader() -> None:
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))
    with QuarterFile(quarter.data, quarter.quarter, filings_per_pass=2) as dataset:
        expected = [encode_children(item) for batch in dataset.batches(1) for item in batch]
    with _QuarterReader(quarter.data, quarter.quarter, 2, 1) as reader:
        items = [item for batch in reader.batches() for item in batch]
    assert reader.filings == len(quarter.filings) == len(items)
    assert [(i.rows, i.source_name, i.raw_sha256) for i in items] \
        == [(i.rows, i.source_name, i.raw_sha256) for i in expected]
    assert isinstance(items[0].rows.children["filing_owners"], EncodedRows)
    # The loader stops after one batch: the reader is stopped too, nothing left running.
    with _QuarterReader(quarter.data, quarter.quarter, 2, 1) as reader:
        first = next(reader.batches())
        process = reader._process
    assert len(first) == 1 and not process.is_alive()


# ---------------------------------------------------------------------------
# Faults: one clear recorded error for the quarter, other quarters load
# ---------------------------------------------------------------------------


def _replace_member(data: bytes, table: str, body: bytes | None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != f"{table}.tsv":
                target.writestr(info.filename, source.read(info))
            elif body is not None:
                target.writestr(info.filename, body)
    return buffer.getvalue()


def _member(data: bytes, table: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(f"{table}.tsv").decode()


def _faulty(data: bytes, fault: str) -> bytes:
    if fault == "truncated zip":
        return data[: len(data) // 2]
    if fault == "missing table":
        return _replace_member(data, "FOOTNOTES", None)
    if fault == "unknown column":
        text = _member(data, "NONDERIV_TRANS").replace("TRANS_SHARES\t", "TRANS_SHARES_NEW\t", 1)
        return _replace_member(data, "NONDERIV_TRANS", text.encode())
    if fault == "bad date":
        text = _member(data, "OWNER_SIGNATURE")
        header, first, rest = text.split("\n", 2)
        first = first.rsplit("\t", 1)[0] + "\t2024-13-01"
        return _replace_member(data, "OWNER_SIGNATURE", "\n".join((header, first, rest)).encode())
    if fault == "short row":
        text = _member(data, "REPORTINGOWNER")
        header, first, rest = text.split("\n", 2)
        return _replace_member(data, "REPORTINGOWNER",
                               "\n".join((header, first.rsplit("\t", 2)[0], rest)).encode())
    raise AssertionError(fault)


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        ("truncated zip", ArchiveError, "not a readable zip"),
        ("missing table", MissingTableError, "FOOTNOTES.tsv"),
        ("unknown column", ColumnError, "TRANS_SHARES_NEW"),
        ("bad date", ValueFormatError, "OWNERSIGNATUREDATE"),
        ("short row", RowError, "REPORTINGOWNER.tsv"),
    ],
)
def test_a_bad_quarter_is_one_recorded_error_and_the_others_load(
    db_conn: psycopg.Connection, fault: str, error: type[DatasetError], words: str
) -> None:
    quarters = sorted(submission_quarters(), key=lambda q: len(q.filings))[-2:]
    broken, good = quarters
    with pytest.raises(error) as caught:
        load_quarter(db_conn, _faulty(broken.data, fault), quarter=broken.quarter)
    message = str(caught.value)
    assert message.startswith(f"{broken.quarter}: ") and words in message
    assert db_conn.execute("SELECT count(*) FROM filings").fetchone()[0] == 0
    recorded = db_conn.execute("SELECT stage, source_name, message FROM ingest_errors").fetchall()
    assert recorded == [(STAGE, f"{broken.quarter}_form345.zip", message)]
    report = load_quarter(db_conn, good.data, quarter=good.quarter)
    assert report.loaded == len(good.filings)
    assert list(loaded_quarters(db_conn)) == [good.quarter]


def test_values_that_do_not_fit_are_kept_in_unmapped_values(db_conn: psycopg.Connection) -> None:
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))
    filing = quarter.filings[0]
    odd = dz.DatasetFiling(filing.accession, filing.filed, None,
                           {t: [dict(r) for r in rows] for t, rows in filing.tables.items()})
    odd.tables["SUBMISSION"][0]["NOT_SUBJECT_SEC16"] = "Y"
    odd.tables["REPORTINGOWNER"][0]["RPTOWNER_RELATIONSHIP"] = "Director,Trustee"
    odd.tables["SUBMISSION"][0]["ISSUERCIK"] = "12A"
    headers = dz.file_headers()
    headers["SUBMISSION"] = [*headers["SUBMISSION"][:-1], "CONTACT_NAME", "REMARKS"]
    odd.tables["SUBMISSION"][0]["CONTACT_NAME"] = "Jane Filer"
    load_quarter(db_conn, dz.build_zip([odd], headers=headers), quarter=quarter.quarter)
    kept = db_conn.execute("SELECT path, raw_value, reason FROM unmapped_values WHERE "
                           "accession_number = %s AND path NOT LIKE '%%FILE_NUMBER' ORDER BY sequence",
                           (filing.accession,)).fetchall()
    assert [(p, v) for p, v, _ in kept] == [
        ("SUBMISSION/NOT_SUBJECT_SEC16", "Y"), ("SUBMISSION/ISSUERCIK", "12A"),
        ("SUBMISSION/CONTACT_NAME", "Jane Filer"), ("REPORTINGOWNER[1]/RPTOWNER_RELATIONSHIP", "Trustee"),
    ]
    row = db_conn.execute("SELECT not_subject_to_section16, issuer_cik FROM filings").fetchone()
    assert row == (None, None)
    flags = db_conn.execute(f"SELECT {', '.join(FLAGS)} FROM filing_owners WHERE sequence = 1").fetchone()
    assert flags == (True, False, False, False)


def test_a_line_break_in_a_value_survives() -> None:
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))
    filing = quarter.filings[0]
    odd = dz.DatasetFiling(filing.accession, filing.filed, None,
                           {t: [dict(r) for r in rows] for t, rows in filing.tables.items()})
    odd.tables["SUBMISSION"][0]["REMARKS"] = "First line.\n\nSecond line."
    odd.tables["OWNER_SIGNATURE"][0]["OWNERSIGNATURENAME"] = "Jane\nDoe"
    data = dz.build_zip([odd])
    # Blank lines at the end of a file are not part of its last value (here a date).
    text = _member(data, "OWNER_SIGNATURE") + "\n\n"
    with QuarterFile(_replace_member(data, "OWNER_SIGNATURE", text.encode()), quarter.quarter) \
            as dataset:
        (item,), = list(dataset.batches())
    assert "First line.\n\nSecond line." in item.rows.filing  # REMARKS: the last column
    assert item.rows.children["owner_signatures"][0][2] == "Jane\nDoe"  # a middle one


def test_rows_of_an_accession_submission_does_not_list_are_counted_and_recorded(
    db_conn: psycopg.Connection,
) -> None:
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))
    lost = dz.DatasetFiling("0000000009-24-000009", quarter.filings[0].filed, None,
                            {t: [dict(r) for r in rows]
                             for t, rows in quarter.filings[0].tables.items() if t != "SUBMISSION"})
    report = load_quarter(db_conn, dz.build_zip([*quarter.filings, lost]), quarter=quarter.quarter)
    assert report.loaded == len(quarter.filings)
    expected = {t: len(rows) for t, rows in lost.tables.items() if rows}
    assert report.orphan_rows == expected
    (message,) = db_conn.execute("SELECT message FROM ingest_errors WHERE stage = %s",
                                 (STAGE,)).fetchone()
    assert message.startswith(f"{quarter.quarter}: rows whose accession SUBMISSION does not list")


def test_recent_layout_with_aff10b5one(db_conn: psycopg.Connection) -> None:
    """Recent quarters append AFF10B5ONE to SUBMISSION: it lands, and is then compared."""
    quarters = [q for q in submission_quarters() if q.quarter >= "2023q2"]
    for quarter in quarters:
        data = dz.build_zip(quarter.filings, aff10b5one=True)
        load_quarter(db_conn, data, quarter=quarter.quarter)
        expected, _, _ = expected_rows(data)
        stored, _ = stored_rows(db_conn, [f.accession for f in quarter.filings])
        assert stored == dict(expected)
    flags = Counter(r[0] for r in db_conn.execute("SELECT aff10b5_one FROM filings"))
    assert flags[False] + flags[True] > 0, "the corpus has filings that state aff10b5One"
    wanted = {f.accession for q in quarters for f in q.filings}
    Loader(db_conn).load([p for p in submissions() if p.accession_number in wanted])
    assert db_conn.execute("SELECT count(*) FROM dataset_differences").fetchone()[0] == 0
    columns = db_conn.execute("SELECT DISTINCT 'SUBMISSION.AFF10B5ONE' = ANY(columns) "
                              "FROM dataset_quarters").fetchall()
    assert columns == [(True,)]


# ---------------------------------------------------------------------------
# SEC's real 2024 Q3 rows
# ---------------------------------------------------------------------------


def sample_zip() -> bytes:
    """The five sample tables as SEC wrote them; the three without a sample are header-only."""
    headers = dz.file_headers()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in dz.TABLES:
            sample = dz.DATASETS / dz.SAMPLE.format(table.lower())
            body = sample.read_bytes() if sample.exists() else ("\t".join(headers[table]) + "\n").encode()
            archive.writestr(f"{table}.tsv", body)
    return buffer.getvalue()


def test_real_sample_rows_load(db_conn: psycopg.Connection) -> None:
    report = load_quarter(db_conn, sample_zip(), quarter="2024q3")
    assert (report.filings, report.loaded, report.failed) == (182, 182, 0)
    assert report.orphan_rows == {}
    counts = {t: db_conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("filings", "derivative_transactions", "derivative_holdings",
                        "non_derivative_holdings", "owner_signatures")}
    assert counts == {"filings": 182, "derivative_transactions": 106, "derivative_holdings": 29,
                      "non_derivative_holdings": 92, "owner_signatures": 194}
    # 0001062993-24-016587 (Microsoft, a director's RSU grant), as in the sample rows.
    row = db_conn.execute(
        "SELECT f.filed_date, f.period_of_report, f.issuer_cik, f.issuer_trading_symbol, "
        "d.transaction_shares, d.shares_owned_following_transaction, d.equity_swap_involved, "
        "d.transaction_date FROM filings f JOIN derivative_transactions d USING (accession_number) "
        "WHERE accession_number = '0001062993-24-016587'").fetchone()
    assert row == (date(2024, 9, 13), date(2024, 9, 12), 789019, "MSFT", Decimal("26.8"),
                   Decimal("15285.56"), False, date(2024, 9, 12))
    refs = db_conn.execute(
        "SELECT footnote_id, column_name FROM footnote_references "
        "WHERE accession_number = '0001062993-24-016587' ORDER BY 2").fetchall()
    assert refs == [("F1", "conversion_or_exercise_price"), ("F3", "exercise_date"),
                    ("F3", "expiration_date"), ("F2", "transaction_shares")]
    # Booleans as filed: 0/1/true/false.
    flags = Counter(db_conn.execute("SELECT equity_swap_involved FROM derivative_transactions"))
    assert flags == {(False,): 106}
    sec16 = Counter(r[0] for r in db_conn.execute("SELECT not_subject_to_section16 FROM filings"))
    assert sec16 == {None: 93, False: 58 + 8, True: 16 + 7}
    # The chained entries of 0001415889-24-020474: surrogate-key order is the filing's order.
    chain = db_conn.execute(
        "SELECT sequence, transaction_date, shares_owned_following_transaction FROM "
        "derivative_transactions WHERE accession_number = '0001415889-24-020474' ORDER BY 1"
    ).fetchall()
    assert [(d.day, s) for _, d, s in chain] == [
        (29, Decimal("444953.0")), (30, Decimal("222476.0")), (31, Decimal("0.0"))]


# ---------------------------------------------------------------------------
# The comparison rule
# ---------------------------------------------------------------------------


def test_compare_takes_the_data_sets_rounding_and_reports_the_rest() -> None:
    acc = "0000000001-24-000001"
    entry = ["transaction_shares", "transaction_price_per_share"]
    carried = {"non_derivative_transactions": frozenset(entry)}
    names = ["accession_number", "sequence", *ENTRY_TABLES["non_derivative_transactions"],
             *LINE_FOOTNOTE_COLUMNS]
    width = len(names)

    def row(seq: int, shares: str, price: str | None) -> tuple:
        values = [None] * width
        values[0], values[1] = acc, seq
        values[names.index("transaction_shares")] = Decimal(shares)
        values[names.index("transaction_price_per_share")] = Decimal(price) if price else None
        return tuple(values)

    dataset = {"non_derivative_transactions": [row(1, "224.05", "10.0"), row(2, "5.0", None)]}
    filing = {"non_derivative_transactions": [row(1, "224.048", "10.004"), row(2, "5", "1.5"),
                                              row(3, "7", None)]}
    found = compare(acc, dataset, filing, carried)
    assert [(d.row_key, d.column_name, d.dataset_value, d.filing_value) for d in found] == [
        ("2", "transaction_price_per_share", None, "1.5"),
        ("3", None, None, "transaction_shares=7"),
    ]


# ---------------------------------------------------------------------------
# What the run loop and `status` use
# ---------------------------------------------------------------------------


def test_status_by_year_and_the_filings_still_only_in_data_set_form(
    db_conn: psycopg.Connection,
) -> None:
    quarters = submission_quarters()
    # One data-set value that the filing does not round to: the filing replacing it says so.
    quarter = next(q for q in quarters if any(f.tables["NONDERIV_TRANS"] for f in q.filings))
    filing = next(f for f in quarter.filings if f.tables["NONDERIV_TRANS"])
    off = dz.DatasetFiling(filing.accession, filing.filed, None,
                           {t: [dict(r) for r in rows] for t, rows in filing.tables.items()})
    off.tables["NONDERIV_TRANS"][0]["TRANS_SHARES"] = "1.5"
    others = [f for f in quarter.filings if f is not filing]
    for q in quarters:
        data = dz.build_zip([off, *others]) if q is quarter else q.data
        load_quarter(db_conn, data, quarter=q.quarter)
    by_year = Counter(f.filed.year for q in quarters for f in q.filings)
    assert [(s.year, s.exact, s.dataset_only, s.exact_differed) for s in status_by_year(db_conn)] \
        == [(year, 0, n, 0) for year, n in sorted(by_year.items())]
    pending = dataset_only_filings(db_conn, date(2023, 1, 1), date(2023, 12, 31))
    assert len(pending) == sum(n for year, n in by_year.items() if year == 2023)
    assert [p.filed_date for p in pending] == sorted((p.filed_date for p in pending), reverse=True)
    first = pending[0]
    assert first.path == f"/Archives/edgar/data/{first.issuer_cik}/{first.accession_number}.txt"

    # The filings of 2023 arrive: exact now, one of them differed from its data-set rows.
    wanted = {p.accession_number for p in pending} | {filing.accession}
    Loader(db_conn).load([p for p in submissions() if p.accession_number in wanted])
    status = {s.year: s for s in status_by_year(db_conn)}
    assert status[2023].dataset_only == 0 and status[2023].exact == by_year[2023]
    assert sum(s.exact_differed for s in status.values()) == 1
    assert dataset_only_filings(db_conn, date(2023, 1, 1), date(2023, 12, 31)) == []
    difference = db_conn.execute(
        "SELECT accession_number, table_name, row_key, column_name, dataset_value FROM "
        "dataset_differences").fetchall()
    assert difference == [(filing.accession, "non_derivative_transactions", "1",
                           "transaction_shares", "1.5")]


def test_an_unreadable_filing_replaces_its_data_set_rows_which_are_kept_as_differences(
    db_conn: psycopg.Connection,
) -> None:
    quarter = max(submission_quarters(), key=lambda q: len(q.filings))
    load_quarter(db_conn, quarter.data, quarter=quarter.quarter)
    good = next(p for p in submissions() if p.accession_number == quarter.filings[0].accession)
    broken = ParsedFiling(good.accession_number, "submission", good.header, None,
                          "malformed XML: test", good.raw)
    (result,) = Loader(db_conn).load([broken])
    assert result.status == "replaced"
    # Every data-set row but SUBMISSION's (the filings row stays, from the header).
    children = sum(len(rows) for t, rows in quarter.filings[0].tables.items() if t != "SUBMISSION")
    whole_rows = db_conn.execute(
        "SELECT count(*) FROM dataset_differences WHERE column_name IS NULL "
        "AND filing_value IS NULL").fetchone()[0]
    assert whole_rows == children > 0
    stored = sum(db_conn.execute(f"SELECT count(*) FROM {t} WHERE accession_number = %s",
                                 (good.accession_number,)).fetchone()[0]
                 for t in ("filing_owners", *ENTRY_TABLES, "footnotes", "owner_signatures"))
    assert stored == 0


# ---------------------------------------------------------------------------
# History first, then exact: the stand-in end to end
# ---------------------------------------------------------------------------


def test_history_from_the_data_set_then_sync_makes_it_exact(
    tmp_path: Path, database_url: str, db_conn: psycopg.Connection
) -> None:
    from ingest.fetch import RetryPolicy
    from ingest.runs import Run
    from tests.edgar_standin import build_site
    from tests.sitegen import ownership_day

    day = date(2024, 3, 5)
    filings = ownership_day(day, 12)
    build_site(tmp_path, filings)
    parsed = [parse_file(f.content, f"{f.accession}.txt") for f in filings]
    (quarter,) = dz.corpus_quarters(parsed)
    dz.write_site(tmp_path, [quarter])
    with EdgarStandin(tmp_path) as sec:
        settings = EdgarSettings(user_agent="Edgar Insider Tests tests@example.org",
                                 base_url=sec.base_url, data_url=sec.data_url,
                                 block_pause_seconds=1.0)
        retry = RetryPolicy(max_attempts=8, backoff_initial=0.05, backoff_max=0.5, jitter=0.05)
        with EdgarClient(settings, RateLimiter(10), retry=retry) as client:
            data = client.get(dataset_path(quarter.quarter))
            report = load_quarter(db_conn, data, quarter=quarter.quarter)
            assert report.loaded == len(quarter.filings) > 0
            assert [s.dataset_only for s in status_by_year(db_conn)] == [len(quarter.filings)]
            with Run(database_url, client, interactive=False) as run:
                run.sync([day])
    kinds = db_conn.execute("SELECT source_kind, count(*) FROM filings GROUP BY 1").fetchall()
    assert kinds == [("submission", len(filings))]
    assert [(s.exact, s.dataset_only) for s in status_by_year(db_conn)] == [(len(filings), 0)]
    assert db_conn.execute("SELECT count(*) FROM dataset_differences").fetchone()[0] == 0


# ---------------------------------------------------------------------------
# The command line: backfill --datasets, then the filings make it exact
# ---------------------------------------------------------------------------


def _cli(args: list[str], sec: EdgarStandin, url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EDGAR_USER_AGENT")}
    env.update(DATABASE_URL=url, EDGAR_USER_AGENT="Edgar Insider Tests tests@example.org",
               EDGAR_BASE_URL=sec.base_url, EDGAR_DATA_URL=sec.data_url, EDGAR_BLOCK_PAUSE_SECONDS="1")
    return subprocess.run([sys.executable, "-m", "ingest", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_backfill_datasets_then_datasets_first_makes_history_exact(
    tmp_path: Path, database_url: str, db_conn: psycopg.Connection
) -> None:
    from tests.edgar_standin import build_site
    from tests.sitegen import ownership_day

    day = date(2024, 3, 5)
    filings = ownership_day(day, 12)
    build_site(tmp_path, filings)
    parsed = [parse_file(f.content, f"{f.accession}.txt") for f in filings]
    (quarter,) = dz.corpus_quarters(parsed)
    assert quarter.quarter == "2024q1"
    dz.write_site(tmp_path, [quarter])
    # Another quarter whose zip is truncated: one recorded error, the good quarter loads.
    broken = dz.QuarterZip("2023q4", quarter.data[: len(quarter.data) // 2], [])
    dz.write_site(tmp_path, [broken])
    with EdgarStandin(tmp_path) as sec:
        first = _cli(["-v", "backfill", "--datasets", "--from", "2023q3", "--to", "2024q1"], sec,
                     database_url)
        assert first.returncode == 1, first.stdout + first.stderr  # the truncated quarter
        assert f"loaded {len(filings)}," in first.stdout
        assert "2023q4" in first.stderr and "Traceback" not in first.stderr
        # -v: a line per quarter, saying how it was stored
        assert f"data set 2024q1: {len(filings)} filings" in first.stderr
        assert "(mapped by the server)" in first.stderr
        zips = [r.path for r in sec.requests if r.path.endswith("_form345.zip")]
        assert sorted(zips) == sorted(dz.URL_PATH.format(q) for q in ("2023q3", "2023q4", "2024q1"))
        status = _cli(["status"], sec, database_url)
        assert f"2024: exact 0, data set only {len(filings)}" in status.stdout
        sec.clear_log()
        again = _cli(["backfill", "--datasets", "--from", "2024q1", "--to", "2024q1"], sec, database_url)
        assert again.returncode == 0 and not [r for r in sec.requests if r.path.endswith(".zip")]
        exact = _cli(["backfill", "--datasets-first", "--from", day.isoformat(), "--to", day.isoformat()],
                     sec, database_url)
        assert exact.returncode == 0, exact.stdout + exact.stderr
        fetched = [r.path for r in sec.requests if r.path.endswith(".txt")]
        assert len(fetched) == len(filings)  # each filing once: the full index finds them loaded
        status = _cli(["status", "--json"], sec, database_url)
    document = json.loads(status.stdout)
    assert document["history_by_year"] == [
        {"year": 2024, "exact": len(filings), "dataset_only": 0, "exact_differed_from_dataset": 0}]
    kinds = db_conn.execute("SELECT source_kind, count(*) FROM filings GROUP BY 1").fetchall()
    assert kinds == [("submission", len(filings))]
