"""Analysts at full-history scale, second step: what generated databases of 10 and 30
million transactions showed about migration 0009 (benchmarks/RESULTS.md, 2026-12-06).

* ``rebuild_analyst_rows()`` (0009's backfill, and what a database filled by other means
  than the loader runs) took 47 minutes at 30 M transactions against 11 s at 1 M. Its second
  and third statements read ``filing_summaries``, which the first had just refilled, with the
  statistics of the emptied table: PostgreSQL gathers new ones only on ``ANALYZE``. At 10 M
  the third step then merge-joined every transaction row through the primary key in key
  order (37 s, 10 M line keys computed for 274,000 lines); at 30 M, with the database twice
  the machine's memory, that order is random reads. It now analyzes each table it has just
  filled before the next statement reads it: 7-9 s at 10 M, probing the 60,000 amended
  filings' lines by key. With statistics, the link step at 30 M met the other trap: the links
  found are estimated at one row, and PostgreSQL joined them to the amendments by a nested
  loop, ~100,000 x 100,000 comparisons (stopped after 22 minutes). That one statement is
  planned without nested loops: 71 s.
* A selective question spent most of its time in PostgreSQL's JIT compiler: the views' plans
  carry large cost estimates, above ``jit_above_cost``, and compiling them took 1.4-2.7 s at
  30 M for a few milliseconds of execution (one issuer's history 2.9 s, of it 2.7 s JIT).
  At 10 M, with JIT off, no measured question got slower beyond noise and most got faster
  (question 10: 6.0 -> 1.6 s, one owner by ``= ANY``: 3.6 -> 0.8 s). The database's default
  becomes ``jit = off`` (a session may still ``SET jit = on``). ``ALTER DATABASE`` needs
  the database's owner: a role that is not gets a notice and keeps the server's default.
* ``insider_trades`` leaves out superseded lines with an anti-join on ``amended_lines``. A
  partial index of only the superseded lines lets PostgreSQL probe it per row (an
  index-only scan) for a selective question instead of hashing every superseded line of
  history (1.6 s of one issuer's history at 30 M).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _earlier(filename: str) -> ModuleType:
    """An earlier migration of this folder, for the SQL it froze."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"_edgar_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load migration {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_M0009 = _earlier("0009_stored_supersession.py")

# The statements are 0009's REBUILD_STEPS (0009's upgrade runs them as its backfill).
REBUILD_SQL = f"""
CREATE OR REPLACE FUNCTION rebuild_analyst_rows() RETURNS void
LANGUAGE plpgsql AS $${_M0009.REBUILD_STEPS}$$
"""

SUPERSEDED_INDEX_SQL = (
    "CREATE INDEX ix_amended_lines_superseded ON amended_lines "
    "(accession_number, table_name, sequence) WHERE status = 'superseded'"
)

# ALTER DATABASE names its database: the one the migration runs in.
_SET_DATABASE = """
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I {action}', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not the owner of database %: its default for jit is left as it is',
        current_database();
END
$$
"""


def upgrade() -> None:
    op.execute(REBUILD_SQL)
    op.execute(SUPERSEDED_INDEX_SQL)
    op.execute(_SET_DATABASE.format(action="SET jit = off"))


def downgrade() -> None:
    op.execute(_SET_DATABASE.format(action="RESET jit"))
    op.execute("DROP INDEX ix_amended_lines_superseded")
    op.execute(_M0009.REBUILD_SQL.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
