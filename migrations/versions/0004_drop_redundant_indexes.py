"""Drop five indexes that a composite index already serves.

Each dropped index is the leading column of another index on the same table, so no query
loses an index path, while every load pays for one index less per row:

- ``ix_filings_issuer_cik``: ``ix_filings_issuer_filed_date``/``ix_filings_issuer_period``;
- ``ix_filing_owners_rpt_owner_cik``: ``ix_filing_owners_cik_accession``;
- ``ix_{non_,}derivative_transactions_transaction_code``: ``ix_..._code_date``;
- ``ix_footnote_references_accession_number``: ``ix_footnote_references_row`` (footnote
  references are the most numerous rows, ~15 per filing).

Measured (benchmarks/RESULTS.md): ``reparse --all`` of 50,000 filings spent about a
third less server CPU without them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (index, table, columns) as migrations 0001 created them
REDUNDANT: list[tuple[str, str, list[str]]] = [
    ("ix_filings_issuer_cik", "filings", ["issuer_cik"]),
    ("ix_filing_owners_rpt_owner_cik", "filing_owners", ["rpt_owner_cik"]),
    ("ix_non_derivative_transactions_transaction_code", "non_derivative_transactions",
     ["transaction_code"]),
    ("ix_derivative_transactions_transaction_code", "derivative_transactions",
     ["transaction_code"]),
    ("ix_footnote_references_accession_number", "footnote_references", ["accession_number"]),
]


def upgrade() -> None:
    for name, table, _columns in REDUNDANT:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in REDUNDANT:
        op.create_index(name, table, columns)
