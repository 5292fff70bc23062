"""Column ``transaction_value`` on both transaction tables.

Ownership XML of schema X0101 (2003) reports a transaction's price as ``transactionValue``
inside ``transactionAmounts``, where later schemas say ``transactionPricePerShare``. Per the
column rule (a leaf lands in the column named after its element) it gets its own column
rather than being folded into ``transaction_price_per_share``: the stored value stays what
was filed, and the analyst views decide how to read it.

Adding a nullable column without a default rewrites nothing: instant on a loaded database.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("non_derivative_transactions", "derivative_transactions")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("transaction_value", sa.Numeric()))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "transaction_value")
