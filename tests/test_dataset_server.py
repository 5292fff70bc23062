"""A data-set quarter mapped by PostgreSQL (ingest/dataset_server.py) stores exactly what the
Python reader (ingest/datasets.py) stores, table by table and value by value, analyst rows and
names included; whatever it cannot map as the reader would, it hands to the reader."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from ingest import dataset_server, db
from ingest.dataset_load import QuarterReport, load_quarter
from ingest.datasets import QuarterFile, ValueFormatError
from tests import dataset_zip as dz
from tests.conftest import _scratch_database
from tests.test_datasets import (
    _member,
    _replace_member,
    document_quarters,
    sample_zip,
    submission_quarters,
)


@pytest.fixture
def other_db_conn(_migrated_databases) -> Iterator[psycopg.Connection]:  # noqa: ANN001
    """A second database of the same schema: the same quarters loaded the other way."""
    with _scratch_database(_migrated_databases) as url, db.connect(url, autocommit=True) as conn:
        yield conn


# Columns that differ between two loads of the same data: when, and serial numbers.
_NOT_COMPARED_TYPES = ("timestamp with time zone", "timestamp without time zone")
_NOT_COMPARED_COLUMNS = {"id"}


def database_rows(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Every table's rows (each as its text, sorted), every column but timestamps and ids."""
    out = {}
    tables = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version' ORDER BY 1").fetchall()
    for (table,) in tables:
        columns = [name for name, kind in conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
            "'public' AND table_name = %s ORDER BY ordinal_position", (table,))
            if kind not in _NOT_COMPARED_TYPES and name not in _NOT_COMPARED_COLUMNS]
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table))
        out[table] = sorted(map(repr, conn.execute(query).fetchall()))
    return out


def differences(first: psycopg.Connection, second: psycopg.Connection) -> dict[str, tuple]:
    """Per table whose rows differ: a few rows only the first has, and only the second."""
    ours, theirs = database_rows(first), database_rows(second)
    out = {}
    for table in sorted(ours.keys() | theirs.keys()):
        mine, other = set(ours.get(table, ())), set(theirs.get(table, ()))
        if mine != other or len(ours.get(table, ())) != len(theirs.get(table, ())):
            out[table] = (sorted(mine - other)[:3], sorted(other - mine)[:3])
    return out


def _outcome(report: QuarterReport) -> tuple:
    return (report.quarter, report.status, report.filings, report.rows, report.rows_per_table,
            report.loaded, report.replaced, report.unchanged, report.kept_filing, report.failed,
            report.orphan_rows)


def _recent_layout() -> list[tuple[str, bytes]]:
    return [(q.quarter, dz.build_zip(q.filings, aff10b5one=True))
            for q in submission_quarters() if q.quarter >= "2023q2"]


QUARTERS: dict[str, Callable[[], list[tuple[str, bytes]]]] = {
    "from full submissions": lambda: [(q.quarter, q.data) for q in submission_quarters()],
    # bare XML documents: footnote texts with line breaks, a footnote on a holding's value
    "from bare documents": lambda: [(q.quarter, q.data) for q in document_quarters()],
    "recent layout (AFF10B5ONE)": _recent_layout,
    "SEC's real 2024 Q3 sample rows": lambda: [("2024q3", sample_zip())],
}


@pytest.mark.parametrize("quarters", QUARTERS)
def test_the_server_stores_what_the_python_reader_stores(
    db_conn: psycopg.Connection, other_db_conn: psycopg.Connection, quarters: str
) -> None:
    loads = QUARTERS[quarters]()
    by_reader = [load_quarter(db_conn, data, quarter=q, on_server=False) for q, data in loads]
    by_server = [load_quarter(other_db_conn, data, quarter=q) for q, data in loads]
    assert [(r.quarter, r.read_by, r.not_on_server) for r in by_server] == \
        [(q, "server", "") for q, _ in loads]
    assert {r.read_by for r in by_reader} == {"python"}
    assert list(map(_outcome, by_server)) == list(map(_outcome, by_reader))
    assert differences(other_db_conn, db_conn) == {}


def _quarter() -> dz.QuarterZip:
    return max(submission_quarters(), key=lambda q: len(q.filings))


def _edited(table: str, edit: Callable[[list[str], list[str]], None]) -> bytes:
    """The biggest test quarter with ``edit(header, first_row_fields)`` applied to a table."""
    data = _quarter().data
    header, first, rest = _member(data, table).split("\n", 2)
    fields = first.split("\t")
    edit(header.split("\t"), fields)
    return _replace_member(data, table, "\n".join((header, "\t".join(fields), rest)).encode())


def _set(column: str, value: str) -> Callable[[list[str], list[str]], None]:
    def edit(header: list[str], fields: list[str]) -> None:
        fields[header.index(column)] = value
    return edit


def _with_bytes(table: str, old: bytes, new: bytes) -> bytes:
    data = _quarter().data
    body = _member(data, table).encode()
    assert old in body
    return _replace_member(data, table, body.replace(old, new))


def _twice(table: str) -> bytes:
    data = _quarter().data
    header, first, rest = _member(data, table).split("\n", 2)
    return _replace_member(data, table, "\n".join((header, first, first, rest)).encode())


# (quarter zip, why the server hands it to the reader): each a value or a layout the
# reader keeps aside (unmapped_values) or treats its own way.
HANDED_OVER: dict[str, tuple[Callable[[], bytes], str]] = {
    "a flag that is not one": (lambda: _edited("SUBMISSION", _set("NOT_SUBJECT_SEC16", "Y")),
                               "not boolean: Y"),
    "a CIK that is not one": (lambda: _edited("SUBMISSION", _set("ISSUERCIK", "12A")),
                              "not bigint: 12A"),
    "a relationship that is not one": (
        lambda: _edited("REPORTINGOWNER", _set("RPTOWNER_RELATIONSHIP", "Director,Trustee")),
        "a relationship of REPORTINGOWNER.tsv that is not one"),
    "two SUBMISSION rows of one accession": (lambda: _twice("SUBMISSION"),
                                             "an accession with two SUBMISSION rows"),
    "a footnote id twice in a filing": (lambda: _twice("FOOTNOTES"),
                                        "duplicate key value violates unique constraint"),
    "line ends of a carriage return and a line feed": (
        lambda: _with_bytes("OWNER_SIGNATURE", b"\n", b"\r\n"),
        "OWNER_SIGNATURE.tsv holds a carriage return"),
}


@pytest.mark.parametrize("case", HANDED_OVER)
def test_what_the_server_cannot_map_as_the_reader_does_the_reader_reads(
    db_conn: psycopg.Connection, other_db_conn: psycopg.Connection, case: str
) -> None:
    make, why = HANDED_OVER[case]
    data = make()
    quarter = _quarter().quarter
    report = load_quarter(db_conn, data, quarter=quarter)
    assert report.read_by == "python"
    assert why in report.not_on_server
    load_quarter(other_db_conn, data, quarter=quarter, on_server=False)
    assert differences(db_conn, other_db_conn) == {}


def test_line_breaks_and_blank_lines_in_values_are_mapped_as_the_reader_maps_them(
    db_conn: psycopg.Connection, other_db_conn: psycopg.Connection
) -> None:
    quarter = _quarter()
    filing = quarter.filings[0]
    odd = dz.DatasetFiling(filing.accession, filing.filed, None,
                           {t: [dict(r) for r in rows] for t, rows in filing.tables.items()})
    odd.tables["SUBMISSION"][0]["REMARKS"] = "First line.\n\nSecond line."
    odd.tables["OWNER_SIGNATURE"][0]["OWNERSIGNATURENAME"] = "Jane\nDoe"
    data = dz.build_zip([odd, *quarter.filings[1:]])
    # Blank lines between rows and at the end of a file belong to no value.
    text = _member(data, "OWNER_SIGNATURE").replace("\n", "\n\n", 2) + "\n\n"
    data = _replace_member(data, "OWNER_SIGNATURE", text.encode())
    report = load_quarter(db_conn, data, quarter=quarter.quarter)
    assert (report.read_by, report.not_on_server) == ("server", "")
    load_quarter(other_db_conn, data, quarter=quarter.quarter, on_server=False)
    assert differences(db_conn, other_db_conn) == {}
    remarks = db_conn.execute("SELECT remarks FROM filings WHERE accession_number = %s",
                              (filing.accession,)).fetchone()[0]
    assert remarks == "First line.\n\nSecond line."


def _halves(data: bytes, quarter: str) -> list[set[str]]:
    """The accessions each writer gets (each issuer's filings to one writer)."""
    with QuarterFile(data, quarter) as dataset:
        layouts = {t.name: dataset_server._Layout(t, dataset.header(t))
                   for t in dataset_server.DATASET_TABLES}
        router = dataset_server._Router(dataset, layouts, 2)
        list(router.bodies())
    halves: list[set[str]] = [set(), set()]
    for accession, writer in router.writer_of.items():
        halves[writer].add(accession.decode())
    return halves


def test_a_bad_value_in_one_writers_half_stores_nothing_of_the_quarter(
    db_conn: psycopg.Connection,
) -> None:
    quarter = _quarter()
    # A date in one writer's half: the other writer, past its own rows, rolls back too, and
    # the reader refuses the quarter with its own words.
    data = _edited("OWNER_SIGNATURE", _set("OWNERSIGNATUREDATE", "2024-07-29"))
    halves = _halves(data, quarter.quarter)
    assert all(halves), "both writers have filings"
    with pytest.raises(ValueFormatError, match="OWNERSIGNATUREDATE"):
        load_quarter(db_conn, data, quarter=quarter.quarter)
    assert db_conn.execute("SELECT count(*) FROM filings").fetchone()[0] == 0
    assert db_conn.execute("SELECT count(*) FROM filing_summaries").fetchone()[0] == 0


def test_a_writer_failing_after_the_other_committed_loses_and_doubles_nothing(
    db_conn: psycopg.Connection, other_db_conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The one window where half a quarter is stored: after the first writer's commit. The
    # second writer fails there (as if killed); the reader then finds the first half stored
    # and unchanged, and loads the rest.
    quarter = _quarter()
    halves = _halves(quarter.data, quarter.quarter)
    refresh = dataset_server.refresh_analyst_rows

    def refresh_or_fail(cur: psycopg.Cursor, accessions: list[str]) -> None:
        if set(accessions) == halves[1]:
            raise psycopg.errors.QueryCanceled("canceling statement due to user request")
        refresh(cur, accessions)

    monkeypatch.setattr(dataset_server, "refresh_analyst_rows", refresh_or_fail)
    report = load_quarter(db_conn, quarter.data, quarter=quarter.quarter)
    assert report.read_by == "python" and "canceling statement" in report.not_on_server
    assert (report.unchanged, report.loaded) == (len(halves[0]), len(halves[1]))
    monkeypatch.undo()
    load_quarter(other_db_conn, quarter.data, quarter=quarter.quarter, on_server=False)
    assert differences(db_conn, other_db_conn) == {}


def test_killed_before_the_names_and_the_record_the_next_run_finishes_the_quarter(
    db_conn: psycopg.Connection, other_db_conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both halves committed, then the run stops before their latest names and the quarter's
    # record: the next run finds every filing stored and unchanged, and brings the names up
    # to date as the first run would have.
    quarter = _quarter()

    def killed(cur: psycopg.Cursor, issuers: str, persons: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_server, "upsert_name_candidates", killed)
    with pytest.raises(KeyboardInterrupt):
        load_quarter(db_conn, quarter.data, quarter=quarter.quarter)
    assert db_conn.execute("SELECT count(*) FROM filings").fetchone()[0] == len(quarter.filings)
    assert db_conn.execute("SELECT count(*) FROM persons").fetchone()[0] == 0
    monkeypatch.undo()
    again = load_quarter(db_conn, quarter.data, quarter=quarter.quarter)
    assert again.read_by == "python" and again.unchanged == len(quarter.filings)
    load_quarter(other_db_conn, quarter.data, quarter=quarter.quarter)
    assert differences(db_conn, other_db_conn) == {}


def test_when_the_writers_cannot_connect_the_reader_loads_the_quarter(
    db_conn: psycopg.Connection, other_db_conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(conn: psycopg.Connection) -> psycopg.Connection:
        raise psycopg.OperationalError("sorry, too many clients already")

    monkeypatch.setattr(dataset_server, "connection_like", refused)
    quarter = _quarter()
    report = load_quarter(db_conn, quarter.data, quarter=quarter.quarter)
    assert report.read_by == "python" and "too many clients" in report.not_on_server
    assert report.loaded == len(quarter.filings)
    load_quarter(other_db_conn, quarter.data, quarter=quarter.quarter, on_server=False)
    assert differences(db_conn, other_db_conn) == {}


@pytest.fixture
def loader_role(db_conn: psycopg.Connection) -> Iterator[str]:
    """A role that is not a superuser, with what the loader needs in the test database:
    the server then checks every child row's filing (no session_replication_role)."""
    role = f"edgar_loader_{uuid.uuid4().hex[:8]}"
    name = db_conn.info.dbname
    statements = [
        f"CREATE ROLE {role} LOGIN", f"GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    for statement in statements:
        db_conn.execute(statement)
    try:
        yield role
    finally:
        db_conn.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
        db_conn.execute(f"DROP OWNED BY {role}")
        db_conn.execute(f"DROP ROLE {role}")


def test_as_a_role_that_is_not_a_superuser_the_filings_go_before_their_rows(
    db_conn: psycopg.Connection, other_db_conn: psycopg.Connection, loader_role: str
) -> None:
    options = {o.keyword.decode(): o.val.decode() for o in db_conn.pgconn.info
               if o.val is not None and o.keyword.decode() not in ("user", "password")}
    conninfo = psycopg.conninfo.make_conninfo(**options, user=loader_role)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert not conn.execute("SELECT current_setting('is_superuser') = 'on'").fetchone()[0]
        for q in submission_quarters():
            report = load_quarter(conn, q.data, quarter=q.quarter)
            assert (report.read_by, report.not_on_server) == ("server", "")
    for q in submission_quarters():
        load_quarter(other_db_conn, q.data, quarter=q.quarter, on_server=False)
    assert differences(db_conn, other_db_conn) == {}


def test_the_router_numbers_and_hashes_as_the_reader_does() -> None:
    """Rows in the writers' hands are the file's rows, numbered as the reader numbers them,
    and each filing's hash is the reader's raw_sha256."""
    quarter = max(document_quarters(), key=lambda q: len(q.filings))
    with QuarterFile(quarter.data, quarter.quarter) as dataset:
        layouts = {t.name: dataset_server._Layout(t, dataset.header(t))
                   for t in dataset_server.DATASET_TABLES}
        router = dataset_server._Router(dataset, layouts, 2)
        bodies = dict(router.bodies())
        hashes = dict(line.split(b"\t") for rows in router.hashes() for line in rows.split(b"\n")
                      if line)
        reader = {item.accession_number: item.raw_sha256
                  for batch in dataset.batches() for item in batch}
    assert {a.decode(): h.decode() for a, h in hashes.items()} == reader
    rows = sum(body.count(b"\n") + bool(body) for bodies_ in bodies.values() for body in bodies_)
    assert rows == sum(router.rows.values())
