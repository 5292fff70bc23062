"""The two variants of ``insider_trades_all`` measured here, made from migration 0013's
view text (the view of the database measured) by the edits below.

    python view_variants.py URL   # creates views exp_a and exp_b beside the real one

exp_a: each footnote text looked up by key (one probe per id) instead of a join of the
line's ids to all the filing's footnotes. exp_b: exp_a, and the code's meaning and category
from a join to ``transaction_codes`` instead of two subqueries per line.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import psycopg

MIGRATION = Path(__file__).resolve().parents[3] / "migrations/versions/0013_line_footnotes.py"

FOOTNOTES_BY_KEY = ("""ARRAY(
        SELECT fn.text
        FROM unnest(t.footnote_ids) WITH ORDINALITY AS u(footnote_id, n)
        LEFT JOIN footnotes fn
          ON fn.accession_number = t.accession_number AND fn.footnote_id = u.footnote_id
        ORDER BY u.n)""", """ARRAY(
        SELECT (SELECT fn.text FROM footnotes fn
                WHERE fn.accession_number = t.accession_number AND fn.footnote_id = u.footnote_id)
        FROM unnest(t.footnote_ids) WITH ORDINALITY AS u(footnote_id, n)
        ORDER BY u.n)""")
CODES_JOINED = (
    ("(SELECT tc.meaning FROM transaction_codes tc WHERE tc.code = t.transaction_code) "
     "AS code_meaning", "tc.meaning AS code_meaning"),
    ("(SELECT tc.category FROM transaction_codes tc WHERE tc.code = t.transaction_code) "
     "AS code_category", "tc.category AS code_category"),
    ("LEFT JOIN business_calendar b_executed",
     "LEFT JOIN transaction_codes tc ON tc.code = t.transaction_code\n"
     "LEFT JOIN business_calendar b_executed"),
)


def _edited(text: str, name: str, edits: tuple[tuple[str, str], ...]) -> str:
    text = text.replace("CREATE VIEW insider_trades_all AS", f"CREATE OR REPLACE VIEW {name} AS", 1)
    for old, new in edits:
        if text.count(old) != 1:
            raise RuntimeError(f"not once in 0013's view: {old[:60]!r}")
        text = text.replace(old, new)
    return text


def variants() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("_migration_0013", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    view = module.INSIDER_TRADES_ALL_SQL
    return {"exp_a": _edited(view, "exp_a", (FOOTNOTES_BY_KEY,)),
            "exp_b": _edited(view, "exp_b", (FOOTNOTES_BY_KEY, *CODES_JOINED))}


if __name__ == "__main__":
    with psycopg.connect(sys.argv[1], autocommit=True) as conn:
        for text in variants().values():
            conn.execute(text)
