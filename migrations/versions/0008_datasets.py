"""SEC's quarterly data sets: ``dataset_quarters`` and ``dataset_differences``.

Filings loaded from SEC's Insider Transactions Data Sets have ``source_kind = 'dataset'``
(ingest/datasets.py). ``dataset_quarters`` records each quarter loaded whole: the zip's
SHA-256 and the version of the mapping that read it (the same zip read the same way is
skipped when loaded again) and the columns its files had (what the data set
could carry, for the comparison below). ``dataset_differences`` keeps what differed when the
filing itself replaced its data-set rows (ingest/dataset_compare.py): a value, a row or a
footnote reference on one side only; nothing of the data set is dropped silently.

Neither table is a child of ``filings``: both are history, kept when a filing's rows are
replaced.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "dataset_quarters",
        sa.Column("quarter", sa.Text(), primary_key=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("zip_sha256", sa.Text(), nullable=False),
        sa.Column("mapping_version", sa.Integer(), nullable=False),
        sa.Column("columns", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("filings", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )
    op.create_table(
        "dataset_differences",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("accession_number", sa.Text(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("row_key", sa.Text()),
        sa.Column("column_name", sa.Text()),
        sa.Column("dataset_value", sa.Text()),
        sa.Column("filing_value", sa.Text()),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )
    op.create_index(
        "ix_dataset_differences_accession_number", "dataset_differences", ["accession_number"]
    )


def downgrade() -> None:
    op.drop_table("dataset_differences")
    op.drop_table("dataset_quarters")
