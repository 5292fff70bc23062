"""The database schema as SQLAlchemy Core tables, built from the column catalog.

Column names and kinds come from ``ingest.records`` (defined once); this module adds
only what the catalog does not say: keys, bookkeeping columns, foreign keys and
indexes. Migrations are frozen copies of this at the time they were written
(``migrations/versions``); ``tests/test_db.py`` checks that the migrated database and
these tables agree, so a catalog change without a migration fails the tests.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Text,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine

from ingest.records import (
    ENTRY_TABLES,
    FILING_COLUMNS,
    FILING_DOCUMENT_COLUMNS,
    FILING_LOAD_COLUMNS,
    LINE_FOOTNOTE_COLUMNS,
    OWNER_COLUMNS,
    TRANSACTION_TABLES,
    Kind,
)

metadata = MetaData()

# NUMERIC without precision: filings carry up to 4 decimals and values up to 1e12;
# unconstrained numeric stores them exactly (never float).
KIND_TYPES: dict[Kind, type[TypeEngine]] = {
    Kind.TEXT: Text,
    Kind.DATE: Date,
    Kind.NUMERIC: Numeric,
    Kind.BOOL: Boolean,
    Kind.CIK: BigInteger,
}

# PostgreSQL type names per kind, for COPY (psycopg needs them for binary COPY).
KIND_PG_TYPES: dict[Kind, str] = {
    Kind.TEXT: "text",
    Kind.DATE: "date",
    Kind.NUMERIC: "numeric",
    Kind.BOOL: "bool",
    Kind.CIK: "int8",
}


def catalog_columns(columns: dict[str, Kind]) -> list[Column]:
    """Nullable columns named and typed by the catalog."""
    return [Column(name, KIND_TYPES[kind]()) for name, kind in columns.items()]


def _accession_fk(primary_key: bool = True) -> Column:
    return Column(
        "accession_number",
        Text,
        ForeignKey("filings.accession_number", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


# filings: FILING_COLUMNS (what parsing fills) then FILING_LOAD_COLUMNS (what the loader adds),
# typed here; the catalog types the document-level leaves.
_FILING_COLUMN_TYPES: dict[str, Column] = {
    "accession_number": Column("accession_number", Text, primary_key=True),
    "form_type": Column("form_type", Text),
    **{column.name: column for column in catalog_columns(FILING_DOCUMENT_COLUMNS)},
    "filed_date": Column("filed_date", Date),
    "accepted_at": Column("accepted_at", DateTime(timezone=True)),
    "header_period": Column("header_period", Date),
    "filer_ciks": Column("filer_ciks", ARRAY(BigInteger)),
    "parsed": Column("parsed", Boolean, nullable=False),
    "parse_error": Column("parse_error", Text),
    "source_kind": Column("source_kind", Text, nullable=False),
    "source_name": Column("source_name", Text),
    "raw_sha256": Column("raw_sha256", Text, nullable=False),
    "parser_version": Column("parser_version", Integer, nullable=False),
}

filings = Table(
    "filings",
    metadata,
    *(_FILING_COLUMN_TYPES.pop(name) for name in (*FILING_COLUMNS, *FILING_LOAD_COLUMNS)),
    Column("ingested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True)),
    # issuer_cik alone is served by the (issuer_cik, ...) indexes (migration 0004).
    Index("ix_filings_filed_date", "filed_date"),
    Index("ix_filings_period_of_report", "period_of_report"),
    Index("ix_filings_issuer_filed_date", "issuer_cik", "filed_date"),
    Index("ix_filings_issuer_period", "issuer_cik", "period_of_report"),
)
if _FILING_COLUMN_TYPES:
    raise RuntimeError(f"filings columns typed but not listed in ingest.records: {_FILING_COLUMN_TYPES}")

raw_submissions = Table(
    "raw_submissions",
    metadata,
    _accession_fk(),
    Column("compression", Text),
    Column("raw_size", Integer),
    Column("raw", LargeBinary),
    Column("sha256", Text),
)

issuers = Table(
    "issuers",
    metadata,
    Column("cik", BigInteger, primary_key=True, autoincrement=False),
    Column("name", Text),
    Column("trading_symbol", Text),
    Column("as_of", Date),
    Column("last_accession_number", Text),
    Index("ix_issuers_trading_symbol", "trading_symbol"),
)

persons = Table(
    "persons",
    metadata,
    Column("cik", BigInteger, primary_key=True, autoincrement=False),
    Column("name", Text),
    Column("as_of", Date),
    Column("last_accession_number", Text),
)

filing_owners = Table(
    "filing_owners",
    metadata,
    _accession_fk(),
    Column("sequence", Integer, primary_key=True, autoincrement=False),
    *catalog_columns(OWNER_COLUMNS),
    Index("ix_filing_owners_cik_accession", "rpt_owner_cik", "accession_number"),
)


# Columns the database derives from other rows (never a value of a filing): no loader or
# comparison writes or reads them. ``superseded``: a later amendment restates the line
# (amended_lines.status, kept by refresh_analyst_rows; migration 0011).
DERIVED_COLUMNS = ("superseded",)
SUPERSEDED_COMMENT = (
    "True exactly when amended_lines.status of this line is 'superseded': a later amendment "
    "restates it (insider_trades leaves it out). Derived: set by refresh_analyst_rows and "
    "rebuild_analyst_rows, never by a filing."
)


# ingest.records.LINE_FOOTNOTE_COLUMNS: written by the loader with the line (computed from the
# filing's footnotes), unlike the derived columns; migration 0013.
LINE_FOOTNOTE_COMMENTS = {
    "footnote_ids": "Ids of the footnotes that annotate any value of this line, in footnote "
    "order (the number in the id, then the id): the ids of footnote_references of the line. "
    "Set by the loader from the filing.",
    "footnote_mentions_10b5_1": "True when the text of one of this line's footnotes mentions "
    "a Rule 10b5-1 plan (contains '10b5-1', any case). Set by the loader from the filing.",
}
if tuple(LINE_FOOTNOTE_COMMENTS) != LINE_FOOTNOTE_COLUMNS:
    raise RuntimeError("LINE_FOOTNOTE_COMMENTS must describe ingest.records.LINE_FOOTNOTE_COLUMNS")


def _entry_table(name: str, columns: dict[str, Kind]) -> Table:
    extra: list[Column | Index] = []
    if name in TRANSACTION_TABLES:
        extra = [
            Column("superseded", Boolean, nullable=False, server_default=false(),
                   comment=SUPERSEDED_COMMENT),
            Column("footnote_ids", ARRAY(Text), nullable=False, server_default="{}",
                   comment=LINE_FOOTNOTE_COMMENTS["footnote_ids"]),
            Column("footnote_mentions_10b5_1", Boolean, nullable=False, server_default=false(),
                   comment=LINE_FOOTNOTE_COMMENTS["footnote_mentions_10b5_1"]),
            Index(f"ix_{name}_transaction_date", "transaction_date"),
            Index(f"ix_{name}_code_date", "transaction_code", "transaction_date"),
        ]
    return Table(
        name,
        metadata,
        _accession_fk(),
        Column("sequence", Integer, primary_key=True, autoincrement=False),
        *catalog_columns(columns),
        *extra,
    )


entry_tables: dict[str, Table] = {
    name: _entry_table(name, columns) for name, columns in ENTRY_TABLES.items()
}

footnotes = Table(
    "footnotes",
    metadata,
    _accession_fk(),
    Column("footnote_id", Text, primary_key=True),
    Column("text", Text),
)

footnote_references = Table(
    "footnote_references",
    metadata,
    _accession_fk(primary_key=False),
    Column("footnote_id", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("sequence", Integer),  # NULL: table- or document-level reference
    Column("column_name", Text, nullable=False),
    Index("ix_footnote_references_row", "accession_number", "table_name", "sequence"),
)

owner_signatures = Table(
    "owner_signatures",
    metadata,
    _accession_fk(),
    Column("sequence", Integer, primary_key=True, autoincrement=False),
    Column("signature_name", Text),
    Column("signature_date", Date),
)

unmapped_values = Table(
    "unmapped_values",
    metadata,
    _accession_fk(),
    Column("sequence", Integer, primary_key=True, autoincrement=False),
    Column("path", Text),
    Column("raw_value", Text),
    Column("reason", Text),
)

# Not a child of filings: an error may concern a file that never became a filing,
# and errors are history that outlives re-ingest.
ingest_errors = Table(
    "ingest_errors",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("accession_number", Text),
    Column("source_name", Text),
    Column("stage", Text, nullable=False),
    Column("message", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_ingest_errors_accession_number", "accession_number"),
    Index("ix_ingest_errors_occurred_at", "occurred_at"),
)

# SEC's quarterly data sets (ingest/datasets.py). Neither is a child of filings: a loaded
# quarter and the differences found when a filing replaced its data-set rows are history.
dataset_quarters = Table(
    "dataset_quarters",
    metadata,
    Column("quarter", Text, primary_key=True),  # 2024q3
    Column("file_name", Text, nullable=False),  # 2024q3_form345.zip: its filings' source_name
    Column("zip_sha256", Text, nullable=False),
    Column("mapping_version", Integer, nullable=False),  # ingest.datasets.MAPPING_VERSION
    Column("columns", ARRAY(Text), nullable=False),  # TABLE.COLUMN of every column it had
    Column("filings", Integer, nullable=False),
    Column("rows", Integer, nullable=False),  # data-set rows, all tables
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

dataset_differences = Table(
    "dataset_differences",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("accession_number", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("row_key", Text),  # sequence, owner CIK, footnote id, signature name; NULL: filing
    Column("column_name", Text),  # NULL: the whole row is on one side only
    Column("dataset_value", Text),  # NULL: the data set has none
    Column("filing_value", Text),  # NULL: the filing has none
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_dataset_differences_accession_number", "accession_number"),
)

# Tables whose rows belong to one filing and are replaced with it (FK ON DELETE CASCADE).
CHILD_TABLES: tuple[Table, ...] = (
    raw_submissions,
    filing_owners,
    *entry_tables.values(),
    footnotes,
    footnote_references,
    owner_signatures,
    unmapped_values,
)

# Every table, in an order that is safe to create (parents first).
ALL_TABLES: tuple[Table, ...] = tuple(metadata.sorted_tables)
