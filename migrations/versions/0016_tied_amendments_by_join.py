"""The amendments tied to a batch's filings, found from the few ambiguous amendments.

``refresh_analyst_rows(accessions)`` looks for the amendments whose link the batch may
change, among them those tied between two originals of the batch
(``tied_accessions && accessions``). PostgreSQL answered that through the GIN index on
``tied_accessions``, one lookup per filing of the batch, and the lookups grew faster than
the batch (the GIN scan weighs every key of the query against each item it advances to):
on a database of 4.3 million filings, 1.0 s for 30,000 filings, the largest single cost of
storing a data-set quarter at full history (benchmarks/RESULTS.md). An amendment has tied
originals only when its rule is ``ambiguous`` (``link_update`` sets both from the same
count, migration 0009), and those are few (481 of 4.3 million filings in that database,
listed by the partial index ``ix_filing_summaries_ambiguous``, migration 0011): their tied
originals are now joined with the batch: the same rows in 26-84 ms for 30,000 to 60,000
filings (the batch's list sorted or hashed once).

The downgrade restores migration 0015's function.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0016"
down_revision = "0015"
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


_M0015 = _earlier("0015_trade_days.py")
_replace_once = _M0015._replace_once

_BY_GIN = """
        SELECT s.accession_number FROM filing_summaries s
        WHERE s.tied_accessions IS NOT NULL AND s.tied_accessions && accessions
"""
_BY_JOIN = """
        SELECT s.accession_number FROM filing_summaries s
        CROSS JOIN LATERAL unnest(s.tied_accessions) AS t(original)
        JOIN unnest(accessions) AS b(accession_number) ON b.accession_number = t.original
        WHERE s.amendment_match_rule = 'ambiguous'  -- the only ones with tied_accessions
"""
REFRESH_SQL = _replace_once(_M0015.REFRESH_SQL, _BY_GIN, _BY_JOIN)  # CREATE OR REPLACE


def upgrade() -> None:
    op.execute(REFRESH_SQL)


def downgrade() -> None:
    op.execute(_M0015.REFRESH_SQL)
