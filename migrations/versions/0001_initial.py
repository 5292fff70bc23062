"""Initial schema: filings, their child tables, issuers/persons, errors.

Frozen: the column lists are written out here rather than read from the catalog in
``ingest.records``, so that growing the catalog later needs a new migration and never
silently changes what this one creates.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_NOW = sa.text("now()")


def _accession_fk() -> sa.Column:
    return sa.Column(
        "accession_number",
        sa.Text(),
        sa.ForeignKey("filings.accession_number", ondelete="CASCADE"),
        nullable=False,
    )


def _transaction_columns() -> list[sa.Column]:
    return [
        sa.Column("transaction_date", sa.Date()),
        sa.Column("deemed_execution_date", sa.Date()),
        sa.Column("transaction_form_type", sa.Text()),
        sa.Column("transaction_code", sa.Text()),
        sa.Column("equity_swap_involved", sa.Boolean()),
        sa.Column("transaction_timeliness", sa.Text()),
        sa.Column("transaction_shares", sa.Numeric()),
        sa.Column("transaction_total_value", sa.Numeric()),
        sa.Column("transaction_price_per_share", sa.Numeric()),
        sa.Column("transaction_acquired_disposed_code", sa.Text()),
    ]


def _underlying_columns() -> list[sa.Column]:
    return [
        sa.Column("exercise_date", sa.Date()),
        sa.Column("expiration_date", sa.Date()),
        sa.Column("underlying_security_title", sa.Text()),
        sa.Column("underlying_security_shares", sa.Numeric()),
        sa.Column("underlying_security_value", sa.Numeric()),
    ]


def _post_and_nature_columns() -> list[sa.Column]:
    return [
        sa.Column("shares_owned_following_transaction", sa.Numeric()),
        sa.Column("value_owned_following_transaction", sa.Numeric()),
        sa.Column("direct_or_indirect_ownership", sa.Text()),
        sa.Column("nature_of_ownership", sa.Text()),
    ]


def _entry_table(name: str, columns: list[sa.Column]) -> None:
    op.create_table(
        name,
        _accession_fk(),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("security_title", sa.Text()),
        *columns,
        sa.PrimaryKeyConstraint("accession_number", "sequence", name=f"{name}_pkey"),
    )


def upgrade() -> None:
    op.create_table(
        "filings",
        sa.Column("accession_number", sa.Text(), nullable=False),
        sa.Column("form_type", sa.Text()),
        sa.Column("schema_version", sa.Text()),
        sa.Column("document_type", sa.Text()),
        sa.Column("period_of_report", sa.Date()),
        sa.Column("date_of_original_submission", sa.Date()),
        sa.Column("no_securities_owned", sa.Boolean()),
        sa.Column("not_subject_to_section16", sa.Boolean()),
        sa.Column("form3_holdings_reported", sa.Boolean()),
        sa.Column("form4_transactions_reported", sa.Boolean()),
        sa.Column("aff10b5_one", sa.Boolean()),
        sa.Column("remarks", sa.Text()),
        sa.Column("issuer_cik", sa.BigInteger()),
        sa.Column("issuer_name", sa.Text()),
        sa.Column("issuer_trading_symbol", sa.Text()),
        sa.Column("issuer_foreign_trading_symbol", sa.Text()),
        sa.Column("filed_date", sa.Date()),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("header_period", sa.Date()),
        sa.Column("filer_ciks", postgresql.ARRAY(sa.BigInteger())),
        sa.Column("parsed", sa.Boolean(), nullable=False),
        sa.Column("parse_error", sa.Text()),
        sa.Column("source_kind", sa.Text(), nullable=False),
        sa.Column("source_name", sa.Text()),
        sa.Column("raw_sha256", sa.Text(), nullable=False),
        sa.Column("parser_version", sa.Integer(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("accession_number", name="filings_pkey"),
    )
    op.create_index("ix_filings_issuer_cik", "filings", ["issuer_cik"])
    op.create_index("ix_filings_filed_date", "filings", ["filed_date"])
    op.create_index("ix_filings_period_of_report", "filings", ["period_of_report"])

    op.create_table(
        "raw_submissions",
        _accession_fk(),
        sa.Column("compression", sa.Text()),
        sa.Column("raw_size", sa.Integer()),
        sa.Column("raw", sa.LargeBinary()),
        sa.Column("sha256", sa.Text()),
        sa.PrimaryKeyConstraint("accession_number", name="raw_submissions_pkey"),
    )
    # Already gzip-compressed: keep PostgreSQL from trying to compress it again (TOAST).
    op.execute("ALTER TABLE raw_submissions ALTER COLUMN raw SET STORAGE EXTERNAL")

    op.create_table(
        "issuers",
        sa.Column("cik", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("trading_symbol", sa.Text()),
        sa.Column("as_of", sa.Date()),
        sa.Column("last_accession_number", sa.Text()),
        sa.PrimaryKeyConstraint("cik", name="issuers_pkey"),
    )
    op.create_index("ix_issuers_trading_symbol", "issuers", ["trading_symbol"])

    op.create_table(
        "persons",
        sa.Column("cik", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("as_of", sa.Date()),
        sa.Column("last_accession_number", sa.Text()),
        sa.PrimaryKeyConstraint("cik", name="persons_pkey"),
    )

    op.create_table(
        "filing_owners",
        _accession_fk(),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("rpt_owner_cik", sa.BigInteger()),
        sa.Column("rpt_owner_name", sa.Text()),
        sa.Column("rpt_owner_street1", sa.Text()),
        sa.Column("rpt_owner_street2", sa.Text()),
        sa.Column("rpt_owner_city", sa.Text()),
        sa.Column("rpt_owner_state", sa.Text()),
        sa.Column("rpt_owner_zip_code", sa.Text()),
        sa.Column("rpt_owner_state_description", sa.Text()),
        sa.Column("rpt_owner_country", sa.Text()),
        sa.Column("rpt_owner_non_us_state_territory", sa.Text()),
        sa.Column("rpt_owner_non_us_address_flag", sa.Boolean()),
        sa.Column("rpt_owner_good_address", sa.Boolean()),
        sa.Column("is_director", sa.Boolean()),
        sa.Column("is_officer", sa.Boolean()),
        sa.Column("is_ten_percent_owner", sa.Boolean()),
        sa.Column("is_other", sa.Boolean()),
        sa.Column("officer_title", sa.Text()),
        sa.Column("other_text", sa.Text()),
        sa.PrimaryKeyConstraint("accession_number", "sequence", name="filing_owners_pkey"),
    )
    op.create_index("ix_filing_owners_rpt_owner_cik", "filing_owners", ["rpt_owner_cik"])

    _entry_table(
        "non_derivative_transactions",
        [*_transaction_columns(), *_post_and_nature_columns()],
    )
    _entry_table(
        "non_derivative_holdings",
        [sa.Column("transaction_form_type", sa.Text()), *_post_and_nature_columns()],
    )
    _entry_table(
        "derivative_transactions",
        [
            sa.Column("conversion_or_exercise_price", sa.Numeric()),
            *_transaction_columns(),
            *_underlying_columns(),
            *_post_and_nature_columns(),
        ],
    )
    _entry_table(
        "derivative_holdings",
        [
            sa.Column("conversion_or_exercise_price", sa.Numeric()),
            sa.Column("transaction_form_type", sa.Text()),
            *_underlying_columns(),
            *_post_and_nature_columns(),
        ],
    )
    for table in ("non_derivative_transactions", "derivative_transactions"):
        op.create_index(f"ix_{table}_transaction_date", table, ["transaction_date"])
        op.create_index(f"ix_{table}_transaction_code", table, ["transaction_code"])

    op.create_table(
        "footnotes",
        _accession_fk(),
        sa.Column("footnote_id", sa.Text(), nullable=False),
        sa.Column("text", sa.Text()),
        sa.PrimaryKeyConstraint("accession_number", "footnote_id", name="footnotes_pkey"),
    )

    op.create_table(
        "footnote_references",
        _accession_fk(),
        sa.Column("footnote_id", sa.Text(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("sequence", sa.Integer()),
        sa.Column("column_name", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_footnote_references_accession_number", "footnote_references", ["accession_number"]
    )

    op.create_table(
        "owner_signatures",
        _accession_fk(),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("signature_name", sa.Text()),
        sa.Column("signature_date", sa.Date()),
        sa.PrimaryKeyConstraint("accession_number", "sequence", name="owner_signatures_pkey"),
    )

    op.create_table(
        "unmapped_values",
        _accession_fk(),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text()),
        sa.Column("raw_value", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("accession_number", "sequence", name="unmapped_values_pkey"),
    )

    op.create_table(
        "ingest_errors",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),  # bigserial
        sa.Column("accession_number", sa.Text()),
        sa.Column("source_name", sa.Text()),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.PrimaryKeyConstraint("id", name="ingest_errors_pkey"),
    )
    op.create_index("ix_ingest_errors_accession_number", "ingest_errors", ["accession_number"])
    op.create_index("ix_ingest_errors_occurred_at", "ingest_errors", ["occurred_at"])


def downgrade() -> None:
    for table in (
        "ingest_errors",
        "unmapped_values",
        "owner_signatures",
        "footnote_references",
        "footnotes",
        "derivative_holdings",
        "derivative_transactions",
        "non_derivative_holdings",
        "non_derivative_transactions",
        "filing_owners",
        "persons",
        "issuers",
        "raw_submissions",
        "filings",
    ):
        op.drop_table(table)
