"""Work queue for the EDGAR fetcher, and the log of index sources already discovered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NOW = sa.text("now()")


def upgrade() -> None:
    # Every discovered ownership filing is queued here before it is fetched, so a run
    # killed at any point can be started again and finish the work.
    op.create_table(
        "fetch_queue",
        sa.Column("accession_number", sa.Text(), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("form_type", sa.Text(), nullable=False),
        sa.Column("cik", sa.BigInteger()),
        sa.Column("company_name", sa.Text()),
        sa.Column("filed_date", sa.Date(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed', 'missing')", name="fetch_queue_status_check"
        ),
    )
    op.create_index("fetch_queue_status_filed_idx", "fetch_queue", ["status", "filed_date"])
    op.create_index("fetch_queue_filed_idx", "fetch_queue", ["filed_date"])

    # One row per index source read to the end (a day's daily index, a quarter's full
    # index, a CIK's submissions JSON): `sync` with no arguments starts the day after
    # the last daily index it has read.
    op.create_table(
        "discovered_sources",
        sa.Column("source", sa.Text(), primary_key=True),  # daily:2024-01-02, full:2024Q1, cik:320193
        sa.Column("kind", sa.Text(), nullable=False),  # daily | full | cik
        sa.Column("day", sa.Date()),  # for daily sources
        sa.Column("found", sa.Boolean(), nullable=False),  # False: no index (weekend, holiday)
        sa.Column("ownership_filings", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )
    op.create_index("discovered_sources_kind_day_idx", "discovered_sources", ["kind", "day"])


def downgrade() -> None:
    op.drop_table("discovered_sources")
    op.drop_table("fetch_queue")
