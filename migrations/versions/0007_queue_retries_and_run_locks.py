"""Retries that come back, claims, and a run lock that fences a run which lost its session.

``fetch_queue``:

- ``next_attempt_at``: when a failed or missing filing is tried again by the nightly run
  (NULL: given up, or not failed); ``first_failed_at``: when its current failure began.
  Before this, a filing that answered 404 once, or failed three runs, was never fetched
  again. Existing failed/missing rows are due at once: the next run retries them.
- ``claimed_by``/``claimed_until``: the run fetching a filing right now (``watch`` and
  ``sync`` may run together and must not fetch the same filing twice).

``run_log``: one row per finished command run (sync, backfill, ingest, reparse, ...): when,
over which days, what it did and its exit code; ``status`` reads the last successful sync
from it, monitoring with ``status --json``/``--check``.

``run_locks``: one row per kind of run ('sync' for sync/backfill, 'watch'), the lease of
the run holding it. The advisory lock on the run's working session says who runs now; the
lease says until when a run that lost its session may still be fetching, so the next run
does not start beside it (see ``ingest/runlock.py``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("fetch_queue", sa.Column("next_attempt_at", _TS))
    op.add_column("fetch_queue", sa.Column("first_failed_at", _TS))
    op.add_column("fetch_queue", sa.Column("claimed_by", sa.Text()))
    op.add_column("fetch_queue", sa.Column("claimed_until", _TS))
    op.execute(
        "UPDATE fetch_queue SET first_failed_at = updated_at, next_attempt_at = now()"
        " WHERE status IN ('failed', 'missing')"
    )
    op.create_index(
        "fetch_queue_retry_idx", "fetch_queue", ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('failed', 'missing')"),
    )
    op.create_table(
        "run_locks",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("command", sa.Text()),
        sa.Column("acquired_at", _TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("renewed_at", _TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("expires_at", _TS, nullable=False),
    )


    op.create_table(
        "run_log",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("exit_code", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date()),
        sa.Column("last_day", sa.Date()),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("loaded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("unparsed", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text()),
    )
    op.create_index("run_log_command_finished_idx", "run_log", ["command", "finished_at"])


def downgrade() -> None:
    op.drop_table("run_log")
    op.drop_table("run_locks")
    op.drop_index("fetch_queue_retry_idx", table_name="fetch_queue")
    for column in ("claimed_until", "claimed_by", "first_failed_at", "next_attempt_at"):
        op.drop_column("fetch_queue", column)
