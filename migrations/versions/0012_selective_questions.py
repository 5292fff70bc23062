"""Analysts at full-history scale, fourth step: the selective questions.

Three things made the questions that return few rows slow at 30 M transactions
(benchmarks/RESULTS.md, 2026-12-06, fourth section):

* ``business_days_between(from, to)`` ran its whole body when a date was NULL (about
  0.05-0.1 ms a call, to return NULL). ``insider_trades_all`` calls it, twice a line, for every
  line whose filing has no filed date (an XML document loaded on its own) or no calendar
  row: a third of one owner's lines in a generated 1 M-transaction database, two thirds of
  that question's server time. Both business-day functions are now ``STRICT``: PostgreSQL
  returns NULL for a NULL argument without calling them. Same answers (they returned NULL for
  NULL already).
* The largest trades of a window (docs/queries.md questions 1 and 9, "top 20 open-market
  trades") sorted every purchase or sale of the window, or of all history, to keep ten: at
  30 M transactions question 9 sorted 12 M sales (4.6 s). An index of purchases and sales by
  code and value lets PostgreSQL read them largest first and stop at the tenth that passes
  the question's other conditions (question 9: 8 ms). For the planner to use it, the view's
  ``value`` is now computed inside the non-derivative branch of ``insider_trades_all``
  (``trade_value``: the same expression as the index), not above the ``UNION ALL``, where
  it read ``... AND NOT false`` for each branch and matched no index. The same values: the
  derivative branch's ``trade_value`` is NULL, as ``value`` was for every derivative line.
* Each line's footnote ids and texts were two subqueries, each reading the line's
  ``footnote_references`` (99.6 M rows at 30 M transactions) on its own. One ``LEFT JOIN
  LATERAL`` now computes both from one read; PostgreSQL removes the join from any query that
  reads neither column (an aggregate subquery returns one row), so ``count(*)`` and the
  whole-history questions do not pay for it. One issuer's 9,210 lines at 30 M: 0.53 -> 0.44 s.

The views keep their names and columns. The downgrade restores migration 0011's views and
the functions' NULL handling, and drops the index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0012"
down_revision = "0011"
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


_M0011 = _earlier("0011_superseded_flag.py")
_M0009 = _M0011._M0009  # the one 0011 loaded, not a second copy
_replace_once = _M0011._replace_once

BUSINESS_DAY_FUNCTIONS = ("business_days_between(date, date)", "business_days_counted(date, date)")


def trade_value(alias: str = "") -> str:
    """A purchase's or sale's value (shares times the price as filed), NULL on any other
    line: ``value`` of insider_trades, written once for the view and for its index (they
    must be the same expression for PostgreSQL to read the view's order from the index)."""
    a = f"{alias}." if alias else ""
    price = _M0009._PRICE.replace("{t}.", a)
    return (f"CASE WHEN {a}transaction_code IN ({_M0009._OPEN_MARKET_LIST}) "
            f"THEN {a}transaction_shares * {price} END")


INDEX_NAME = "ix_non_derivative_transactions_trade_value"
INDEX_SQL = (
    f"CREATE INDEX {INDEX_NAME} ON non_derivative_transactions "
    f"(transaction_code, ({trade_value()}) DESC NULLS LAST) "
    f"WHERE transaction_code IN ({_M0009._OPEN_MARKET_LIST})"
)

# A line's footnotes, ids and texts from one read of its references, in footnote order (the
# number in the id, then the id): migration 0009's texts subquery (_FOOTNOTE_TEXTS) as a
# lateral join that also collects the ids, replacing its two subqueries, which read the
# references once each.
_FOOTNOTES_LATERAL = "\nLEFT JOIN LATERAL " + _replace_once(
    _M0009._FOOTNOTE_TEXTS.removeprefix("coalesce(").removesuffix(", '{}'::text[])"),
    "SELECT array_agg(fn.text ORDER BY x.n, x.footnote_id)",
    "SELECT array_agg(x.footnote_id ORDER BY x.n, x.footnote_id) AS ids,\n"
    "               array_agg(fn.text ORDER BY x.n, x.footnote_id) AS texts",
) + " fx ON true\n"


def _edit_view(sql: str) -> str:
    """0011's insider_trades_all with value computed in each branch of the UNION ALL (the
    stock's purchases and sales in the non-derivative branch, NULL in the derivative one, as
    NOT is_derivative said) and the footnote columns read from one lateral join."""
    edits = (
        (f"CASE WHEN {_M0009._IS_OPEN_MARKET} THEN t.transaction_shares * "
         f"{_M0009._LINE_PRICE} END AS value", "t.trade_value AS value"),
        (" FROM non_derivative_transactions n",
         f", {trade_value('n')} AS trade_value FROM non_derivative_transactions n"),
        (" FROM derivative_transactions n",
         ", NULL::numeric AS trade_value FROM derivative_transactions n"),
        (f"{_M0009._FOOTNOTE_IDS} AS footnote_ids",
         "coalesce(fx.ids, '{}'::text[]) AS footnote_ids"),
        (f"{_M0009._FOOTNOTE_TEXTS} AS footnotes", "coalesce(fx.texts, '{}'::text[]) AS footnotes"),
    )
    for old, new in edits:
        sql = _replace_once(sql, old, new)
    return sql.rstrip() + _FOOTNOTES_LATERAL


INSIDER_TRADES_ALL_SQL = _edit_view(_M0011.INSIDER_TRADES_ALL_SQL)


def _strict(on: bool) -> None:
    for function in BUSINESS_DAY_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} {'STRICT' if on else 'CALLED ON NULL INPUT'}")


def _recreate_views(all_sql: str) -> None:
    for view in _M0011._VIEWS:
        op.execute(f"DROP VIEW {view}")
    _M0011._create_views(all_sql, _M0011.INSIDER_TRADES_SQL)


def upgrade() -> None:
    _strict(True)
    _recreate_views(INSIDER_TRADES_ALL_SQL)
    op.execute(INDEX_SQL)
    op.execute("ANALYZE non_derivative_transactions")  # statistics of the index expression


def downgrade() -> None:
    op.execute(f"DROP INDEX {INDEX_NAME}")
    _recreate_views(_M0011.INSIDER_TRADES_ALL_SQL)
    _strict(False)
