"""Load stage: ParsedFiling batches -> PostgreSQL, fast, idempotent and atomic.

Takes ``LoadItem``s (rows built by ``ingest.rows``, usually in a parse worker) or
``ParsedFiling``s (rows built here). One batch = one transaction:

1. read the stored (sha256, parser_version, source_kind) of the batch's accessions and
   decide per filing: new (``loaded``), ``replaced`` or ``unchanged`` (no writes at all);
2. delete the child rows of the filings being replaced (one statement, set-based);
3. COPY (binary) the filings into a TEMP staging table and upsert them (keeps
   ``ingested_at``; a batch of new filings only is COPYed straight into ``filings``),
   COPY every child table's rows straight into place (as a superuser, without the
   server's per-row foreign-key check, which cannot fail there: see
   ``_CAN_SKIP_REFERENCE_CHECKS``);
4. upsert ``issuers``/``persons`` keeping the values of the newest filing (COPYed into
   temp tables first), and refresh the filings' analyst rows; a ``deferred`` loader, whose
   caller's transaction spans many batches, does step 4 once, in :meth:`Loader.finish`.

If the batch fails at the database (bad value, constraint, NUL in text), it is retried
one filing at a time, each in a savepoint: the bad filing gets an ``ingest_errors`` row
(stage 'load') and the others land. A filing is either wholly stored or not at all.

The run loop (``ingest.pipeline``) calls :meth:`Loader.write` with a batch of outcomes: the
filings, the ``ingest_errors`` of the batch's failures and the source's bookkeeping (the
queue's statuses) commit in ONE transaction, so a kill between them cannot leave them
disagreeing. :meth:`Loader.load` is the filings part alone: give it an autocommit connection
and it commits each batch itself, or call it inside your own ``conn.transaction()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import postgres, sql
from psycopg.adapt import Transformer
from psycopg.pq import Format, TransactionStatus
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from models import schema

from .analyst import refresh_analyst_rows
from .dataset_compare import record_differences
from .errors import connection_lost
from .records import FILING_COLUMNS, FILING_LOAD_COLUMNS, PARSER_VERSION, ParsedFiling, is_parse_problem
from .rows import CHILD_TABLE_NAMES, PLACEHOLDER_TICKERS, EncodedRows, IssuerRow, PersonRow
from .worker import LoadItem, Outcome, Stage, Status, pack_raw, prepare

try:  # psycopg's own encoder of one COPY BINARY row (in C with psycopg[binary])
    from psycopg._copy_base import format_row_binary
except ImportError:  # not where psycopg 3.2-3.3 keeps it: rows are handed over unencoded
    format_row_binary = None

__all__ = ["LoadItem", "LoadResult", "Loader", "encode_children", "prepare"]

log = logging.getLogger(__name__)

XML_NEVER_REPLACES = "kept the stored full submission: a bare XML never replaces it"
DATASET_NEVER_REPLACES = "kept the filing's own rows: a data-set row never replaces them"

# Which copy of a filing wins (higher first): the full submission carries strictly more than
# its bare XML (header, filed date, acceptance time), and either is the filing itself, where
# a quarterly data set ('dataset', ingest/datasets.py) is SEC's rounded extract of it.
SOURCE_RANK = {"submission": 2, "xml": 1, "dataset": 0}


@dataclass(slots=True)
class LoadResult:
    accession_number: str
    status: Status
    message: str | None = None
    source_name: str | None = None


def _as_item(entry: ParsedFiling | LoadItem) -> LoadItem:
    """A parsed filing handed in directly (same process): its rows are built now, its raw
    bytes compressed only if they are stored."""
    return entry if isinstance(entry, LoadItem) else prepare(entry, compress=False)


# ---------------------------------------------------------------------------
# COPY layouts: (table, columns, PostgreSQL types), from models.schema
# ---------------------------------------------------------------------------

_PG_TYPE_NAMES = {
    "TEXT": "text",
    "DATE": "date",
    "NUMERIC": "numeric",
    "BOOLEAN": "bool",
    "BIGINT": "int8",
    "INTEGER": "int4",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "BIGINT[]": "int8[]",
    "TEXT[]": "text[]",
    "BYTEA": "bytea",
}


@dataclass(frozen=True, slots=True)
class _CopyLayout:
    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]

    def statement(self, into: str | None = None) -> sql.Composed:
        return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(into or self.table),
            sql.SQL(", ").join(map(sql.Identifier, self.columns)),
        )


def _layout(table: Table, exclude: Iterable[str] = ()) -> _CopyLayout:
    dialect = postgresql.dialect()
    skip = set(exclude)
    cols = [c for c in table.columns if c.name not in skip]
    return _CopyLayout(
        table=table.name,
        columns=tuple(c.name for c in cols),
        types=tuple(_PG_TYPE_NAMES[c.type.compile(dialect=dialect)] for c in cols),
    )


FILINGS_LAYOUT = _layout(schema.filings, exclude=("ingested_at", "updated_at"))
RAW_LAYOUT = _layout(schema.raw_submissions)
OWNERS_LAYOUT = _layout(schema.filing_owners)
ENTRY_LAYOUTS = {
    name: _layout(table, exclude=schema.DERIVED_COLUMNS)
    for name, table in schema.entry_tables.items()
}
FOOTNOTES_LAYOUT = _layout(schema.footnotes)
FOOTNOTE_REFS_LAYOUT = _layout(schema.footnote_references)
SIGNATURES_LAYOUT = _layout(schema.owner_signatures)
UNMAPPED_LAYOUT = _layout(schema.unmapped_values)

# The child tables in the order rows are written (owners first, as in the document).
CHILD_LAYOUTS: tuple[_CopyLayout, ...] = (
    OWNERS_LAYOUT,
    *ENTRY_LAYOUTS.values(),
    FOOTNOTES_LAYOUT,
    FOOTNOTE_REFS_LAYOUT,
    SIGNATURES_LAYOUT,
    UNMAPPED_LAYOUT,
)
if tuple(layout.table for layout in CHILD_LAYOUTS) != CHILD_TABLE_NAMES:
    raise RuntimeError("ingest.rows builds rows for other tables than models.schema defines")
if any(layout.columns[0] != "accession_number" for layout in CHILD_LAYOUTS):
    raise RuntimeError("every child table's first column must be its filing's accession number")
if FILINGS_LAYOUT.columns != (*FILING_COLUMNS, *FILING_LOAD_COLUMNS):
    raise RuntimeError("models.schema's filings columns are not ingest.records' FILING_COLUMNS")

_STAGING = "_stg_filings"

# The child tables' foreign keys to filings are checked by the server once per row (a
# trigger and an index probe of filings each: two thirds of the server's cost of a child
# COPY). A child row written here belongs, by construction and checked in Python
# (_check_accessions), to a filing upserted a moment before in the same transaction, which
# holds that row locked until commit: the check cannot fail, so it is skipped for the COPY
# where allowed (session_replication_role = replica, which needs a superuser) and where the
# child tables have no triggers of their own, which that setting would skip too. Otherwise
# the server checks as usual.
_CHILD_TABLE_OIDS = ", ".join(f"'{layout.table}'::regclass" for layout in CHILD_LAYOUTS)
_CAN_SKIP_REFERENCE_CHECKS = f"""
SELECT current_setting('is_superuser') = 'on'
       AND NOT EXISTS (SELECT 1 FROM pg_trigger
                       WHERE tgrelid IN ({_CHILD_TABLE_OIDS}) AND NOT tgisinternal)
"""
_SKIP_REFERENCE_CHECKS = (
    "SELECT current_setting('session_replication_role'), "
    "set_config('session_replication_role', 'replica', true)"
)
_RESTORE_REFERENCE_CHECKS = "SELECT set_config('session_replication_role', %s, true)"


def reference_checks_skippable(cur: psycopg.Cursor) -> bool:
    """Whether this session may write child rows without the server's per-row foreign-key
    check (see above); a writer of child rows decides it once per connection."""
    return bool(cur.execute(_CAN_SKIP_REFERENCE_CHECKS).fetchone()[0])


@contextmanager
def reference_checks_skipped(cur: psycopg.Cursor) -> Iterator[bool]:
    """Child rows of filings written in this transaction without the foreign-key check,
    where ``reference_checks_skippable`` (whether it is: the value; restored on leaving)."""
    if not reference_checks_skippable(cur):
        yield False
        return
    before = cur.execute(_SKIP_REFERENCE_CHECKS).fetchone()[0]
    yield True
    cur.execute(_RESTORE_REFERENCE_CHECKS, (before,))

_UPSERT_FILINGS = sql.SQL(
    "INSERT INTO filings ({cols}) SELECT {cols} FROM {stg} "
    "ON CONFLICT (accession_number) DO UPDATE SET {sets}, updated_at = now()"
).format(
    cols=sql.SQL(", ").join(map(sql.Identifier, FILINGS_LAYOUT.columns)),
    stg=sql.Identifier(_STAGING),
    sets=sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
        for c in FILINGS_LAYOUT.columns
        if c != "accession_number"
    ),
)

# The ordering key of a stored filing: (filed date, period, accession), NULL dates lowest.
_FILING_KEY_PARTS = (
    "COALESCE(f.filed_date, '-infinity'::date)",
    "COALESCE(f.period_of_report, f.header_period, '-infinity'::date)",
    "f.accession_number",
)
_FILING_KEY = (
    f"(SELECT ROW({', '.join(_FILING_KEY_PARTS)}) FROM filings f WHERE f.accession_number = {{acc}})"
)


# Types of the latest-name candidates' fields (ingest.rows.IssuerRow / PersonRow).
_CANDIDATE_TYPES = {
    "cik": "int8", "name": "text", "trading_symbol": "text", "as_of": "date",
    "last_accession_number": "text", "k_filed": "date", "k_period": "date",
}
_ORDERING_KEY = ("k_filed", "k_period")


@dataclass(frozen=True, slots=True)
class _Candidates:
    """A batch's latest-name candidates for ``table``: COPYed (binary) into a temp table, then
    upserted set-based (psycopg dumps COPY rows in C; arrays for unnest() cost it ~10x more)."""

    table: str
    fields: tuple[str, ...]

    @property
    def staging(self) -> str:
        return f"_stg_{self.table}"

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(_CANDIDATE_TYPES[f] for f in self.fields)

    def create_staging(self) -> str:
        return f"CREATE TEMP TABLE IF NOT EXISTS {self.staging} {self.columns()} ON COMMIT DELETE ROWS"

    def columns(self) -> str:
        return "(" + ", ".join(f"{f} {_CANDIDATE_TYPES[f]}" for f in self.fields) + ")"

    def copy(self) -> str:
        return f"COPY {self.staging} ({', '.join(self.fields)}) FROM STDIN (FORMAT BINARY)"

    def upsert(self) -> str:
        """Upsert one row per CIK from the candidates, keeping the values from the newest
        filing.

        Within the batch DISTINCT ON picks the newest candidate; against the stored row the
        WHERE compares the two filings' keys (the batch's filings are already upserted, so
        both are visible). An equal key means the same filing re-loaded: take its values.
        """
        cols = [f for f in self.fields if f not in _ORDERING_KEY]
        existing_key = _FILING_KEY.format(acc="cur.last_accession_number")
        new_key = _FILING_KEY.format(acc="EXCLUDED.last_accession_number")
        return (
            f"INSERT INTO {self.table} AS cur ({', '.join(cols)}) "
            f"SELECT DISTINCT ON (c.cik) {', '.join('c.' + c for c in cols)} "
            f"FROM {self.staging} AS c "
            "ORDER BY c.cik, c.k_filed DESC NULLS LAST, c.k_period DESC NULLS LAST, "
            "c.last_accession_number DESC "
            "ON CONFLICT (cik) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[1:])
            + " WHERE cur.last_accession_number IS NULL"
            f" OR {existing_key} IS NULL"
            f" OR {existing_key} <= {new_key}"
        )


_ISSUER_CANDIDATES = _Candidates("issuers", IssuerRow._fields)
_PERSON_CANDIDATES = _Candidates("persons", PersonRow._fields)
_UPSERT_LATEST = tuple((c, c.upsert()) for c in (_ISSUER_CANDIDATES, _PERSON_CANDIDATES))


# A replaced filing may no longer name an issuer or person whose latest values it supplied
# (a corrected filing under another CIK): that row is pointed at its newest remaining
# filing, or keeps its values with no pointer when none is left.
_NEWEST_FIRST = ", ".join(f"{part} DESC" for part in _FILING_KEY_PARTS)  # by _FILING_KEY
_AS_OF = "COALESCE(f.filed_date, f.period_of_report, f.header_period)"
_PLACEHOLDERS_SQL = ", ".join("'" + t.replace("'", "''") + "'" for t in sorted(PLACEHOLDER_TICKERS))


def _ticker_sql(symbol: str) -> str:
    """ingest.rows.issuer_ticker in SQL: trimmed, none when blank or a placeholder."""
    return (f"CASE WHEN upper(btrim({symbol})) IN ({_PLACEHOLDERS_SQL}) THEN NULL "
            f"ELSE nullif(btrim({symbol}), '') END")


_NAMED_BY = """
SELECT ARRAY(SELECT issuer_cik FROM filings
             WHERE accession_number = ANY(%(accs)s) AND issuer_cik IS NOT NULL),
       ARRAY(SELECT rpt_owner_cik FROM filing_owners
             WHERE accession_number = ANY(%(accs)s) AND rpt_owner_cik IS NOT NULL
             UNION SELECT unnest(filer_ciks) FROM filings WHERE accession_number = ANY(%(accs)s))
"""
_REPOINT_ISSUERS = f"""
WITH stale AS (
    SELECT i.cik FROM issuers i JOIN filings f ON f.accession_number = i.last_accession_number
    WHERE i.cik = ANY(%(ciks)s) AND i.last_accession_number = ANY(%(accs)s)
      AND f.issuer_cik IS DISTINCT FROM i.cik
), newest AS (
    SELECT DISTINCT ON (f.issuer_cik) f.issuer_cik AS cik, f.issuer_name AS name,
           {_ticker_sql("f.issuer_trading_symbol")} AS symbol, {_AS_OF} AS as_of,
           f.accession_number
    FROM filings f WHERE f.issuer_cik IN (SELECT cik FROM stale)
    ORDER BY f.issuer_cik, {_NEWEST_FIRST}
)
UPDATE issuers i SET
    name = CASE WHEN n.cik IS NULL THEN i.name ELSE n.name END,
    trading_symbol = CASE WHEN n.cik IS NULL THEN i.trading_symbol ELSE n.symbol END,
    as_of = CASE WHEN n.cik IS NULL THEN i.as_of ELSE n.as_of END,
    last_accession_number = n.accession_number
FROM stale s LEFT JOIN newest n ON n.cik = s.cik
WHERE i.cik = s.cik
"""
_REPOINT_PERSONS = f"""
WITH stale AS (
    SELECT p.cik FROM persons p
    WHERE p.cik = ANY(%(ciks)s) AND p.last_accession_number = ANY(%(accs)s)
      AND NOT EXISTS (SELECT 1 FROM filing_owners o
                      WHERE o.accession_number = p.last_accession_number AND o.rpt_owner_cik = p.cik)
      AND NOT EXISTS (SELECT 1 FROM filings f  -- an unparsed filing names owners in its header
                      WHERE f.accession_number = p.last_accession_number AND NOT f.parsed
                        AND p.cik = ANY(f.filer_ciks))
), newest AS (
    SELECT DISTINCT ON (o.rpt_owner_cik) o.rpt_owner_cik AS cik, o.rpt_owner_name AS name,
           {_AS_OF} AS as_of, f.accession_number
    FROM filing_owners o JOIN filings f USING (accession_number)
    WHERE o.rpt_owner_cik IN (SELECT cik FROM stale)
    ORDER BY o.rpt_owner_cik, {_NEWEST_FIRST}
)
UPDATE persons p SET
    name = CASE WHEN n.cik IS NULL THEN p.name ELSE n.name END,
    as_of = CASE WHEN n.cik IS NULL THEN p.as_of ELSE n.as_of END,
    last_accession_number = n.accession_number
FROM stale s LEFT JOIN newest n ON n.cik = s.cik
WHERE p.cik = s.cik
"""

def issuer_candidate_sql(f: str) -> str:
    """The fields of ``IssuerRow``, in order, for the stored ``filings`` row ``f`` (an alias):
    its issuer's name and ticker as ingest.rows.issuer_row makes them."""
    return (f"{f}.issuer_cik, {f}.issuer_name, {_ticker_sql(f + '.issuer_trading_symbol')}, "
            f"coalesce({f}.filed_date, {f}.period_of_report), {f}.accession_number, "
            f"{f}.filed_date, {f}.period_of_report")


# The latest-name candidates a stored data-set filing proposes (its issuer, its owners: as
# ingest.rows.issuer_row / person_row make them from its rows), read back from its rows:
# SELECTs of the fields of IssuerRow and PersonRow, in order.
_DATASET_NAME_CANDIDATES = (
    f"SELECT {issuer_candidate_sql('f')} FROM filings f "
    "WHERE f.accession_number = ANY(%(accs)s) AND f.issuer_cik IS NOT NULL",
    "SELECT o.rpt_owner_cik, o.rpt_owner_name, coalesce(f.filed_date, f.period_of_report), "
    "f.accession_number, f.filed_date, f.period_of_report "
    "FROM filing_owners o JOIN filings f USING (accession_number) "
    "WHERE o.accession_number = ANY(%(accs)s) AND o.rpt_owner_cik IS NOT NULL",
)


def upsert_name_candidates(cur: psycopg.Cursor, issuers: str, persons: str,
                           params: dict[str, Any] | None = None) -> None:
    """``issuers``/``persons`` brought up to date with the candidates two SELECTs give (the
    fields of ``IssuerRow``, of ``PersonRow``, in order), as the loader upserts its own
    (a filing already counted changes nothing). In the caller's transaction."""
    for candidates, select in ((_ISSUER_CANDIDATES, issuers), (_PERSON_CANDIDATES, persons)):
        cur.execute(candidates.create_staging())
        cur.execute(f"INSERT INTO {candidates.staging} ({', '.join(candidates.fields)}) {select}",
                    params)
    for candidates, upsert in _UPSERT_LATEST:
        cur.execute(upsert)
        cur.execute(f"DELETE FROM {candidates.staging}")


def name_candidates_table(name: str, *, persons: bool) -> str:
    """A temp table ``name`` for candidates of ``persons`` (else ``issuers``): the fields of
    ``PersonRow`` (``IssuerRow``), typed as the loader's staging tables; kept past commit."""
    return f"CREATE TEMP TABLE {name} {(_PERSON_CANDIDATES if persons else _ISSUER_CANDIDATES).columns()}"


def upsert_dataset_names(cur: psycopg.Cursor, accessions: Sequence[str]) -> None:
    """``issuers``/``persons`` brought up to date with these stored data-set filings, as
    the loader would have when it wrote them: for the filings of a run that stopped before
    doing so (``ingest.dataset_server``). In the caller's transaction."""
    upsert_name_candidates(cur, *_DATASET_NAME_CANDIDATES, {"accs": list(accessions)})


# Child tables cleared when a filing is replaced (raw_submissions handled apart: kept
# when the bytes did not change, e.g. on reparse).
_REPLACED_CHILDREN = tuple(t.name for t in schema.CHILD_TABLES if t is not schema.raw_submissions)


def _delete_children_sql(tables: Sequence[str]) -> sql.Composed:
    """One round trip: every DELETE as a data-modifying CTE."""
    ctes = sql.SQL(", ").join(
        sql.SQL("d{} AS (DELETE FROM {} WHERE accession_number = ANY(%(accs)s))").format(
            sql.SQL(str(i)), sql.Identifier(t)
        )
        for i, t in enumerate(tables)
    )
    return sql.SQL("WITH {} SELECT 1").format(ctes)


_DELETE_CHILDREN = _delete_children_sql(_REPLACED_CHILDREN)
_DELETE_RAW = "DELETE FROM raw_submissions WHERE accession_number = ANY(%(accs)s)"


# ---------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Existing:
    sha256: str
    parser_version: int
    source_kind: str
    source_name: str | None


@dataclass(slots=True)
class _Plan:
    """What one write does to one filing."""

    index: int  # position in the caller's batch
    item: LoadItem
    status: Status
    write_raw: bool = True
    source_name: str | None = None
    message: str | None = None
    replaces_dataset: bool = False  # a filing taking the place of its data-set rows


class Loader:
    """Loads batches of parsed filings through one psycopg connection (autocommit)."""

    def __init__(self, conn: psycopg.Connection, *, deferred: bool = False) -> None:
        """``deferred``: the caller's one transaction spans many batches (a data-set quarter).
        The latest names and tickers in ``issuers``/``persons`` and the analyst rows of the
        filings written are then brought up to date once, by :meth:`finish`, which the caller
        calls before it commits, instead of batch by batch: a CIK named in many batches is
        upserted once, and the analyst rows are refreshed in one set-based pass (for a
        60,000-filing quarter, about half the server's cost of doing both per batch)."""
        self.conn = conn
        self.deferred = deferred
        self._written: list[str] = []  # deferred: accessions written, for finish()
        self._staged = False  # candidates may wait in the temp tables (see _flush_latest)
        self._skip_reference_checks: bool | None = None  # asked once: _CAN_SKIP_REFERENCE_CHECKS

    # -- public ---------------------------------------------------------------

    def load(
        self, batch: Sequence[ParsedFiling | LoadItem], *, force: bool = False
    ) -> list[LoadResult]:
        """Store a batch; one result per input, in input order.

        ``force`` replaces filings even when their bytes and parser version are
        unchanged (``reparse --all``); an XML still never replaces a full submission.

        Runs in one transaction, committed here when the connection had none open;
        inside a caller's transaction it nests (savepoints) and the caller commits, so
        other bookkeeping (e.g. a work queue) can commit atomically with the filings.
        """
        if self.deferred and self.conn.info.transaction_status is TransactionStatus.IDLE:
            # Each batch would commit alone, and the staged candidates with it be emptied.
            raise RuntimeError("a deferred Loader loads inside the caller's transaction only")
        items = [_as_item(entry) for entry in batch]
        results: list[LoadResult | None] = [None] * len(items)
        with self.conn.transaction():
            plans = self._load_items(items, results, force)
        for plan in plans:
            results[plan.index] = LoadResult(
                plan.item.accession_number, plan.status, plan.message, plan.source_name
            )
            if self.deferred and plan.status in (Status.LOADED, Status.REPLACED):
                self._written.append(plan.item.accession_number)
        return [r for r in results if r is not None]

    def finish(self) -> None:
        """A deferred loader (see ``__init__``): bring ``issuers``/``persons`` and the analyst
        rows up to date with every filing written since the last call, in the caller's
        transaction (the candidates wait in temp tables emptied at commit)."""
        if not self.deferred:
            return
        cur = self.conn.cursor()
        self._ensure_staging(cur)  # absent if every write so far was rolled back
        self._flush_latest(cur)
        if self._written:
            refresh_analyst_rows(cur, self._written)
            self._written = []

    def write(
        self,
        outcomes: Sequence[Outcome],
        *,
        force: bool = False,
        bookkeeping: Callable[[psycopg.Connection, Sequence[Outcome]], None] | None = None,
    ) -> None:
        """Store a batch of outcomes and all that is recorded about them, in one transaction.

        Each outcome holding an item to load gets its status (loaded, replaced, unchanged, or
        failed at stage 'load'); each failure gets its ``ingest_errors`` row; ``bookkeeping``
        (the source's: the work queue's statuses) runs last, in the same transaction.
        """
        ready = [o for o in outcomes if o.item is not None and o.status is None]
        with self.conn.transaction():
            results = self.load([o.item for o in ready], force=force) if ready else []
            for outcome, result in zip(ready, results, strict=True):
                outcome.status = Status(result.status)
                outcome.accession_number = result.accession_number
                outcome.source_name = result.source_name or outcome.source_name
                if outcome.status is Status.FAILED:
                    outcome.stage, outcome.error = Stage.LOAD, result.message
            failures = [
                (o.accession_number, o.source_name, (o.stage or Stage.LOAD).value, o.error)
                for o in outcomes
                if o.status in (Status.FAILED, Status.MISSING) and o.stage is not Stage.LOAD
            ]
            if failures:
                self._insert_errors(failures)
            if bookkeeping is not None:
                bookkeeping(self.conn, outcomes)

    # -- batch write ----------------------------------------------------------

    def _load_items(
        self, items: list[LoadItem], results: list[LoadResult | None], force: bool
    ) -> list[_Plan]:
        candidates: list[int] = []
        for index in _winners(items, results):
            problem = items[index].rows.nul_problem
            if problem:
                results[index] = self._fail(items[index], f"cannot store: {problem}")
            else:
                candidates.append(index)
        if not candidates:
            return []
        try:
            with self.conn.transaction():  # savepoint: the whole batch at once
                return self._write(items, candidates, force)
        except Exception as exc:
            if connection_lost(exc, self.conn):
                raise
            if len(candidates) == 1:
                results[candidates[0]] = self._fail(items[candidates[0]], _describe(exc))
                return []
            log.warning("batch of %d failed (%s); loading one at a time", len(candidates), exc)
        return self._load_one_by_one(items, candidates, force, results)

    def _load_one_by_one(
        self,
        items: list[LoadItem],
        candidates: list[int],
        force: bool,
        results: list[LoadResult | None],
    ) -> list[_Plan]:
        plans: list[_Plan] = []
        for index in candidates:
            try:
                with self.conn.transaction():  # savepoint per filing
                    plans.extend(self._write(items, [index], force))
            except Exception as exc:
                if connection_lost(exc, self.conn):
                    raise
                results[index] = self._fail(items[index], _describe(exc))
        return plans

    def _fail(self, item: LoadItem, message: str) -> LoadResult:
        """Record a filing that could not be stored (in the current transaction)."""
        acc = item.accession_number
        self._insert_errors([(acc, item.source_name, "load", message)])
        log.error("could not load %s: %s", acc, message)
        return LoadResult(acc, Status.FAILED, message, item.source_name)

    def _write(self, items: list[LoadItem], indexes: list[int], force: bool) -> list[_Plan]:
        plans = self._plan(items, indexes, force)
        writes = [p for p in plans if p.status in (Status.LOADED, Status.REPLACED)]
        if not writes:
            return plans
        cur = self.conn.cursor()
        replaced = [p.item.accession_number for p in writes if p.status is Status.REPLACED]
        if replaced:
            # Who the old versions named, read before their rows go (see _REPOINT_ISSUERS).
            old_issuers, old_persons = cur.execute(_NAMED_BY, {"accs": replaced}).fetchone()
            # Data-set rows about to be replaced by the filing: their differences are kept.
            record_differences(cur, [p.item.rows for p in writes if p.replaces_dataset])
            cur.execute(_DELETE_CHILDREN, {"accs": replaced})
            raw_gone = [
                p.item.accession_number
                for p in writes
                if p.status is Status.REPLACED and p.write_raw
            ]
            if raw_gone:
                cur.execute(_DELETE_RAW, {"accs": raw_gone})
        self._upsert_filings(cur, writes)
        self._copy_children(cur, writes)
        self._stage_latest(cur, writes)
        # Repointing reads issuers/persons as the upsert leaves them: never deferred past it.
        if not self.deferred or replaced:
            self._flush_latest(cur)
        if replaced:
            cur.execute(_REPOINT_ISSUERS, {"accs": replaced, "ciks": old_issuers})
            cur.execute(_REPOINT_PERSONS, {"accs": replaced, "ciks": old_persons})
        if not self.deferred:
            refresh_analyst_rows(cur, [p.item.accession_number for p in writes])
        parse_errors = [
            (p.item.accession_number, p.source_name, Stage.PARSE.value, p.item.parse_error)
            for p in writes
            if is_parse_problem(p.item.parse_error, p.item.rows.filed_date)
        ]
        if parse_errors:
            self._insert_errors(parse_errors, cur)
        return plans

    def _plan(self, items: list[LoadItem], indexes: list[int], force: bool) -> list[_Plan]:
        accs = [items[i].accession_number for i in indexes]
        # FOR UPDATE: a concurrent loader of the same accession waits for this batch.
        rows = self.conn.execute(
            "SELECT accession_number, raw_sha256, parser_version, source_kind, source_name "
            "FROM filings WHERE accession_number = ANY(%s) FOR UPDATE",
            (accs,),
        ).fetchall()
        existing = {r[0]: _Existing(r[1], r[2], r[3], r[4]) for r in rows}
        return [_decide(i, items[i], existing.get(items[i].accession_number), force)
                for i in indexes]

    def _upsert_filings(self, cur: psycopg.Cursor, writes: list[_Plan]) -> None:
        self._ensure_staging(cur)
        # Only new filings (a first load, a history quarter): COPY straight into filings.
        # _plan found none of them stored; one stored meanwhile by a concurrent loader
        # breaks the unique key, and the batch is retried one filing at a time (upserted).
        direct = all(plan.status is Status.LOADED for plan in writes)
        if not direct:
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(_STAGING)))
        with cur.copy(FILINGS_LAYOUT.statement(None if direct else _STAGING)) as copy:
            copy.set_types(FILINGS_LAYOUT.types)
            for plan in writes:
                copy.write_row(_filing_row(plan))
        if not direct:
            cur.execute(_UPSERT_FILINGS)
        raws = [p for p in writes if p.write_raw]
        if raws:
            with cur.copy(RAW_LAYOUT.statement()) as copy:
                copy.set_types(RAW_LAYOUT.types)
                for plan in raws:
                    copy.write_row(_raw_row(plan.item))

    def _ensure_staging(self, cur: psycopg.Cursor) -> None:
        # Issued every batch (a catalog lookup when they exist): a rolled-back transaction,
        # the caller's included, takes a temp table created in it away.
        cur.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} "
                "(LIKE filings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS; {}; {}"
            ).format(
                sql.Identifier(_STAGING),
                sql.SQL(_ISSUER_CANDIDATES.create_staging()),
                sql.SQL(_PERSON_CANDIDATES.create_staging()),
            )
        )

    def _copy_children(self, cur: psycopg.Cursor, writes: list[_Plan]) -> None:
        _check_accessions(writes)
        before = None
        if self._can_skip_reference_checks(cur):
            before = cur.execute(_SKIP_REFERENCE_CHECKS).fetchone()[0]
        for layout in CHILD_LAYOUTS:
            table_rows: list[tuple] = []
            encoded: list[bytes] = []
            for plan in writes:
                rows = plan.item.rows.children.get(layout.table, ())
                if isinstance(rows, EncodedRows):
                    encoded.append(rows.data)
                else:
                    table_rows.extend(rows)
            if table_rows:
                with cur.copy(layout.statement()) as copy:
                    copy.set_types(layout.types)
                    for row in table_rows:
                        copy.write_row(row)
            if encoded:
                with cur.copy(layout.statement()) as copy:
                    copy.write(b"".join((_BINARY_HEADER, *encoded, _BINARY_TRAILER)))
        # Back before anything else runs (an error before here rolls the savepoint back, and
        # the setting with it).
        if before is not None:
            cur.execute(_RESTORE_REFERENCE_CHECKS, (before,))

    def _can_skip_reference_checks(self, cur: psycopg.Cursor) -> bool:
        if self._skip_reference_checks is None:
            self._skip_reference_checks = reference_checks_skippable(cur)
        return self._skip_reference_checks

    def _stage_latest(self, cur: psycopg.Cursor, writes: list[_Plan]) -> None:
        """The batch's issuer and person candidates into the temp tables (see _Candidates)."""
        for candidates, rows in (
            (_ISSUER_CANDIDATES, [row for plan in writes for row in plan.item.rows.issuers]),
            (_PERSON_CANDIDATES, [row for plan in writes for row in plan.item.rows.persons]),
        ):
            if rows:
                self._staged = True
                with cur.copy(candidates.copy()) as copy:
                    copy.set_types(candidates.types)
                    for row in rows:
                        copy.write_row(row)

    def _flush_latest(self, cur: psycopg.Cursor) -> None:
        """Upsert the staged candidates into issuers/persons, then empty the temp tables."""
        if not self._staged:
            return
        for candidates, upsert in _UPSERT_LATEST:
            cur.execute(upsert)
            cur.execute(f"DELETE FROM {candidates.staging}")
        self._staged = False

    def _insert_errors(
        self, rows: list[tuple[Any, ...]], cur: psycopg.Cursor | None = None
    ) -> None:
        (cur or self.conn.cursor()).executemany(
            "INSERT INTO ingest_errors (accession_number, source_name, stage, message) "
            "VALUES (%s, %s, %s, %s)",
            [tuple(_strip_nul(v) for v in row) for row in rows],
        )


# ---------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------


def _winners(items: list[LoadItem], results: list[LoadResult | None]) -> list[int]:
    """Indexes of the copy to load per accession; the others are reported unchanged.

    The higher ``SOURCE_RANK`` wins (a submission beats its XML, either beats a data-set
    copy); among equals the last copy wins.
    """
    best: dict[str, int] = {}
    for index, item in enumerate(items):
        acc = item.accession_number
        previous = best.get(acc)
        if previous is None:
            best[acc] = index
            continue
        if _beats(items[previous], item):
            loser = index
        else:
            loser, best[acc] = previous, index
        results[loser] = LoadResult(
            acc,
            Status.UNCHANGED,
            "another copy of this accession in the same batch was loaded instead",
            items[loser].source_name,
        )
    return sorted(best.values())


def _beats(kept: LoadItem, challenger: LoadItem) -> bool:
    return SOURCE_RANK[kept.source_kind] > SOURCE_RANK[challenger.source_kind]


def _decide(index: int, item: LoadItem, existing: _Existing | None, force: bool) -> _Plan:
    # A data-set filing has no raw bytes to store (raw_sha256 hashes its data-set rows).
    has_raw = item.source_kind != "dataset"
    if existing is None:
        return _Plan(index, item, Status.LOADED, write_raw=has_raw, source_name=item.source_name)
    if existing.source_kind != "dataset" and item.source_kind == "dataset":
        return _Plan(index, item, Status.UNCHANGED, source_name=existing.source_name,
                     message=DATASET_NEVER_REPLACES)
    source_name = item.source_name or existing.source_name
    if existing.source_kind == "dataset" and item.source_kind != "dataset":
        # The filing itself, always: its rows replace the data set's (whatever the hashes).
        return _Plan(index, item, Status.REPLACED, source_name=item.source_name,
                     replaces_dataset=True)
    if existing.source_kind == "submission" and item.source_kind == "xml":
        return _Plan(index, item, Status.UNCHANGED, source_name=source_name, message=XML_NEVER_REPLACES)
    same_bytes = existing.sha256 == item.raw_sha256
    if existing.parser_version > PARSER_VERSION and not force:
        return _Plan(
            index,
            item,
            Status.UNCHANGED,
            source_name=source_name,
            message=f"stored by a newer parser (version {existing.parser_version})",
        )
    if same_bytes and existing.parser_version == PARSER_VERSION and not force:
        return _Plan(index, item, Status.UNCHANGED, source_name=source_name)
    return _Plan(index, item, Status.REPLACED, write_raw=has_raw and not same_bytes,
                 source_name=source_name)


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------


def _check_accessions(writes: list[_Plan]) -> None:
    """Every child row names its own filing: what makes the foreign-key check redundant
    (see _CAN_SKIP_REFERENCE_CHECKS). A row that does not fails its filing's write. Rows
    handed over encoded were checked before they were encoded (``encode_children``)."""
    for plan in writes:
        _check_rows(plan.item)


def _check_rows(item: LoadItem) -> None:
    accession = {item.accession_number}
    for table, rows in item.rows.children.items():
        if isinstance(rows, EncodedRows):
            continue
        stray = set(map(_FIRST, rows)) - accession
        if stray:
            raise ValueError(f"a {table} row of {item.accession_number} names {sorted(stray)[0]!r}")


# COPY BINARY framing (PostgreSQL documentation, COPY, "Binary Format"): the 11-byte
# signature, a 32-bit flags field and a 32-bit header extension length (both 0); a 16-bit -1
# after the last row.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"


def _type_oid(name: str) -> int:
    if name.endswith("[]"):
        return postgres.types[name[:-2]].array_oid
    return postgres.types[name].oid


class _RowEncoder:
    """One child table's rows -> ``EncodedRows``, as ``Copy.write_row`` would send them."""

    def __init__(self, layout: _CopyLayout) -> None:
        self._transformer = Transformer()
        self._transformer.set_dumper_types([_type_oid(t) for t in layout.types], Format.BINARY)

    def __call__(self, rows: Sequence[tuple]) -> EncodedRows:
        buffer = bytearray()
        for row in rows:
            format_row_binary(row, self._transformer, buffer)
        return EncodedRows(bytes(buffer), len(rows))


_ENCODERS: dict[str, _RowEncoder] = {}


def encode_children(item: LoadItem) -> LoadItem:
    """The item with its child rows encoded for COPY (``EncodedRows``), in place: what a
    reader in another process hands the loader. The loader does not read encoded rows, so
    they are checked here (``_check_rows``); an item that fails the check is left as it is,
    for the loader to refuse that filing alone."""
    if format_row_binary is None:
        return item
    try:
        _check_rows(item)
    except ValueError:
        return item
    if not _ENCODERS:
        _ENCODERS.update((layout.table, _RowEncoder(layout)) for layout in CHILD_LAYOUTS)
    children = item.rows.children
    for table, rows in children.items():
        if not isinstance(rows, EncodedRows):
            children[table] = _ENCODERS[table](rows)
    return item


_FIRST = itemgetter(0)


def _filing_row(plan: _Plan) -> tuple:
    item = plan.item
    return (*item.rows.filing, plan.source_name, item.raw_sha256, PARSER_VERSION)


def _raw_row(item: LoadItem) -> tuple:
    packed = item.raw_gzip
    if packed is None:
        if item.raw is None:  # prepare() always keeps one of the two
            raise ValueError("LoadItem holds neither the raw bytes nor their gzip copy")
        packed = pack_raw(item.raw)
    return (item.accession_number, "gzip", item.raw_size, packed, item.raw_sha256)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def _strip_nul(value: Any) -> Any:
    return value.replace("\x00", "\\x00") if isinstance(value, str) else value


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__

