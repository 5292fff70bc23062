"""A data-set quarter mapped by PostgreSQL itself: the fast lane of ``ingest.dataset_load``.

Reading a quarter in Python (``ingest.datasets``) cost more CPU than PostgreSQL spends
storing it, and one transaction is one backend, one core: on 2 cores a 60,000-filing quarter
loaded at about 50,000 rows/s (benchmarks/RESULTS.md). Here Python only reads the zip's
members and shares each filing out (:class:`_Router`): to one of two writers by its issuer,
its rows numbered as the reader numbers them (by surrogate key; owners and signatures in
file order) and its lines hashed as the reader hashes them (``raw_sha256``, so that either
lane finds the other's filings unchanged). Each writer, a connection of its own, COPYs its
rows as they are into temp tables of text columns and converts them with ``INSERT ...
SELECT`` written from the same mapping (``ingest.dataset_catalog``) and the reader's rules:
dates ``DD-MON-YYYY``, plain numbers, flags and CIKs as the reader reads them (any other
value fails the statement: ``_CONVERT``), text stripped of the whitespace Python strips,
footnote lists into ``footnote_references``, each line's footnote ids and 10b5-1 mention,
the owners' relationship words into the four flags, the values of columns we have no
column for into ``unmapped_values``. Each writer writes each table while the router reads
the next (``_plan``).

It maps only what it can store exactly as the reader would, and hands the rest to the
reader (:class:`NotForServer`, or a writer's failed statement; nothing of the quarter
stored): a value the reader refuses or keeps aside, a row of the wrong width, a carriage
return, a NUL, bytes that are not UTF-8, rows of an accession SUBMISSION does not list, two
SUBMISSION rows or footnote ids of one filing, a relationship word that is not one, and any
filing of the quarter already stored (the per-filing decisions are the loader's). A line
break inside a value is mapped as the reader maps it. tests/test_dataset_server.py compares
every table of both lanes.

Each writer's transaction holds the whole filings of its issuers (about half the filings):
filings, child rows, analyst rows. An amendment is linked only to a filing of its own issuer
(migration 0009), so each half holds every amendment family it touches, and the halves
write disjoint rows; they share the owners' days' advisory lock (migration 0015), which the
second to take it waits for until the first commits. The writers wait for each other before
it (a barrier, ``store_on_server``): a bad value in either half rolls both back. Each writer
brings the latest names in ``issuers``/``persons`` up to date with its half's candidates
(from its own rows: a join with ``filings`` reads all of history) in a transaction of its
own, once its half is committed, while the other may still refresh its analyst rows: no
writer holds a name's lock while it holds or waits for the advisory lock, so no cycle with
another loader, which takes those before it; the two take the persons they share in CIK
order. The quarter is recorded after both (``ingest.dataset_load``). Killed between the two
commits or before the record, the quarter is not recorded in ``dataset_quarters``; the next
run finds its filings stored and reads the quarter in Python: those are ``unchanged`` (their
names brought up to date then), the rest load.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import psycopg

from .analyst import refresh_analyst_rows
from .dataset_catalog import (
    DATASET_TABLES,
    FOOTNOTES,
    OWNER_SIGNATURE,
    RELATIONSHIP_FLAGS,
    REPORTINGOWNER,
    SUBMISSION,
    DatasetTable,
    Role,
)
from .datasets import (
    MAPPING_VERSION,
    NO_COLUMN,
    SOURCE_KIND,
    DatasetError,
    QuarterFile,
    starts_a_row,
)
from .load import (
    CHILD_LAYOUTS,
    FILINGS_LAYOUT,
    OWNERS_LAYOUT,
    SIGNATURES_LAYOUT,
    UNMAPPED_LAYOUT,
    issuer_candidate_sql,
    name_candidates_table,
    reference_checks_skipped,
    upsert_name_candidates,
)
from .ownership_xml import _FALSE, _TRUE
from .records import PARSER_VERSION, TRANSACTION_TABLES, Kind
from .rows import PLAN_MENTION, IssuerRow, PersonRow

# A row's first field is its accession number (the reader keys rows by their first 20
# characters); a line starting otherwise continues the row before it (a line break inside a
# value, joined back as the reader joins it: ingest.datasets.QuarterFile._lines).
_ROW = rb"[0-9]{10}-[0-9]{2}-[0-9]{6}\t"
_ROW_START = re.compile(_ROW)
_NOT_A_ROW = re.compile(rb"\n(?!" + _ROW + rb")")
_BLANK_LINES_BEFORE_A_ROW = re.compile(rb"\n\n+(?=" + _ROW + rb")")
_JOINED = b"\x02"  # a line break inside a value, while COPY reads the row as one line

# str.strip()'s whitespace (what the reader strips from text values), for btrim().
_WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())


class NotForServer(Exception):
    """The quarter holds something only the Python reader treats as it should (why)."""


@dataclass(slots=True)
class ServerLoad:
    """What storing a quarter on the server did."""

    filings: int
    rows_per_table: dict[str, int]
    seconds_reading: float  # the zip read, numbered, hashed and shared out (Python)
    seconds_writing: float


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_WS = _literal(_WHITESPACE)


def _half_name(table: DatasetTable) -> str:
    return f"_half_{table.name.lower()}"


def _text(field: str) -> str:
    return f"nullif(btrim({field}, {_WS}), '')"


def _bool(field: str) -> str:
    arms = " ".join(f"WHEN {_literal(v)} THEN {str(v in _TRUE).lower()}"
                    for v in sorted(_TRUE | _FALSE))
    return f"CASE lower({field}) {arms} ELSE {_refused('boolean', field)} END"


def _refused(kind: str, field: str) -> str:
    """An expression that fails the writer's statement (and so the load on the server)
    with the value in its message: the Python reader then refuses or keeps it aside."""
    return f"({_literal(f'not {kind}: ')} || {field})::{kind}"


# Each value converted as the Python reader converts it (ingest.datasets: DATE and NUMERIC,
# ingest.ownership_xml: parse_cik, parse_bool), or the statement fails where the reader
# would refuse the quarter or keep the value aside (ValueFormatError, unmapped_values).
# PostgreSQL alone is more lenient: to_date() reads "1-SEP-24", numeric " 1e3", bigint "+5".
_CONVERT: dict[Kind, Callable[[str], str]] = {
    Kind.TEXT: _text,
    Kind.DATE: lambda f: (f"CASE WHEN length({f}) = 11 AND to_char(to_date({f}, 'DD-MON-YYYY'), "
                          f"'DD-MON-YYYY') = upper({f}) THEN to_date({f}, 'DD-MON-YYYY') "
                          f"ELSE {_refused('date', f)} END"),
    Kind.NUMERIC: lambda f: (f"CASE WHEN translate({f}, '0123456789.-', '') = '' "
                             f"THEN {f}::numeric ELSE {_refused('numeric', f)} END"),
    Kind.CIK: lambda f: (f"CASE WHEN length({f}) <= 10 AND translate({f}, '0123456789', '') = '' "
                         f"THEN {f}::bigint ELSE {_refused('bigint', f)} END"),
    Kind.BOOL: lambda f: _bool(f),
}

_SQL_TYPES = {Kind.TEXT: "text", Kind.DATE: "date", Kind.NUMERIC: "numeric",
              Kind.CIK: "bigint", Kind.BOOL: "boolean"}


class _Layout:
    """One data-set table of this quarter's file: where each of its columns sits."""

    def __init__(self, table: DatasetTable, header: Sequence[str]) -> None:
        self.table = table
        self.width = len(header)
        by_name = {name: source for source in table.columns for name in source.names}
        self.fields = [f"f{i}" for i in range(self.width)]
        self.value_field: dict[str, str] = {}  # our column -> field
        self.footnote_fields: list[tuple[str, str]] = []  # (field, our column), header order
        self.no_column: list[tuple[str, str]] = []  # (field, SEC's name), header order
        self.key_field: str | None = None
        self.joined = False  # a value holds a line break, staged as \x02 (_member_rows)
        # Rows numbered within their filing (the seq column): entries, owners, signatures.
        self.numbered = table.target not in ("filings", "footnotes")
        self.relationship_field: str | None = None
        for i, name in enumerate(header):
            source = by_name[name]  # QuarterFile checked the header
            field = f"f{i}"
            if source.role is Role.VALUE:
                self.value_field[source.column] = field
            elif source.role is Role.FOOTNOTES:
                self.footnote_fields.append((field, source.column))
            elif source.role is Role.NO_COLUMN:
                self.no_column.append((field, name))
            elif source.role is Role.SURROGATE_KEY:
                self.key_field = field
            elif source.role is Role.RELATIONSHIP:
                self.relationship_field = field
        if header[0] != "ACCESSION_NUMBER":
            raise NotForServer(f"{table.file_name}'s first column is {header[0]}")

    def ref(self, field: str, alias: str = "s") -> str:
        """A field of a staging row, as the file holds it."""
        if self.joined:
            return f"replace({alias}.{field}, E'\\x02', E'\\n')"
        return f"{alias}.{field}"

    def value(self, column: str, alias: str = "s") -> str:
        """Our column's value from a row of the staging table (NULL where the file has none)."""
        field = self.value_field.get(column)
        if field is None:  # typed: a temp table made from it has the column's type
            kind = self.table.kinds.get(column)
            return f"NULL::{_SQL_TYPES[kind]}" if kind else "NULL"
        return _CONVERT[self.table.kinds[column]](self.ref(field, alias))


# ---------------------------------------------------------------------------
# Staging: the members as they are
# ---------------------------------------------------------------------------


def _member_rows(dataset: QuarterFile, table: DatasetTable) -> tuple[bytes, bool]:
    """The member's rows (header dropped), checked to be rows the server reads as the
    Python reader does (NotForServer otherwise), and whether a value holds a line break
    (each written as \\x02 for COPY)."""
    try:
        data = dataset.member_bytes(table)
    except DatasetError as exc:
        raise NotForServer(exc.message) from None
    end = data.find(b"\n")
    # blank lines before the first row and after the last: none of a value (the reader's)
    body = b"" if end < 0 else data[end + 1:].strip(b"\n")
    for byte, what in ((b"\r", "a carriage return"), (b"\x00", "a NUL"),
                       (b"\x01", "a \\x01"), (_JOINED, "a \\x02")):
        if byte in body:
            raise NotForServer(f"{table.file_name} holds {what}")
    if not body:
        return body, False
    if not _ROW_START.match(body):
        raise NotForServer(f"{table.file_name}'s first row does not start with an accession")
    body = _BLANK_LINES_BEFORE_A_ROW.sub(b"\n", body)  # between rows: dropped by the reader
    continued = [m.end() for m in _NOT_A_ROW.finditer(body)]
    for start in continued:
        end = body.find(b"\n", start)
        line = body[start:] if end < 0 else body[start:end]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise NotForServer(f"{table.file_name} holds bytes that are not UTF-8") from None
        if starts_a_row(text):  # a row, to the reader
            raise NotForServer(f"{table.file_name} has a row that is not an accession's")
    if continued:
        body = _NOT_A_ROW.sub(_JOINED, body)
    return body, bool(continued)


_HASH_HEADER = f"edgar-insider dataset mapping {MAPPING_VERSION}".encode()


def _surrogate_key(line: bytes, at: int) -> int:
    fields = line.split(b"\t", at + 1)
    if len(fields) <= at or not fields[at].isdigit():
        raise NotForServer("a surrogate key that is not a number")
    return int(fields[at])


# The order the router reads and hands over the tables: the footnotes before the entries,
# so that each writer can write each entry table's lines (with their footnotes) as soon as
# it is in, while the router reads the next one.
ROUTING_ORDER = (SUBMISSION, FOOTNOTES, REPORTINGOWNER, *(
    t for t in DATASET_TABLES if t not in (SUBMISSION, FOOTNOTES, REPORTINGOWNER)))
_SEQUENCES = [b"\t%d" % n for n in range(256)]  # "\t<n>": appended to a filing's n-th row


def _sequence(n: int) -> bytes:
    return _SEQUENCES[n] if n < len(_SEQUENCES) else b"\t%d" % n


class _Router:
    """Reads the members table by table and shares each filing out to the writer of its
    issuer (``_share_out``), with its rows numbered as the Python reader
    numbers them (by surrogate key, file order on ties; owners and signatures in file
    order): the ``seq`` column, appended. Each filing's lines are hashed on the way, as the
    reader hashes them (``ingest.datasets._canonical_text``: tables in DATASET_TABLES
    order, each table's name, then the filing's lines in file order). NotForServer for
    anything odd."""

    def __init__(self, dataset: QuarterFile, layouts: dict[str, _Layout], writers: int) -> None:
        self.dataset = dataset
        self.layouts = layouts
        self.writers = writers
        self.writer_of: dict[bytes, int] = {}
        self.hashers: dict[bytes, hashlib._Hash] = {}
        self.rows: dict[str, int] = {}
        # Tables read before their turn in the hashed text: their lines by filing, until then.
        self.held: dict[str, dict[bytes, list[bytes]]] = {}

    def bodies(self) -> Iterator[tuple[DatasetTable, list[bytes]]]:
        """Per table, in ROUTING_ORDER, each writer's rows for COPY."""
        hashed = 0  # DATASET_TABLES[:hashed] are hashed: the order of the hashed text
        for table in ROUTING_ORDER:
            in_turn = DATASET_TABLES[hashed] is table
            rows = self._route(table, in_turn)
            hashed += in_turn
            while hashed < len(DATASET_TABLES) and DATASET_TABLES[hashed].name in self.held:
                self._hash_held(DATASET_TABLES[hashed])
                hashed += 1
            yield table, [b"\n".join(chosen) for chosen in rows]

    def _hash_held(self, table: DatasetTable) -> None:
        name, held = b"\n" + table.name.encode(), self.held.pop(table.name)
        for accession, hasher in self.hashers.items():
            hasher.update(name)
            for line in held.get(accession, ()):
                hasher.update(b"\n" + _as_filed(line))

    def hashes(self) -> list[bytes]:
        """Per writer, ``accession<TAB>raw_sha256`` of each of its filings (after bodies())."""
        out: list[list[bytes]] = [[] for _ in range(self.writers)]
        for accession, hasher in self.hashers.items():
            out[self.writer_of[accession]].append(
                accession + b"\t" + hasher.hexdigest().encode())
        return [b"\n".join(rows) for rows in out]

    def _route(self, table: DatasetTable, in_turn: bool) -> list[list[bytes]]:
        """The table's rows per writer; hashed now when ``in_turn``, else held."""
        layout = self.layouts[table.name]
        body, layout.joined = _member_rows(self.dataset, table)
        lines = body.split(b"\n") if body else []
        self.rows[table.name] = len(lines)
        if table is SUBMISSION:
            return self._share_out(lines, int(layout.value_field["issuer_cik"][1:]))
        try:
            if not in_turn:
                held = self.held[table.name] = {}
                for line in lines:
                    held.setdefault(line[:20], []).append(line)
                lines = [line for group in held.values() for line in group]
                hashers = None
            else:
                name = b"\n" + table.name.encode()
                for hasher in self.hashers.values():  # the name, whether it has rows or not
                    hasher.update(name)
                hashers = self.hashers
            if layout.key_field:
                return self._by_key(lines, int(layout.key_field[1:]), layout.joined, hashers)
            return self._in_file_order(lines, layout.numbered, layout.joined, hashers)
        except KeyError:
            raise NotForServer(f"rows of {table.file_name} whose accession SUBMISSION does "
                               "not list") from None

    def _share_out(self, lines: list[bytes], issuer_at: int) -> list[list[bytes]]:
        """Each issuer's filings to one writer: the one with fewer filings when the issuer
        first comes (about half the filings each)."""
        out: list[list[bytes]] = [[] for _ in range(self.writers)]
        start = b"\n".join([_HASH_HEADER, b"SUBMISSION", b""])
        writer_of_issuer: dict[bytes, int] = {}
        for line in lines:
            accession = line[:20]
            if accession in self.writer_of:
                raise NotForServer("an accession with two SUBMISSION rows")
            issuer = line.split(b"\t", issuer_at + 1)[issuer_at:issuer_at + 1]
            writer = writer_of_issuer.get(issuer[0] if issuer else b"")
            if writer is None:
                writer = min(range(self.writers), key=lambda n: len(out[n]))
                writer_of_issuer[issuer[0] if issuer else b""] = writer
            self.writer_of[accession] = writer
            self.hashers[accession] = hashlib.sha256(start + _as_filed(line))
            out[writer].append(line)
        return out

    def _in_file_order(self, lines: list[bytes], numbered: bool, joined: bool,
                       hashers: dict[bytes, hashlib._Hash] | None) -> list[list[bytes]]:
        out: list[list[bytes]] = [[] for _ in range(self.writers)]
        writer_of = self.writer_of
        counts: dict[bytes, int] = {}
        for line in lines:
            accession = line[:20]
            chosen = out[writer_of[accession]]
            if hashers is not None:
                hashers[accession].update(b"\n" + (_as_filed(line) if joined else line))
            if numbered:
                counts[accession] = n = counts.get(accession, 0) + 1
                chosen.append(line + _sequence(n))
            else:
                chosen.append(line)
        return out

    def _by_key(self, lines: list[bytes], key_at: int, joined: bool,
                hashers: dict[bytes, hashlib._Hash] | None) -> list[list[bytes]]:
        out: list[list[bytes]] = [[] for _ in range(self.writers)]
        by_filing: dict[bytes, list[bytes]] = {}
        for line in lines:
            accession = line[:20]
            if hashers is not None:
                hashers[accession].update(b"\n" + (_as_filed(line) if joined else line))
            by_filing.setdefault(accession, []).append(line)
        for accession, group in by_filing.items():
            chosen = out[self.writer_of[accession]]
            if len(group) == 1:
                _surrogate_key(group[0], key_at)
                chosen.append(group[0] + b"\t1")
                continue
            group.sort(key=lambda line: _surrogate_key(line, key_at))  # stable: ties in file order
            chosen.extend(line + _sequence(n) for n, line in enumerate(group, 1))
        return out


def _as_filed(line: bytes) -> bytes:
    """A staged row as the file holds it (line breaks inside values back)."""
    return line.replace(_JOINED, b"\n")


# ---------------------------------------------------------------------------
# Checks: what would make the server's rows differ from the Python reader's
# ---------------------------------------------------------------------------


def _relationship_words(field: str) -> str:
    """The relationship list's words as the reader reads them (stripped, lower case, no
    spaces), empty ones dropped."""
    return (f"ARRAY(SELECT w FROM (SELECT lower(replace(btrim(x, {_WS}), ' ', '')) AS w "
            f"FROM unnest(string_to_array({field}, ',')) AS x) AS words WHERE w <> '')")


@dataclass(frozen=True, slots=True)
class _Check:
    """A query over a writer's staged rows returning a row when the quarter is not one
    for the server (``what``). The values are checked as they are converted (_CONVERT);
    these are what a conversion cannot tell."""

    what: str
    query: str


_STORED = _Check("filings of the quarter already stored (decided filing by filing)",
                 f"SELECT 1 FROM {_half_name(SUBMISSION)} s WHERE EXISTS "
                 "(SELECT FROM filings f WHERE f.accession_number = s.f0) LIMIT 1")


def _relationships(layout: _Layout) -> list[_Check]:
    """Letters, spaces and commas only, each word a known one: _owners reads them so."""
    if layout.relationship_field is None:
        return []
    known = ", ".join(map(_literal, RELATIONSHIP_FLAGS))
    return [_Check(
        f"a relationship of {REPORTINGOWNER.file_name} that is not one",
        f"SELECT 1 FROM (SELECT DISTINCT {layout.ref(layout.relationship_field)} AS v "
        f"FROM {_half_name(REPORTINGOWNER)} s) d WHERE d.v ~ '[^A-Za-z ,]' "
        f"OR NOT ({_relationship_words('d.v')} <@ ARRAY[{known}]) LIMIT 1")]


_HASHES = "hashes"  # the last item of a writer's feed: its filings' raw_sha256
_Feed = queue.SimpleQueue  # (table name or _HASHES, rows for COPY), or an exception to raise


def _staged(cur: psycopg.Cursor, layouts: dict[str, _Layout], feed: _Feed) -> Iterator[str]:
    """The writer's rows, as the router hands them over, into temp tables of text columns
    (``f0``... in file order, then ``seq``), and its filings' hashes: yields each item's
    name once it is in."""
    for table in DATASET_TABLES:
        fields = ", ".join(f"{f} text" for f in layouts[table.name].fields)
        cur.execute(f"CREATE TEMP TABLE {_half_name(table)} ({fields}, seq integer) "
                    "ON COMMIT DROP")
    cur.execute("CREATE TEMP TABLE _half_hashes (f0 text, sha text) ON COMMIT DROP")
    for statement in _WORK_TABLES:
        cur.execute(statement)
    by_name = {t.name: t for t in DATASET_TABLES}
    while True:
        item = feed.get()
        if isinstance(item, BaseException):
            raise item
        name, rows = item
        if name == _HASHES:
            if rows:
                with cur.copy("COPY _half_hashes (f0, sha) FROM STDIN") as copy:
                    copy.write(rows)
            yield name
            return
        layout = layouts[name]
        columns = [*layout.fields, "seq"] if layout.numbered else layout.fields
        if rows:
            # The files carry no quoting: CSV with a quote character that cannot occur
            # (\x01, checked), so each tab-separated field arrives as it is, empty as NULL.
            with cur.copy(f"COPY {_half_name(by_name[name])} ({', '.join(columns)}) FROM "
                          "STDIN (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01', "
                          "ENCODING 'UTF8')") as copy:
                copy.write(rows)
        yield name


def _owners(layout: _Layout) -> str:
    values = []
    field = layout.ref(layout.relationship_field) if layout.relationship_field else "NULL"
    for column in OWNERS_LAYOUT.columns:
        if column == "accession_number":
            values.append("s.f0")
        elif column == "sequence":
            values.append("s.seq")
        elif column in RELATIONSHIP_FLAGS.values():
            word = next(w for w, flag in RELATIONSHIP_FLAGS.items() if flag == column)
            # The listed flags true, the others false; nothing listed: unknown. The words
            # are known ones (_checks), so ",director," is the word director.
            values.append(f"CASE WHEN replace(r.words, ',', '') <> '' THEN "
                          f"strpos(r.words, {_literal(',' + word + ',')}) > 0 END")
        else:
            values.append(layout.value(column))
    return (f"CREATE TEMP TABLE _half_owners ON COMMIT DROP AS SELECT "
            f"{', '.join(f'{v} AS {c}' for v, c in zip(values, OWNERS_LAYOUT.columns, strict=True))} "
            f"FROM {_half_name(REPORTINGOWNER)} s CROSS JOIN LATERAL "
            f"(SELECT ',' || lower(replace({field}, ' ', '')) || ',' AS words) r")


def _filings(layout: _Layout, source_name: str) -> str:
    fixed = {
        "accession_number": "s.f0",
        "form_type": layout.value("document_type"),
        "filed_date": layout.value("filed_date"),
        "filer_ciks": "ARRAY(SELECT DISTINCT c FROM unnest(o.ciks || "
                      f"{layout.value('issuer_cik')}) AS c WHERE c IS NOT NULL ORDER BY c)",
        "parsed": "true",
        "source_kind": _literal(SOURCE_KIND),
        "source_name": _literal(source_name),
        "raw_sha256": "x.sha",
        "parser_version": str(PARSER_VERSION),
    }
    values = [fixed.get(c) or layout.value(c) for c in FILINGS_LAYOUT.columns]
    columns = ", ".join(FILINGS_LAYOUT.columns)
    # Each filing's issuer candidate from the values stored (_NAME_TABLES).
    return (f"WITH stored AS (INSERT INTO filings ({columns}) SELECT {', '.join(values)} "
            f"FROM {_half_name(SUBMISSION)} s JOIN _half_hashes x ON x.f0 = s.f0 "
            "LEFT JOIN (SELECT accession_number, array_agg(rpt_owner_cik) AS ciks "
            "FROM _half_owners GROUP BY accession_number) o ON o.accession_number = s.f0 "
            "RETURNING accession_number, issuer_cik, issuer_name, issuer_trading_symbol, "
            "filed_date, period_of_report) "
            f"INSERT INTO {_NAME_TABLES[0]} ({', '.join(IssuerRow._fields)}) "
            f"SELECT {issuer_candidate_sql('stored')} FROM stored")


def _references(table: DatasetTable, layout: _Layout) -> str:
    """The table's footnote lists, one row per (id, column) of each row: into _half_refs
    (footnote_references to be)."""
    lists = ", ".join(f"({_literal(column)}, {layout.ref(field)})"
                      for field, column in layout.footnote_fields)
    return (
        "INSERT INTO _half_refs (accession_number, footnote_id, table_name, sequence, "
        f"column_name) SELECT s.f0, btrim(i.id, {_WS}), {_literal(table.target)}, s.seq, c.col "
        f"FROM {_half_name(table)} s CROSS JOIN LATERAL (VALUES {lists}) AS c(col, ids) "
        "CROSS JOIN LATERAL unnest(string_to_array(c.ids, ',')) AS i(id) "
        f"WHERE c.ids IS NOT NULL AND btrim(i.id, {_WS}) <> ''")


_ENTRY_TARGETS = {layout.table: layout for layout in CHILD_LAYOUTS
                  if layout.table in {t.target for t in DATASET_TABLES
                                      if any(c.role is Role.SURROGATE_KEY for c in t.columns)}}


def _line_notes(target: str) -> str:
    """Each line's footnote ids in footnote order (ingest.rows.footnote_order: the number
    in the id, ids without one last, then the id) and whether one of those footnotes
    mentions a Rule 10b5-1 plan (ingest.rows.add_line_footnotes): into _half_line_notes."""
    return (
        "INSERT INTO _half_line_notes (table_name, accession_number, sequence, ids, mentions) "
        f"SELECT {_literal(target)}, r.accession_number, r.sequence, "
        "array_agg(r.footnote_id ORDER BY k.n, r.footnote_id COLLATE \"C\"), "
        "bool_or(p.footnote_id IS NOT NULL) "
        "FROM (SELECT DISTINCT accession_number, sequence, footnote_id FROM _half_refs "
        f"WHERE table_name = {_literal(target)}) r "
        "JOIN (SELECT footnote_id, "
        "nullif(regexp_replace(footnote_id, '[^0-9]', '', 'g'), '')::numeric AS n "
        f"FROM (SELECT DISTINCT footnote_id FROM _half_refs WHERE table_name = {_literal(target)}) "
        "AS i) k ON k.footnote_id = r.footnote_id "
        "LEFT JOIN _half_plan_notes p ON p.accession_number = r.accession_number "
        "AND p.footnote_id = r.footnote_id "
        "GROUP BY r.accession_number, r.sequence")


# Work tables of a writer's transaction, filled table by table (_plan).
_WORK_TABLES = (
    "CREATE TEMP TABLE _half_refs (accession_number text, footnote_id text, table_name text, "
    "sequence integer, column_name text) ON COMMIT DROP",
    "CREATE TEMP TABLE _half_line_notes (table_name text, accession_number text, "
    "sequence integer, ids text[], mentions boolean) ON COMMIT DROP",
)


def _entries(table: DatasetTable, layout: _Layout) -> str:
    target = _ENTRY_TARGETS[table.target]
    values, join = [], ""
    for column in target.columns:
        if column == "accession_number":
            values.append("s.f0")
        elif column == "sequence":
            values.append("s.seq")
        elif column == "footnote_ids":
            values.append("coalesce(lf.ids, '{}')")
        elif column == "footnote_mentions_10b5_1":
            values.append("coalesce(lf.mentions, false)")
        else:
            values.append(layout.value(column))
    if table.target in TRANSACTION_TABLES:
        join = (f"LEFT JOIN _half_line_notes lf ON lf.table_name = {_literal(table.target)} "
                "AND lf.accession_number = s.f0 AND lf.sequence = s.seq")
    return (f"INSERT INTO {table.target} ({', '.join(target.columns)}) "
            f"SELECT {', '.join(values)} FROM {_half_name(table)} s {join}")


def _footnotes(layout: _Layout) -> list[str]:
    """The footnotes, and which of them mention a Rule 10b5-1 plan (_half_plan_notes)."""
    footnote_id = layout.value("footnote_id")
    return [
        f"INSERT INTO footnotes (accession_number, footnote_id, text) SELECT s.f0, "
        f"{footnote_id}, {layout.value('text')} FROM {_half_name(FOOTNOTES)} s",
        f"CREATE TEMP TABLE _half_plan_notes ON COMMIT DROP AS SELECT s.f0 AS accession_number, "
        f"{footnote_id} AS footnote_id FROM {_half_name(FOOTNOTES)} s "
        f"WHERE {layout.ref(layout.value_field['text'])} ILIKE "
        f"{_literal('%' + PLAN_MENTION + '%')}",
    ]


def _signatures(layout: _Layout) -> str:
    values = ["s.f0" if c == "accession_number" else "s.seq" if c == "sequence"
              else layout.value(c) for c in SIGNATURES_LAYOUT.columns]
    return (f"INSERT INTO owner_signatures ({', '.join(SIGNATURES_LAYOUT.columns)}) "
            f"SELECT {', '.join(values)} FROM {_half_name(OWNER_SIGNATURE)} s")


def _unmapped(layouts: dict[str, _Layout]) -> str | None:
    """Values of columns we have no column for, kept verbatim, numbered per filing in the
    reader's order (SUBMISSION's, then each owner's, in header order)."""
    parts = []
    for rank, table in enumerate(DATASET_TABLES):
        layout = layouts[table.name]
        for position, (field, name) in enumerate(layout.no_column):
            where = (_literal(f"{table.name}/{name}") if table is SUBMISSION else
                     f"{_literal(table.name + '[')} || s.seq || {_literal(']/' + name)}")
            parts.append(f"SELECT s.f0, {rank} AS t, s.seq, {position} AS p, {where} AS path, "
                         f"{layout.ref(field)} AS raw_value FROM {_half_name(table)} s "
                         f"WHERE btrim({layout.ref(field)}, {_WS}) <> ''")
    if not parts:
        return None
    columns = ", ".join(UNMAPPED_LAYOUT.columns)
    return (f"INSERT INTO unmapped_values ({columns}) SELECT u.f0, row_number() OVER "
            "(PARTITION BY u.f0 ORDER BY u.t, u.seq, u.p), u.path, u.raw_value, "
            f"{_literal(NO_COLUMN)} FROM ({' UNION ALL '.join(parts)}) u")


_Step = str | _Check


def _plan(layouts: dict[str, _Layout], source_name: str,
          children_first: bool) -> dict[str, list[_Step]]:
    """What a writer runs once each item of its feed is staged (a table's name, in
    ROUTING_ORDER, then _HASHES). With the foreign-key check skipped (``children_first``),
    each table's rows are written as soon as it is in, while the router reads the next
    one, and the filings last, with their hashes; else all of it at the end, the filings
    before their child rows."""
    owners = layouts[REPORTINGOWNER.name]
    owners_table = _owners(owners)
    steps: dict[str, list[_Step]] = {
        SUBMISSION.name: [_STORED],
        FOOTNOTES.name: _footnotes(layouts[FOOTNOTES.name]),
        REPORTINGOWNER.name: [*_relationships(owners), owners_table,
                              f"INSERT INTO filing_owners ({', '.join(OWNERS_LAYOUT.columns)}) "
                              f"SELECT {', '.join(OWNERS_LAYOUT.columns)} FROM _half_owners"],
    }
    for table in ROUTING_ORDER:
        layout = layouts[table.name]
        if table.target in _ENTRY_TARGETS:
            steps[table.name] = [
                *([_references(table, layout)] if layout.footnote_fields else []),
                *([_line_notes(table.target)] if table.target in TRANSACTION_TABLES else []),
                _entries(table, layout)]
    unmapped = _unmapped(layouts)
    steps[OWNER_SIGNATURE.name] = [
        _signatures(layouts[OWNER_SIGNATURE.name]), *([unmapped] if unmapped else []),
        "INSERT INTO footnote_references (accession_number, footnote_id, table_name, "
        "sequence, column_name) SELECT * FROM _half_refs"]
    steps[_HASHES] = [_filings(layouts[SUBMISSION.name], source_name)]
    if [name for name in steps if name != _HASHES] != [t.name for t in ROUTING_ORDER]:
        raise RuntimeError("the steps are not in the order the router hands the tables over")
    if children_first:
        return steps
    # The filings before any child row (foreign keys), after the owners they list.
    ordered = [step for name in steps for step in steps[name]]
    filings = ordered.pop()
    checks = [step for step in ordered if isinstance(step, _Check)]
    rest = [step for step in ordered if not isinstance(step, _Check) and step != owners_table]
    return {_HASHES: [*checks, owners_table, filings, *rest]}


# The half's latest-name candidates, from its own rows (a join with filings, which holds
# all of history, was read whole: 3 s at 4.3 million filings), kept past the commit for the
# names' transaction: the issuers' as the filings are stored (_filings), the owners' with
# their filing's. As upsert_dataset_names reads them from stored filings.
_NAME_TABLES = ("_half_issuer_names", "_half_owner_names")
_OWNER_NAMES = (
    f"INSERT INTO {_NAME_TABLES[1]} ({', '.join(PersonRow._fields)}) SELECT o.rpt_owner_cik, "
    "o.rpt_owner_name, i.as_of, i.last_accession_number, i.k_filed, i.k_period "
    f"FROM _half_owners o JOIN {_NAME_TABLES[0]} i ON i.last_accession_number = "
    "o.accession_number WHERE o.rpt_owner_cik IS NOT NULL")
_NAME_CANDIDATES = (
    f"SELECT {', '.join(IssuerRow._fields)} FROM {_NAME_TABLES[0]} WHERE cik IS NOT NULL",
    f"SELECT {', '.join(PersonRow._fields)} FROM {_NAME_TABLES[1]}",
)


# A writer's transaction: its temp tables (about half the quarter's text, ~100 MB for 60,000
# filings) and the sorts and hashes over them held in memory, not spilled to files (the
# defaults, 8 MB and 4 MB, did, for a third of the writers' time); no JIT compilation for
# these one-off statements (it cost more than it saved).
_WRITER_SETTINGS = ("temp_buffers = '256MB'", "work_mem = '128MB'", "jit = off")


def _write(conn: psycopg.Connection, layouts: dict[str, _Layout], feed: _Feed,
           source_name: str, agreement: threading.Barrier) -> None:
    """One writer's filings in one transaction: staged and written as the router hands
    the tables over (``_plan``), then, once the other writer has written its own without
    error (``agreement``: broken when it failed), their analyst rows; committed, their
    latest names in a transaction of their own."""
    with conn.transaction():
        cur = conn.cursor()
        for setting in _WRITER_SETTINGS:
            cur.execute(f"SET LOCAL {setting}")
        for name, persons in zip(_NAME_TABLES, (False, True), strict=True):
            cur.execute(name_candidates_table(name, persons=persons))
        with ExitStack() as checks_skipped:
            # Each child row comes from its own filing's rows, written in this transaction:
            # the foreign-key check cannot fail (see ingest.load).
            children_first = checks_skipped.enter_context(reference_checks_skipped(cur))
            for name in _staged(cur, layouts, feed):
                if name == _HASHES:
                    checks_skipped.close()  # the filings (and what follows) as usual
                # Written now: a table's statements read whether its values hold line
                # breaks (_Layout.joined), which the router learns as it reads the table.
                for step in _plan(layouts, source_name, children_first).get(name, ()):
                    if isinstance(step, _Check):
                        if cur.execute(step.query).fetchone():
                            raise NotForServer(step.what)
                    else:
                        cur.execute(step)
        accessions = [a for (a,) in cur.execute(f"SELECT f0 FROM {_half_name(SUBMISSION)}")]
        cur.execute(_OWNER_NAMES)
        # Before the analyst rows' advisory lock, which the other writer may wait for: a
        # bad value in either half rolls both back.
        agreement.wait()
        refresh_analyst_rows(cur, accessions)
    # The latest names once the half is committed, in a transaction of their own (module
    # docstring), while the other writer may still refresh its analyst rows.
    with conn.transaction():
        upsert_name_candidates(cur, *_NAME_CANDIDATES)
        cur.execute(f"DROP TABLE {', '.join(_NAME_TABLES)}")


def connection_like(conn: psycopg.Connection) -> psycopg.Connection:
    """Another connection to ``conn``'s database, as the same user (password included)."""
    options = {o.keyword.decode(): o.val.decode() for o in conn.pgconn.info if o.val is not None}
    return psycopg.connect(psycopg.conninfo.make_conninfo(**options), autocommit=True)


def store_on_server(
    conn: psycopg.Connection, dataset: QuarterFile, *, writers: int = 2,
    connect: Callable[[psycopg.Connection], psycopg.Connection] | None = None,
) -> ServerLoad:
    """Store the quarter's filings from its zip, mapped by the server (module docstring),
    over ``writers`` new connections to ``conn``'s database (1 or 2).

    Raises :class:`NotForServer` before writing anything when the quarter is one for the
    Python reader."""
    started = time.monotonic()
    connect = connect or connection_like
    layouts = {t.name: _Layout(t, dataset.header(t)) for t in DATASET_TABLES}
    # The writers wait for each other once their rows are written: each goes on only when
    # neither failed (a failed writer breaks the barrier: the other rolls back).
    agreement = threading.Barrier(writers)
    feeds: list[_Feed] = [queue.SimpleQueue() for _ in range(writers)]
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            with connect(conn) as other:
                _write(other, layouts, feeds[writer], dataset.source_name, agreement)
        except BaseException as exc:  # noqa: BLE001 - raised again below
            failures.append(exc)
            agreement.abort()

    threads = [threading.Thread(target=write, args=(n,), daemon=True,
                                name=f"dataset writer {dataset.quarter}/{n}")
               for n in range(writers)]
    for thread in threads:
        thread.start()
    router = _Router(dataset, layouts, writers)
    try:
        # Each table handed over as soon as it is read: the writers COPY it while the
        # next one is read.
        for table, bodies in router.bodies():
            for feed, rows in zip(feeds, bodies, strict=True):
                feed.put((table.name, rows))
        for feed, rows in zip(feeds, router.hashes(), strict=True):
            feed.put((_HASHES, rows))
    except BaseException as exc:
        for feed in feeds:
            feed.put(exc)
        raise
    finally:
        read = time.monotonic()
        for thread in threads:
            thread.join()
    for failure in failures:  # the first cause, not the other writer's broken barrier
        if not isinstance(failure, threading.BrokenBarrierError):
            raise failure
    if failures:
        raise failures[0]
    return ServerLoad(len(router.writer_of), router.rows, read - started,
                      time.monotonic() - read)
