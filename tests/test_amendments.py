"""Issue 12's wrong answers, each on constructed filings, and the stored supersession kept
right through every order of loading, replacement and deletion.

Each test loads a handful of filings built by ``tests.constructed`` through the real
loader into its own database and reads the analyst views, or runs a documented query of
docs/queries.md exactly as documented (``ingest.analyst.documented_queries``).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from ingest import db
from ingest.analyst import documented_queries
from ingest.load import Loader
from ingest.records import ParsedFiling
from tests.constructed import ISSUER, OWNER, Line, filing
from tests.waiting import wait_for

X, Y, Z = OWNER, 1214156, 1315657
MAY3, MAY6, MAY7, MAY8, MAY9, MAY10 = (date(2024, 5, d) for d in (3, 6, 7, 8, 9, 10))
JUNE3 = date(2024, 6, 3)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    connection = db.connect(database_url, autocommit=True)
    try:
        yield connection
    finally:
        connection.close()


def load(conn: psycopg.Connection, *filings: ParsedFiling) -> None:
    results = Loader(conn).load(list(filings))
    assert {r.status for r in results} <= {"loaded", "replaced"}, results
    assert_derived_rows_add_up(conn)  # after every load of every test of this file


def documented(number: str) -> str:
    """The SQL of docs/queries.md's question ``number`` (e.g. "2b")."""
    return next(q.sql for q in documented_queries() if q.title.split(".")[0] == number)


def documented_with(number: str, *replacements: tuple[str, str]) -> str:
    """Question ``number`` with its example values (dates, CIKs, accessions) replaced by the
    constructed cases' own; each value must be in the text, so a changed example fails here
    rather than quietly asking about the documented one."""
    text = documented(number)
    for old, new in replacements:
        assert old in text, (number, old)
        text = text.replace(old, new)
    return text


def rows(conn: psycopg.Connection, query: str, *params: object) -> list[dict]:
    cur = conn.execute(query, params or None)
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def current(conn: psycopg.Connection) -> list[tuple]:
    """(accession, table, sequence, shares) of insider_trades, sorted."""
    return conn.execute(
        "SELECT accession_number, table_name, sequence, shares FROM insider_trades "
        "ORDER BY 1, 2, 3"
    ).fetchall()


ND = "non_derivative_transactions"


# ---------------------------------------------------------------------------
# Linking an amendment to its original
# ---------------------------------------------------------------------------


def test_a_4a_that_adds_a_joint_filer_replaces_the_original(conn: psycopg.Connection) -> None:
    """3,000 shares bought by X, the 4/A adds Y as a joint filer: still 3,000, not 6,000."""
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3, "3000", "10"), filed=MAY6, owners=(X,)),
        filing("0000000001-24-000002", Line("P", MAY3, "3000", "10"), filed=MAY9, form="4/A",
               original_submission=MAY6, owners=(X, Y)),
    )
    total = conn.execute("SELECT sum(shares) FROM insider_trades").fetchone()[0]
    assert total == Decimal("3000")
    link = conn.execute("SELECT original_accession, match_rule FROM filing_amendments").fetchall()
    assert link == [("0000000001-24-000001", "date_of_original_submission")]


def test_a_4a_that_drops_a_joint_filer_replaces_the_original(conn: psycopg.Connection) -> None:
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3, "3000", "10"), filed=MAY6, owners=(X, Y)),
        filing("0000000001-24-000002", Line("P", MAY3, "3000", "10.5"), filed=MAY9, form="4/A",
               original_submission=MAY6, owners=(X,)),
    )
    assert current(conn) == [("0000000001-24-000002", ND, 1, Decimal("3000"))]


def test_the_period_fallback_never_takes_an_unrelated_filing(conn: psycopg.Connection) -> None:
    """The 4/A's original (filed 7 May) is not in the database; a filing of the same owner
    and period filed on 6 May is another purchase: its $100,000 stays."""
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3, "1000", "100"), filed=MAY6),
        filing("0000000001-24-000002", Line("P", MAY3, "500", "101"), filed=MAY9, form="4/A",
               original_submission=MAY7),
    )
    values = conn.execute(
        "SELECT accession_number, value, is_superseded, amends_accession FROM insider_trades_all "
        "ORDER BY 1"
    ).fetchall()
    assert values == [
        ("0000000001-24-000001", Decimal("100000"), False, None),
        ("0000000001-24-000002", Decimal("50500"), False, None),
    ]


def test_the_period_fallback_still_finds_an_original_the_amendment_restates(
    conn: psycopg.Connection,
) -> None:
    """A mistyped date of original submission: the same period, and the amended line has
    the original line's shares (its price corrected): linked by period."""
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "1802", "218.22"), filed=MAY6),
        filing("0000000001-24-000002", Line("S", MAY3, "1802", "218.42"), filed=MAY9, form="4/A",
               original_submission=MAY7),
    )
    assert current(conn) == [("0000000001-24-000002", ND, 1, Decimal("1802"))]
    rule = conn.execute("SELECT match_rule FROM filing_amendments").fetchone()
    assert rule == ("period_of_report",)


def test_same_day_originals_the_amendment_links_the_one_it_corrects(
    conn: psycopg.Connection,
) -> None:
    """Two Form 4s of the same owner filed the same day: the 4/A corrects the purchase of the
    first (earlier accession), and must not supersede the sale of the second."""
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3, "100", "10"), filed=MAY6),
        filing("0000000001-24-000002", Line("S", MAY6, "200", "11"), filed=MAY6, period=MAY3),
        filing("0000000001-24-000003", Line("P", MAY3, "150", "10"), filed=MAY9, form="4/A",
               original_submission=MAY6),
    )
    assert current(conn) == [
        ("0000000001-24-000002", ND, 1, Decimal("200")),
        ("0000000001-24-000003", ND, 1, Decimal("150")),
    ]
    link = conn.execute("SELECT original_accession FROM filing_amendments").fetchall()
    assert link == [("0000000001-24-000001",)]


def test_an_unresolvable_tie_links_nothing_and_keeps_every_row(conn: psycopg.Connection) -> None:
    """Two identical same-day filings: which one the 4/A amends cannot be told. Nothing is
    superseded; the amendment says 'ambiguous' and names both."""
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), filed=MAY6),
        filing("0000000001-24-000002", Line("S", MAY3, "100", "10"), filed=MAY6),
        filing("0000000001-24-000003", Line("S", MAY3, "120", "10"), filed=MAY9, form="4/A",
               original_submission=MAY6),
    )
    assert len(current(conn)) == 3
    link = conn.execute(
        "SELECT original_accession, match_rule, candidates, tied_accessions FROM amendment_links"
    ).fetchone()
    assert link == (None, "ambiguous", 2, ["0000000001-24-000001", "0000000001-24-000002"])
    assert conn.execute(
        "SELECT amendment_match_rule FROM insider_trades WHERE accession_number = %s",
        ("0000000001-24-000003",),
    ).fetchone() == ("ambiguous",)


def test_a_3a_that_adds_omitted_reporting_persons_is_linked(conn: psycopg.Connection) -> None:
    """'Amended solely to include the omitted names ... as Reporting Persons' (a real 3/A):
    holdings only, owners added."""
    load(
        conn,
        filing("0000000001-24-000001", filed=MAY6, form="3", period=MAY3, holdings=1),
        filing("0000000001-24-000002", filed=MAY9, form="3/A", period=MAY3, holdings=1,
               original_submission=MAY6, owners=(X, Y, Z)),
    )
    link = conn.execute("SELECT original_accession FROM filing_amendments").fetchall()
    assert link == [("0000000001-24-000001",)]


# ---------------------------------------------------------------------------
# Which lines an amendment replaces
# ---------------------------------------------------------------------------


def test_a_partial_4a_replaces_only_the_line_it_corrects(conn: psycopg.Connection) -> None:
    """The 4/A reports only its corrected line (as SEC's instructions ask): the original's
    other two lines stay (3 rows, not 1)."""
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), Line("S", MAY6, "200", "11"),
               Line("S", MAY7, "300", "12"), filed=MAY8),
        filing("0000000001-24-000002", Line("S", MAY6, "250", "11"), filed=MAY10, form="4/A",
               original_submission=MAY8),
    )
    assert current(conn) == [
        ("0000000001-24-000001", ND, 1, Decimal("100")),
        ("0000000001-24-000001", ND, 3, Decimal("300")),
        ("0000000001-24-000002", ND, 1, Decimal("250")),
    ]
    statuses = conn.execute(
        "SELECT accession_number, sequence, amendment_status, superseded_by "
        "FROM insider_trades_all ORDER BY 1, 2"
    ).fetchall()
    assert statuses == [
        ("0000000001-24-000001", 1, "unchanged", None),
        ("0000000001-24-000001", 2, "superseded", "0000000001-24-000002"),
        ("0000000001-24-000001", 3, "unchanged", None),
        ("0000000001-24-000002", 1, "restates", None),
    ]


def test_a_full_restatement_replaces_every_line_line_for_line(conn: psycopg.Connection) -> None:
    same_day = [Line("S", MAY3, str(100 + i), "10") for i in range(3)]
    restated = [Line("S", MAY3, str(100 + i), "10.5" if i == 1 else "10") for i in range(3)]
    load(
        conn,
        filing("0000000001-24-000001", *same_day, filed=MAY6),
        filing("0000000001-24-000002", *restated, filed=MAY9, form="4/A", original_submission=MAY6),
    )
    assert [r[0] for r in current(conn)] == ["0000000001-24-000002"] * 3
    pairs = conn.execute(
        "SELECT sequence, superseded_by_sequence FROM amended_lines "
        "WHERE accession_number = '0000000001-24-000001' ORDER BY 1"
    ).fetchall()
    assert pairs == [(1, 1), (2, 2), (3, 3)]


def test_when_the_match_is_unsure_both_are_kept_and_flagged(conn: psycopg.Connection) -> None:
    """Two same-day sales of the same stock, the 4/A reports one: which one it corrects
    cannot be told, so nothing is dropped and all three rows say 'ambiguous'."""
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), Line("S", MAY3, "200", "11"),
               filed=MAY6),
        filing("0000000001-24-000002", Line("S", MAY3, "210", "11"), filed=MAY9, form="4/A",
               original_submission=MAY6),
    )
    flagged = conn.execute(
        "SELECT accession_number, sequence, amendment_status FROM insider_trades ORDER BY 1, 2"
    ).fetchall()
    assert flagged == [
        ("0000000001-24-000001", 1, "ambiguous"),
        ("0000000001-24-000001", 2, "ambiguous"),
        ("0000000001-24-000002", 1, "ambiguous"),
    ]


def test_an_amendment_line_matching_nothing_is_added(conn: psycopg.Connection) -> None:
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), filed=MAY6),
        filing("0000000001-24-000002", Line("S", MAY3, "100", "10"), Line("G", MAY3, "50", "0"),
               filed=MAY9, form="4/A", original_submission=MAY6),
    )
    statuses = dict(conn.execute(
        "SELECT transaction_code, amendment_status FROM insider_trades ORDER BY 1"
    ).fetchall())
    assert statuses == {"G": "added", "S": "restates"}


def test_a_chain_of_amendments_ends_at_the_latest(conn: psycopg.Connection) -> None:
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "1500", "66.903"), filed=MAY6),
        filing("0000000001-24-000002", Line("S", MAY3, "1600", "66.903"), filed=MAY8, form="4/A",
               original_submission=MAY6),
        filing("0000000001-24-000003", Line("S", MAY3, "1600", "66.93"), filed=MAY10, form="4/A",
               original_submission=MAY6),
    )
    superseded = dict(conn.execute(
        "SELECT accession_number, superseded_by FROM insider_trades_all WHERE is_superseded"
    ).fetchall())
    assert superseded == {
        "0000000001-24-000001": "0000000001-24-000003",
        "0000000001-24-000002": "0000000001-24-000003",
    }


def test_a_holdings_only_amendment_replaces_no_transaction(conn: psycopg.Connection) -> None:
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), filed=MAY6),
        filing("0000000001-24-000002", filed=MAY9, form="4/A", original_submission=MAY6,
               period=MAY3, holdings=1),
    )
    assert current(conn) == [("0000000001-24-000001", ND, 1, Decimal("100"))]


# ---------------------------------------------------------------------------
# Stored, and kept right whatever the order of loads, replacements and deletions
# ---------------------------------------------------------------------------

ORIGINAL = filing("0000000001-24-000001", Line("S", MAY3, "100", "10"),
                  Line("S", MAY6, "200", "11"), filed=MAY8)
AMENDMENT = filing("0000000001-24-000002", Line("S", MAY6, "250", "11"), filed=MAY10,
                   form="4/A", original_submission=MAY8)
AFTER_AMENDMENT = [
    ("0000000001-24-000001", ND, 1, Decimal("100")),
    ("0000000001-24-000002", ND, 1, Decimal("250")),
]


DERIVED_TABLES = ("filing_summaries", "amended_lines", "filing_trade_totals",
                  "insider_trade_days", "insider_trade_day_filings")


def stored_analyst_rows(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """What the refresh keeps: the derived tables and the lines flagged superseded."""
    stored = {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
        for table in DERIVED_TABLES
    }
    stored["superseded"] = flagged_lines(conn)
    return stored


# filing_trade_totals as the lines of insider_trades add up, written here apart from the
# migration's SQL: (accession, side, code) -> (lines, shares, value, plan mentions, early
# lines, swap lines, late lines, earliest late trade, most business days late).
VIEW_TOTALS = """
SELECT t.accession_number, t.is_derivative, t.transaction_code, count(*), sum(t.shares),
       sum(t.value), count(*) FILTER (WHERE t.footnote_mentions_10b5_1),
       count(*) FILTER (WHERE t.transaction_timeliness = 'E'),
       count(*) FILTER (WHERE t.equity_swap_involved), count(l.late),
       min(t.transaction_date) FILTER (WHERE l.late), max(t.first_filed_business_days_after)
       FILTER (WHERE l.late)
FROM insider_trades t
LEFT JOIN LATERAL (SELECT true AS late WHERE t.form_type IN ('4', '4/A')
                   AND t.transaction_form_type = '4'
                   AND (t.transaction_timeliness = 'L'
                        OR t.first_filed_business_days_after > 2)) l ON true
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
STORED_TOTALS = """
SELECT accession_number, is_derivative, transaction_code, lines, shares, value,
       footnote_mentions_10b5_1, early_lines, swap_lines, late_lines, earliest_late_trade,
       max_business_days_late
FROM filing_trade_totals ORDER BY 1, 2, 3
"""


def assert_totals_add_up(conn: psycopg.Connection) -> None:
    """filing_trade_totals holds what the current lines of each filing add up to."""
    assert conn.execute(STORED_TOTALS).fetchall() == conn.execute(VIEW_TOTALS).fetchall()


# insider_trade_days as the stock lines of insider_trades add up, written here apart from the
# migration's SQL: each line's kind first, then per issuer, owners and day.
VIEW_DAYS = """
WITH line AS (
    SELECT t.*, CASE WHEN t.transaction_code = 'P' THEN 'purchase'
                     WHEN t.transaction_code = 'S' THEN 'sale'
                     WHEN t.transaction_code IN ('M', 'X') THEN 'exercise' END AS kind,
           first_value(t.owners) OVER (PARTITION BY t.issuer_cik, t.owner_ciks, t.transaction_date
                                       ORDER BY t.accession_number DESC) AS last_owners
    FROM insider_trades t WHERE t.table_name = 'non_derivative_transactions'
)
SELECT issuer_cik, owner_ciks, transaction_date, count(*),
       ARRAY(SELECT DISTINCT c FROM unnest(array_agg(transaction_code)) AS c
             WHERE c IS NOT NULL ORDER BY c),
       count(*) FILTER (WHERE kind = 'purchase'), sum(shares) FILTER (WHERE kind = 'purchase'),
       sum(value) FILTER (WHERE kind = 'purchase'),
       count(*) FILTER (WHERE kind = 'sale'), sum(shares) FILTER (WHERE kind = 'sale'),
       sum(value) FILTER (WHERE kind = 'sale'),
       count(*) FILTER (WHERE kind = 'exercise'), sum(shares) FILTER (WHERE kind = 'exercise'),
       sum(shares * price) FILTER (WHERE kind = 'exercise'),
       ARRAY(SELECT DISTINCT a FROM unnest(array_agg(accession_number)) AS a ORDER BY a),
       max(last_owners)
FROM line
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
STORED_DAYS = """
SELECT issuer_cik, owner_ciks, transaction_date, lines, transaction_codes, purchase_lines,
       purchased_shares, purchase_value, sale_lines, sold_shares, sale_value, exercise_lines,
       exercised_shares, exercise_cost, accessions, owners
FROM insider_trade_days ORDER BY 1, 2, 3
"""


def assert_days_add_up(conn: psycopg.Connection) -> None:
    """insider_trade_days holds what the current stock lines of each owners' day add up to."""
    assert conn.execute(STORED_DAYS).fetchall() == conn.execute(VIEW_DAYS).fetchall()


def assert_derived_rows_add_up(conn: psycopg.Connection) -> None:
    """The stored totals and days hold what the current lines of insider_trades add up to."""
    assert_totals_add_up(conn)
    assert_days_add_up(conn)


def flagged_lines(conn: psycopg.Connection) -> list[tuple]:
    """(accession, table, sequence) of the transaction lines whose superseded flag is set."""
    return conn.execute(
        "SELECT accession_number, 'non_derivative_transactions', sequence "
        "FROM non_derivative_transactions WHERE superseded UNION ALL "
        "SELECT accession_number, 'derivative_transactions', sequence "
        "FROM derivative_transactions WHERE superseded ORDER BY 1, 2, 3"
    ).fetchall()


def superseded_lines(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT accession_number, table_name, sequence FROM amended_lines "
        "WHERE status = 'superseded' ORDER BY 1, 2, 3"
    ).fetchall()


def assert_same_as_a_full_rebuild(conn: psycopg.Connection) -> None:
    """What the loads left stored equals what ``rebuild_analyst_rows()`` computes."""
    incremental = stored_analyst_rows(conn)
    assert incremental["superseded"] == superseded_lines(conn)  # the flag says what the lines say
    assert_derived_rows_add_up(conn)
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT rebuild_analyst_rows()")
        rebuilt = stored_analyst_rows(conn)
    assert incremental == rebuilt


def test_an_original_arriving_after_its_amendment(conn: psycopg.Connection) -> None:
    load(conn, AMENDMENT)
    assert conn.execute("SELECT amends_accession FROM insider_trades").fetchall() == [(None,)]
    load(conn, ORIGINAL)
    assert current(conn) == AFTER_AMENDMENT
    assert_same_as_a_full_rebuild(conn)


def test_the_rebuild_plans_each_step_on_what_it_has_just_written(conn: psycopg.Connection) -> None:
    # Migration 0010: planned on an emptied table's statistics, the rebuild's later steps
    # chose plans that read every transaction row (47 minutes at 30 M). It analyzes each
    # table it refills before the next step reads it: the statistics hold the new rows.
    load(conn, ORIGINAL, AMENDMENT, *CONSTRUCTED_CASES[2:4])
    conn.execute("TRUNCATE filing_summaries, amended_lines")
    conn.execute("ANALYZE filing_summaries, amended_lines")  # statistics of empty tables
    conn.execute("SELECT rebuild_analyst_rows()")
    estimated = dict(conn.execute(
        "SELECT relname, reltuples::bigint FROM pg_class "
        "WHERE relname IN ('filing_summaries', 'amended_lines')").fetchall())
    assert estimated == {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                         for table in ("filing_summaries", "amended_lines")}
    assert estimated["amended_lines"] > 0
    assert conn.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'filing_summaries' "
                        "AND attname = 'amends_accession'").fetchone()[0] == 1
    # its link step runs without nested loops; the caller's setting is left as it was
    for setting in ("on", "off"):
        with conn.transaction(force_rollback=True):
            conn.execute(f"SET LOCAL enable_nestloop = {setting}")
            conn.execute("SELECT rebuild_analyst_rows()")
            assert conn.execute("SHOW enable_nestloop").fetchone()[0] == setting


def test_an_amendment_arriving_in_the_same_batch_as_its_original(conn: psycopg.Connection) -> None:
    load(conn, AMENDMENT, ORIGINAL)
    assert current(conn) == AFTER_AMENDMENT
    assert_same_as_a_full_rebuild(conn)


def test_a_replaced_original_is_matched_again(conn: psycopg.Connection) -> None:
    """The original is re-filed in another version (its second sale now dated 7 May): the
    amendment's line no longer restates it; both stay, the amendment's line 'added'."""
    load(conn, ORIGINAL, AMENDMENT)
    corrected = filing("0000000001-24-000001", Line("S", MAY3, "100", "10"),
                       Line("S", MAY7, "200", "11"), filed=MAY8)
    load(conn, corrected)
    assert conn.execute(
        "SELECT accession_number, sequence, amendment_status FROM insider_trades ORDER BY 1, 2"
    ).fetchall() == [
        ("0000000001-24-000001", 1, "unchanged"),
        ("0000000001-24-000001", 2, "unchanged"),
        ("0000000001-24-000002", 1, "added"),
    ]
    assert_same_as_a_full_rebuild(conn)


def test_a_replaced_amendment_that_no_longer_amends(conn: psycopg.Connection) -> None:
    load(conn, ORIGINAL, AMENDMENT)
    as_form_4 = filing("0000000001-24-000002", Line("S", MAY6, "250", "11"), filed=MAY10)
    load(conn, as_form_4)
    assert len(current(conn)) == 3
    assert conn.execute("SELECT count(*) FROM amended_lines").fetchone() == (0,)
    assert_same_as_a_full_rebuild(conn)


def test_a_new_original_filed_that_day_takes_over_an_ambiguous_tie(
    conn: psycopg.Connection,
) -> None:
    first = filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), filed=MAY6)
    second = filing("0000000001-24-000003", Line("S", MAY3, "100", "10"), filed=MAY6)
    amendment = filing("0000000001-24-000002", Line("S", MAY3, "120", "10"), filed=MAY9,
                       form="4/A", original_submission=MAY6)
    load(conn, first, second, amendment)
    assert conn.execute("SELECT match_rule FROM amendment_links").fetchone() == ("ambiguous",)
    # the second filing is corrected (it reported another day): the tie resolves
    load(conn, filing("0000000001-24-000003", Line("S", MAY6, "100", "10"), filed=MAY6))
    link = conn.execute("SELECT original_accession, match_rule FROM amendment_links").fetchone()
    assert link == ("0000000001-24-000001", "date_of_original_submission")
    assert_same_as_a_full_rebuild(conn)


def test_deleting_the_amendment_restores_the_original(conn: psycopg.Connection) -> None:
    load(conn, ORIGINAL, AMENDMENT)
    conn.execute("DELETE FROM filings WHERE accession_number = '0000000001-24-000002'")
    assert current(conn) == [
        ("0000000001-24-000001", ND, 1, Decimal("100")),
        ("0000000001-24-000001", ND, 2, Decimal("200")),
    ]
    assert stored_analyst_rows(conn)["amended_lines"] == []
    assert_same_as_a_full_rebuild(conn)


def test_deleting_the_original_unlinks_the_amendment(conn: psycopg.Connection) -> None:
    load(conn, ORIGINAL, AMENDMENT)
    conn.execute("DELETE FROM filings WHERE accession_number = '0000000001-24-000001'")
    assert conn.execute(
        "SELECT accession_number, amends_accession, amendment_status FROM insider_trades"
    ).fetchall() == [("0000000001-24-000002", None, None)]
    assert_same_as_a_full_rebuild(conn)


def test_truncating_filings_clears_what_was_derived(conn: psycopg.Connection) -> None:
    load(conn, ORIGINAL, AMENDMENT)
    conn.execute("TRUNCATE filings CASCADE")
    assert all(not stored for stored in stored_analyst_rows(conn).values())


def test_a_failed_batch_leaves_nothing_derived_behind(conn: psycopg.Connection) -> None:
    """The refresh runs in the batch's transaction: when the batch rolls back, so does it."""
    with pytest.raises(RuntimeError), conn.transaction():
        Loader(conn).load([ORIGINAL, AMENDMENT])
        raise RuntimeError("the caller's transaction fails after the load")
    assert all(not stored for stored in stored_analyst_rows(conn).values())


# ---------------------------------------------------------------------------
# Columns: owners, money, dates
# ---------------------------------------------------------------------------


def test_owner_summary_and_the_owner_keyed_index(conn: psycopg.Connection) -> None:
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3), filed=MAY6, owners=(X, Y)),
        filing("0000000001-24-000002", Line("P", MAY3), filed=MAY6, owners=(Z,), officer=True),
    )
    row = conn.execute(
        "SELECT owner_count, owner_ciks, owner_names, owners, relationship FROM insider_trades "
        "WHERE owner_ciks @> ARRAY[%s::bigint]", (Y,)
    ).fetchall()
    assert row == [(2, [X, Y], [f"OWNER {X}", f"OWNER {Y}"],
                    f"OWNER {X} ({X}); OWNER {Y} ({Y})", "Director")]
    # On a handful of rows any plan is cheap; with only bitmap scans allowed, the index
    # that serves @> shows (the benchmarks show the planner choosing it on real sizes).
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET enable_indexscan = off")
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT * FROM insider_trades WHERE owner_ciks @> ARRAY[%s::bigint]", (Y,)
    ))
    assert "ix_filing_summaries_owner_ciks" in plan


def test_open_market_and_value_mean_a_trade_in_the_stock(conn: psycopg.Connection) -> None:
    load(conn, filing(
        "0000000001-24-000001",
        Line("P", MAY3, "100", "20"),
        Line("P", MAY3, "10", "3", title="Call Option", derivative=True),
        Line("M", MAY3, "500", "5"),  # stock from an exercise, at the exercise price
        Line("F", MAY3, "200", "20"),  # shares withheld for tax
        Line("M", MAY3, "500", "0", title="Stock Option", derivative=True),
        filed=MAY6,
    ))
    got = conn.execute(
        "SELECT transaction_code, is_derivative, is_open_market, price, value FROM insider_trades "
        "ORDER BY table_name DESC, sequence"
    ).fetchall()
    assert got == [
        ("P", False, True, Decimal("20"), Decimal("2000")),
        ("M", False, False, Decimal("5"), None),
        ("F", False, False, Decimal("20"), None),
        ("P", True, False, None, None),
        ("M", True, False, None, None),
    ]


def test_x0101_transaction_value_is_the_price(conn: psycopg.Connection) -> None:
    load(conn, filing("0000000001-03-000001", Line("S", date(2003, 7, 1), "100", None,
                                                   x0101_value="12.5"), filed=date(2003, 7, 3)))
    assert conn.execute("SELECT price, value FROM insider_trades").fetchone() == (
        Decimal("12.5"), Decimal("1250.0"))


# ---------------------------------------------------------------------------
# Documented queries on constructed cases
# ---------------------------------------------------------------------------


def test_q0_counts_v_and_k(conn: psycopg.Connection) -> None:
    load(conn, filing("0000000001-24-000001", Line("G", MAY3, "10", "0", timeliness="E"),
                      Line("S", MAY3, "10", "5", swap=True), Line("S", MAY3), filed=MAY6))
    counts = {r["code"]: r["transactions"] for r in rows(conn, documented("0"))}
    assert (counts["V"], counts["K"], counts["G"], counts["S"]) == (1, 1, 1, 2)


def test_q2_counts_insiders_not_owner_sets(conn: psycopg.Connection) -> None:
    """X alone, X with Y, Y alone: two insiders, not three."""
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3), filed=MAY6, owners=(X,)),
        filing("0000000001-24-000002", Line("P", MAY6), filed=MAY8, owners=(X, Y)),
        filing("0000000001-24-000003", Line("P", MAY7), filed=MAY9, owners=(Y,)),
    )
    assert rows(conn, documented("2")) == []
    busiest = rows(conn, documented("2b"))
    assert [r["insiders"] for r in busiest] == [2]


def test_q2_groups_by_issuer_not_ticker(conn: psycopg.Connection) -> None:
    """Three unrelated issuers without a ticker ('NONE'), one buyer each, on one day."""
    load(conn, *(
        filing(f"0000000001-24-00000{i}", Line("P", MAY3), filed=MAY6, owners=(cik,),
               issuer=issuer, ticker="NONE")
        for i, (cik, issuer) in enumerate(((X, 1001), (Y, 1002), (Z, 1003)), 1)
    ))
    assert rows(conn, documented("2")) == []
    assert len(rows(conn, documented("2b"))) == 3


def test_q2_finds_a_real_cluster(conn: psycopg.Connection) -> None:
    may20 = date(2024, 5, 20)
    load(conn, *(
        filing(f"0000000001-24-00000{i}", Line("P", day), filed=JUNE3, owners=(cik,))
        for i, (cik, day) in enumerate(((X, MAY3), (Y, MAY8), (Z, may20)), 1)
    ))
    found = rows(conn, documented("2"))
    assert [(r["issuer_cik"], r["window_start"], r["insiders"]) for r in found] == [
        (ISSUER, MAY3, 3)
    ]


def test_q2_one_window_per_day_and_buys_are_not_buyers(conn: psycopg.Connection) -> None:
    """Three buyers on one day make one cluster window, not one per buy (buys of one day
    share a window frame)."""
    load(conn, *(
        filing(f"0000000001-24-00000{i}", Line("P", MAY3), filed=MAY6, owners=(cik,))
        for i, cik in enumerate((X, Y, Z), 1)
    ))
    found = rows(conn, documented("2"))
    assert [(r["window_start"], r["buyers"], r["insiders"]) for r in found] == [(MAY3, 3, 3)]


def test_q2_three_buys_by_two_buyers_are_no_cluster(conn: psycopg.Connection) -> None:
    """Three buys by two buyers pass question 2's test of at least three buys in the window,
    and are still no cluster: buyers are counted, not buys."""
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3), filed=MAY6, owners=(X,)),
        filing("0000000001-24-000002", Line("P", MAY6), filed=MAY8, owners=(X,)),
        filing("0000000001-24-000003", Line("P", MAY8), filed=MAY9, owners=(Y,)),
    )
    assert rows(conn, documented("2")) == []
    busiest = rows(conn, documented("2b"))
    assert [(r["buyers"], r["insiders"], r["buying_days"]) for r in busiest] == [(2, 2, 3)]


def test_q2b_an_owner_without_a_cik_is_no_buyer_and_buys_on_no_day(
    conn: psycopg.Connection,
) -> None:
    """A buy whose only owner has no CIK names no buyer: it adds no buyer, insider or buying
    day to the window (question 2b counts distinct buyer and day)."""
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3), filed=MAY6, owners=(X,)),
        filing("0000000001-24-000002", Line("P", MAY6), filed=MAY8, owners=(None,)),
        filing("0000000001-24-000003", Line("P", MAY8), filed=MAY9, owners=(X,)),
    )
    busiest = rows(conn, documented("2b"))
    assert [(r["buyers"], r["insiders"], r["buying_days"]) for r in busiest] == [(1, 1, 2)]


def test_q2b_counts_the_buyers_and_insiders_of_the_window_only(
    conn: psycopg.Connection,
) -> None:
    """A window of several owners counts its buyers and insiders between its first and last
    buy: X with Y (one buyer, two insiders) on 3 May and Z on 6 May make 2 buyers and 3
    insiders; W's buy on 3 June is in the next window, and Z's repeated buy of 3 June adds a
    buying day to that window, not a buyer to the first."""
    w = 1400001
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3), filed=MAY6, owners=(X, Y)),
        filing("0000000001-24-000002", Line("P", MAY6), filed=MAY8, owners=(Z,)),
        filing("0000000001-24-000003", Line("P", JUNE3), filed=JUNE3, owners=(w,)),
        filing("0000000001-24-000004", Line("P", JUNE3), filed=JUNE3, owners=(Z,)),
    )
    busiest = rows(conn, documented("2b"))
    assert [(r["window_start"], r["last_buy"], r["buyers"], r["insiders"], r["buying_days"])
            for r in busiest] == [(MAY3, MAY6, 2, 3, 2)]


def test_q13_counts_the_lines_a_joint_filing_shows(conn: psycopg.Connection) -> None:
    """Question 13 adds up the stored totals: a joint filing whose 4/A corrects one of its
    three sales shows two lines, the 4/A one; a joint filing of options only has no value;
    a filing of one owner is not joint."""
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), Line("S", MAY6, "200", "11"),
               Line("S", MAY7, "300", "12"), filed=MAY8, owners=(X, Y)),
        filing("0000000001-24-000002", Line("S", MAY6, "250", "11"), filed=MAY10, form="4/A",
               original_submission=MAY8, owners=(X, Y)),
        filing("0000000001-24-000003", Line("M", MAY3, "50", "5", derivative=True), filed=MAY6,
               owners=(Y, Z)),
        filing("0000000001-24-000004", Line("P", MAY3), filed=MAY6, owners=(Z,)),
    )
    joint = [(r["accession_number"], r["owner_count"], r["transactions"], r["value"],
              r["value_if_joined_per_owner"]) for r in rows(conn, documented("13"))]
    assert joint == [
        ("0000000001-24-000001", 2, 2, Decimal("4600.00"), Decimal("9200.00")),
        ("0000000001-24-000002", 2, 1, Decimal("2750.00"), Decimal("5500.00")),
        ("0000000001-24-000003", 2, 1, None, None),
    ]


def exercises_and_sales(conn: psycopg.Connection) -> list[tuple]:
    """(day, owners, exercised, cost, sold, proceeds) by docs/queries.md question 8."""
    return [(r["transaction_date"], r["owners"], r["exercised_shares"], r["exercise_cost"],
             r["sold_shares"], r["proceeds"]) for r in rows(conn, documented("8"))]


def test_q8_pairs_an_exercise_and_a_sale_reported_on_two_filings(
    conn: psycopg.Connection,
) -> None:
    """The exercise on one Form 4, the sale on another filed the same day: one owners' day
    (insider_trade_days, migration 0015). Moved by a corrected filing, then deleted, the day
    follows; an exercise of another owner that day is another day."""
    exercise = filing("0000000001-24-000001", Line("M", MAY3, "100", "10"), filed=MAY6)
    sale = filing("0000000001-24-000002", Line("S", MAY3, "60", "50"), Line("S", MAY3, "40", "51"),
                  filed=MAY6)
    other = filing("0000000001-24-000003", Line("X", MAY3, "7", "9"), filed=MAY6, owners=(Y,))
    load(conn, exercise, sale, other)
    (day,) = exercises_and_sales(conn)
    assert day[0] == MAY3 and day[2:] == (Decimal("100"), Decimal("1000.00"), Decimal("100"),
                                          Decimal("5040.00"))
    assert_same_as_a_full_rebuild(conn)
    # the sale was on 6 May: no exercise that day
    load(conn, filing("0000000001-24-000002", Line("S", MAY6, "100", "50"), filed=MAY6))
    assert exercises_and_sales(conn) == []
    assert_same_as_a_full_rebuild(conn)
    load(conn, filing("0000000001-24-000004", Line("S", MAY3, "10", "50"), filed=MAY7))
    assert [d[4] for d in exercises_and_sales(conn)] == [Decimal("10")]
    conn.execute("DELETE FROM filings WHERE accession_number = '0000000001-24-000001'")
    assert exercises_and_sales(conn) == []
    days = conn.execute("SELECT owner_ciks, transaction_date, accessions FROM insider_trade_days "
                        "ORDER BY 1, 2").fetchall()
    assert sorted(days) == sorted([([X], MAY3, ["0000000001-24-000004"]),
                                   ([X], MAY6, ["0000000001-24-000002"]),
                                   ([Y], MAY3, ["0000000001-24-000003"])])
    assert_same_as_a_full_rebuild(conn)


def test_days_of_a_replaced_and_a_new_filing_in_one_batch(conn: psycopg.Connection) -> None:
    """One batch corrects a sale already counted (its day recounted) and brings a new sale of
    the same day (added to it): the day holds both, once."""
    load(conn, filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), filed=MAY6))
    load(conn, filing("0000000001-24-000001", Line("S", MAY3, "150", "10"), filed=MAY6),
         filing("0000000001-24-000002", Line("S", MAY3, "7", "10"), Line("P", MAY6, "5", "9"),
                filed=MAY7))
    days = conn.execute("SELECT transaction_date, sold_shares, purchased_shares, accessions "
                        "FROM insider_trade_days ORDER BY 1").fetchall()
    assert days == [(MAY3, Decimal("157"), None, ["0000000001-24-000001", "0000000001-24-000002"]),
                    (MAY6, None, Decimal("5"), ["0000000001-24-000002"])]
    assert_same_as_a_full_rebuild(conn)


def wait_until_waiting_for_a_lock(watcher: psycopg.Connection, pid: int) -> None:
    """Return once backend ``pid`` waits for a lock (tests/waiting.py: a condition polled;
    the deadline only ends a test whose other loader never got that far)."""
    def waiting() -> bool:
        row = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                              (pid,)).fetchone()
        return bool(row) and row[0] == "Lock"

    wait_for(waiting, f"backend {pid} to wait for a lock", timeout=300)


def test_two_loaders_at_once_end_as_if_one_ran_after_the_other(
    conn: psycopg.Connection, database_url: str,
) -> None:
    """`watch` and `sync` may load at the same time. One loader's batch (a 4/A that restates
    a counted sale: its day recounted) is held uncommitted while another loads a new sale of
    the same owners' day; the second waits for the first's locks (here the issuer's row, which
    both upsert; the days' refresh takes a transaction-level advisory lock besides), then adds
    to the day the first committed. The stored totals and days end as a full rebuild computes
    them."""
    load(conn, filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), Line("P", MAY3),
                      filed=MAY6))
    restated = filing("0000000001-24-000002", Line("S", MAY3, "150", "10"), filed=MAY9,
                      form="4/A", original_submission=MAY6)
    new_sale = filing("0000000001-24-000003", Line("S", MAY3, "7", "10"), filed=MAY7)
    with db.connect(database_url, autocommit=True) as other, \
            db.connect(database_url, autocommit=True) as watcher, \
            ThreadPoolExecutor(max_workers=1) as pool:
        with conn.transaction():
            Loader(conn).load([restated])
            second = pool.submit(Loader(other).load, [new_sale])
            wait_until_waiting_for_a_lock(watcher, other.info.backend_pid)
        assert [r.status for r in second.result()] == ["loaded"]
    day = conn.execute("SELECT sale_lines, sold_shares, purchase_lines, accessions "
                       "FROM insider_trade_days").fetchall()
    assert day == [(2, Decimal("157"), 1, ["0000000001-24-000001", "0000000001-24-000002",
                                           "0000000001-24-000003"])]
    assert_same_as_a_full_rebuild(conn)


def test_q8_counts_a_restated_sale_once(conn: psycopg.Connection) -> None:
    """A 4/A restating the day's sale: the day sums the amendment's line, not both."""
    load(conn, filing("0000000001-24-000001", Line("M", MAY3, "100", "10"),
                      Line("S", MAY3, "100", "50"), filed=MAY6),
         filing("0000000001-24-000002", Line("S", MAY3, "100", "52"), filed=MAY9, form="4/A",
                original_submission=MAY6))
    (day,) = exercises_and_sales(conn)
    assert day[2:] == (Decimal("100"), Decimal("1000.00"), Decimal("100"), Decimal("5200.00"))
    assert_same_as_a_full_rebuild(conn)


def test_q7_counts_from_the_deemed_execution_date(conn: psycopg.Connection) -> None:
    """A plan sale traded Monday 6 May, deemed executed Wednesday 8 May, filed Friday 10 May:
    two business days, on time. The same sale without a deemed date is late."""
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY6, deemed=MAY8), filed=MAY10),
        filing("0000000001-24-000002", Line("S", MAY6), filed=MAY10, owners=(Y,)),
    )
    late = [r["accession_number"] for r in rows(conn, documented("7"))]
    assert late == ["0000000001-24-000002"]


def late_filings(conn: psycopg.Connection) -> list[tuple]:
    """(accession, late lines, most business days late) by docs/queries.md question 7."""
    return [(r["accession_number"], r["late_rows"], r["max_business_days"])
            for r in rows(conn, documented("7"))]


def test_q7_an_amendment_is_late_from_its_originals_filing(conn: psycopg.Connection) -> None:
    """A 4/A filed a week after the sale, whose date of original submission is mistyped as
    its own filing day, is measured from that date until its original arrives (late), then
    from the original's filing (on time). The stored totals follow (filing_trade_totals,
    migration 0014)."""
    amendment = filing("0000000001-24-000002", Line("S", MAY3, "100", "11"), filed=MAY10,
                       form="4/A", original_submission=MAY10)
    load(conn, amendment)
    assert late_filings(conn) == [("0000000001-24-000002", 1, 5)]
    load(conn, filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), filed=MAY6))
    assert conn.execute("SELECT match_rule FROM amendment_links").fetchone() == (
        "period_of_report",)
    assert late_filings(conn) == []
    assert_same_as_a_full_rebuild(conn)


def test_q7_and_the_sales_totals_follow_the_superseded_lines(conn: psycopg.Connection) -> None:
    """A late original corrected by its 4/A: the restated line counts once, as the 4/A's,
    measured from the original's filing; the sales totals of question 3 move with it."""
    load(conn, filing("0000000001-24-000001", Line("S", MAY3, "100", "10"), filed=MAY9))
    assert late_filings(conn) == [("0000000001-24-000001", 1, 4)]
    load(conn, filing("0000000001-24-000002", Line("S", MAY3, "120", "10"), filed=MAY10,
                      form="4/A", original_submission=MAY9))
    assert late_filings(conn) == [("0000000001-24-000002", 1, 4)]
    sales = rows(conn, documented("3"))
    assert [(r["sales"], r["shares"]) for r in sales] == [(1, Decimal("120"))]
    conn.execute("DELETE FROM filings WHERE accession_number = '0000000001-24-000002'")
    assert late_filings(conn) == [("0000000001-24-000001", 1, 4)]
    assert_same_as_a_full_rebuild(conn)


def test_q7_recounts_when_the_holidays_change(conn: psycopg.Connection) -> None:
    """A sale on Friday 3 May filed Wednesday 8 May is late (3 business days); with a day of
    mourning on Monday 6 May declared afterwards, it was on time."""
    load(conn, filing("0000000001-24-000001", Line("S", MAY3), filed=MAY8))
    assert late_filings(conn) == [("0000000001-24-000001", 1, 3)]
    conn.execute("INSERT INTO federal_holidays VALUES (%s, 'Day of mourning')", (MAY6,))
    assert late_filings(conn) == []
    assert_totals_add_up(conn)
    conn.execute("DELETE FROM federal_holidays WHERE holiday = %s", (MAY6,))
    assert late_filings(conn) == [("0000000001-24-000001", 1, 3)]


def test_q11_shows_the_original_lines_the_amendment_did_not_repeat(
    conn: psycopg.Connection,
) -> None:
    load(conn, ORIGINAL, AMENDMENT)
    changes = rows(conn, documented("11"))
    by_original_line = {r["original_sequence"]: r for r in changes}
    assert set(by_original_line) == {1, 2}
    assert by_original_line[1]["amended_sequence"] is None  # not repeated: still current
    assert by_original_line[2]["amended_sequence"] == 1


def test_q11_shows_the_prices_of_a_corrected_derivative_line(conn: psycopg.Connection) -> None:
    """A 4/A correcting an option exercise's price: question 11 shows the derivative's price
    before and after (the stock price column is empty on derivative lines)."""
    load(
        conn,
        filing("0000000001-24-000001", Line("M", MAY3, "100", "10", derivative=True),
               Line("S", MAY3, "100", "50"), filed=MAY6),
        filing("0000000001-24-000002", Line("M", MAY3, "100", "12", derivative=True),
               filed=MAY9, form="4/A", original_submission=MAY6),
    )
    changes = {(r["table_name"], r["original_sequence"]): r for r in rows(conn, documented("11"))}
    exercise = changes[("derivative_transactions", 1)]
    assert (exercise["status"], exercise["original_price"], exercise["amended_price"]) == (
        "superseded", Decimal("10"), Decimal("12"))
    sale = changes[("non_derivative_transactions", 1)]
    assert (sale["status"], sale["original_price"], sale["amended_price"]) == (
        "unchanged", Decimal("50"), None)


def test_whole_history_questions_count_an_amended_joint_filing_once(
    conn: psycopg.Connection,
) -> None:
    """Directors X and Y report jointly a purchase and a sale; their 4/A corrects the purchase
    (100 -> 150 shares); Z alone sells too. Questions 1, 4, 9 and 15 see each line once (not
    once per joint owner), the purchase as amended (never both versions); question 10 shows the
    link and the one line replaced, 16 nothing to check by hand."""
    load(
        conn,
        filing("0000000001-24-000001", Line("P", MAY3, "100", "10"), Line("S", MAY6, "200", "11"),
               filed=MAY8, owners=(X, Y)),
        filing("0000000001-24-000002", Line("P", MAY3, "150", "10"), filed=MAY10, form="4/A",
               original_submission=MAY8, owners=(X, Y)),
        filing("0000000001-24-000003", Line("S", MAY7, "50", "12"), filed=MAY8, owners=(Z,)),
    )
    purchases = rows(conn, documented_with("1", ("date '2023-04-10'", "date '2024-05-31'")))
    assert [(r["shares"], r["value"]) for r in purchases] == [(Decimal("150"), Decimal("1500.00"))]
    months = rows(conn, documented_with("4", ("date '2023-01-01'", "date '2024-01-01'"),
                                        ("date '2023-12-31'", "date '2024-12-31'")))
    assert [(r["month"], r["trades"], r["net_shares"], r["net_value"]) for r in months] == [
        ("2024-05", 3, Decimal("-100"), Decimal("-1300.00"))]
    sales = rows(conn, documented("9"))
    assert [(r["shares"], r["value"]) for r in sales] == [
        (Decimal("200"), Decimal("2200.00")), (Decimal("50"), Decimal("600.00"))]
    ys_trades = rows(conn, documented_with("15", ("1494730::bigint", f"{Y}::bigint")))
    assert [(r["transaction_code"], r["shares"], r["owner_count"]) for r in ys_trades] == [
        ("P", Decimal("150"), 2), ("S", Decimal("200"), 2)]
    (amendment,) = rows(conn, documented("10"))
    assert (amendment["original_accession"], amendment["match_rule"], amendment["transactions"],
            amendment["its_lines"], amendment["original_lines_replaced"]) == (
        "0000000001-24-000001", "date_of_original_submission", 1, "restates 1", 1)
    assert rows(conn, documented("16")) == []  # nothing ambiguous to check by hand


def test_q5_holdings_after_an_amended_line_are_the_amendment_s(conn: psycopg.Connection) -> None:
    """X's sale leaves 1,000 shares; the 4/A corrects that to 900, and a later joint filing
    of X and Y leaves 800: question 5 shows X's holdings per filing as amended (900, not
    1,000), the joint filing's once."""
    load(
        conn,
        filing("0000000001-24-000001", Line("S", MAY3, "100", "10", owned_after="1000"),
               filed=MAY6),
        filing("0000000001-24-000002", Line("S", MAY3, "100", "10", owned_after="900"),
               filed=MAY9, form="4/A", original_submission=MAY6),
        filing("0000000001-24-000003", Line("S", JUNE3, "100", "10", owned_after="800"),
               filed=JUNE3, owners=(X, Y)),
    )
    text = documented_with("5", ("1494730::bigint", f"{X}::bigint"),
                           ("1318605::bigint", f"{ISSUER}::bigint"))
    assert [(r["accession_number"], r["shares_after"]) for r in rows(conn, text)] == [
        ("0000000001-24-000002", Decimal("900")), ("0000000001-24-000003", Decimal("800"))]


def test_q14_shows_an_amended_joint_derivative_line_once(conn: psycopg.Connection) -> None:
    """X and Y report an option exercise jointly; their 4/A corrects its price: question 14
    (the two accessions named) shows the amended line once, its own price and value apart
    from the stock's `value` (empty on derivative lines)."""
    load(
        conn,
        filing("0000000001-24-000001", Line("M", MAY3, "100", "10", derivative=True),
               filed=MAY6, owners=(X, Y)),
        filing("0000000001-24-000002", Line("M", MAY3, "100", "12", derivative=True),
               filed=MAY9, form="4/A", original_submission=MAY6, owners=(X, Y)),
    )
    text = documented_with("14", ("'0001104659-23-005474'", "'0000000001-24-000001'"),
                           ("'0001105472-03-000001'", "'0000000001-24-000002'"))
    assert [(r["accession_number"], r["derivative_price"], r["derivative_value"],
             r["conversion_or_exercise_price"], r["underlying_security_shares"], r["value"])
            for r in rows(conn, text)] == [
        ("0000000001-24-000002", Decimal("12"), Decimal("1200"), Decimal("5"), Decimal("100"),
         None)]


CONSTRUCTED_CASES = [
    ORIGINAL,
    AMENDMENT,
    filing("0000000002-24-000001", Line("P", MAY3, "3000", "10"), filed=MAY6, owners=(X,)),
    filing("0000000002-24-000002", Line("P", MAY3, "3000", "10"), filed=MAY9, form="4/A",
           original_submission=MAY6, owners=(X, Y)),
    filing("0000000003-24-000001", Line("S", MAY3, "100", "10"), Line("S", MAY3, "200", "11"),
           Line("M", MAY3, "300", "5"), Line("M", MAY3, "300", "0", derivative=True),
           filed=MAY6, owners=(X, Y, Z)),
    filing("0000000003-24-000002", Line("S", MAY3, "210", "11"), filed=MAY9, form="4/A",
           original_submission=MAY6, owners=(X, Y, Z)),
    filing("0000000004-24-000001", Line("S", MAY3, "100", "10", deemed=MAY6), filed=MAY10),
    filing("0000000004-24-000002", filed=MAY10, form="4/A", original_submission=MAY10,
           period=MAY3, holdings=1),
]


@pytest.mark.parametrize("query", documented_queries(), ids=lambda q: q.title.split(".")[0])
def test_every_documented_query_runs_on_constructed_cases(
    conn: psycopg.Connection, query
) -> None:
    """Amendments, joint filings, ambiguity: every documented query runs, and none returns
    a row twice."""
    load(conn, *CONSTRUCTED_CASES)
    result = conn.execute(query.sql).fetchall()
    assert len(result) == len(set(map(repr, result))), query.title


# ---------------------------------------------------------------------------
# Migration 0009 on a loaded database
# ---------------------------------------------------------------------------


def test_migration_0009_upgrades_a_loaded_database_and_downgrades_to_0006(
    database_url: str, conn: psycopg.Connection
) -> None:
    from alembic import command

    load(conn, ORIGINAL, AMENDMENT, *CONSTRUCTED_CASES[2:4])
    stored = stored_analyst_rows(conn)
    config = db.alembic_config(database_url)
    command.downgrade(config, "0006")
    db.dispose_engines()
    gone = conn.execute(
        "SELECT to_regclass('filing_summaries'), to_regclass('amended_lines'), "
        "to_regclass('business_calendar'), to_regprocedure('filing_superseded_by(text)') IS NOT NULL"
    ).fetchone()
    assert gone == (None, None, None, True)
    # 0006's views are back, with their own answer (the whole original superseded)
    assert conn.execute(
        "SELECT DISTINCT accession_number FROM insider_trades WHERE issuer_cik = %s", (ISSUER,)
    ).fetchall() != []
    command.upgrade(config, "head")  # the backfill rebuilds what the loader stored
    db.dispose_engines()
    assert stored_analyst_rows(conn) == stored
    assert current(conn)[:2] == AFTER_AMENDMENT


def _jit_default(conn: psycopg.Connection) -> list[str]:
    row = conn.execute(
        "SELECT setconfig FROM pg_db_role_setting WHERE setrole = 0 AND setdatabase = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()
    return [setting for setting in (row[0] if row else []) if setting.startswith("jit=")]


def test_migration_0010_turns_jit_off_for_the_database_and_back(
    database_url: str, conn: psycopg.Connection
) -> None:
    from alembic import command

    load(conn, ORIGINAL, AMENDMENT)
    config = db.alembic_config(database_url)
    command.downgrade(config, "0009")
    db.dispose_engines()
    assert _jit_default(conn) == []
    assert conn.execute("SELECT to_regclass('ix_amended_lines_superseded')").fetchone()[0] is None
    command.upgrade(config, "head")
    db.dispose_engines()
    assert _jit_default(conn) == ["jit=off"]
    with db.connect(database_url, autocommit=True) as fresh:  # a new session gets the default
        assert fresh.execute("SHOW jit").fetchone()[0] == "off"
    assert current(conn) == AFTER_AMENDMENT


def _accession_ratio(conn: psycopg.Connection) -> list[str]:
    options = conn.execute(
        "SELECT attoptions FROM pg_attribute WHERE attname = 'accession_number' "
        "AND attrelid = 'non_derivative_transactions'::regclass").fetchone()[0]
    return [o for o in options or [] if o.startswith("n_distinct=")]


def test_migration_0011_flags_the_superseded_lines_of_a_loaded_database(
    database_url: str, conn: psycopg.Connection
) -> None:
    """0010 -> 0011 on a database with an amended filing: the flag is set where amended_lines
    says superseded, and insider_trades answers as before; the downgrade drops it."""
    from alembic import command

    load(conn, ORIGINAL, AMENDMENT, *CONSTRUCTED_CASES[2:4])
    before = current(conn)
    config = db.alembic_config(database_url)
    command.downgrade(config, "0010")
    db.dispose_engines()
    assert conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'superseded'"
    ).fetchone()[0] == 0
    assert current(conn) == before  # 0010's anti-join
    assert _accession_ratio(conn) == []
    command.upgrade(config, "head")
    db.dispose_engines()
    assert flagged_lines(conn) == superseded_lines(conn) != []
    # the planner's ratio of filings to rows is fixed, not sampled
    assert _accession_ratio(conn) == ["n_distinct=-0.2"]
    assert current(conn) == before
    assert_same_as_a_full_rebuild(conn)


def test_the_current_rows_are_filtered_in_the_scan_without_a_join(
    conn: psycopg.Connection,
) -> None:
    """insider_trades reads the flag: count(*) scans the two transaction tables and nothing
    else (no anti-join against amended_lines: what spilled 30 M rows to disk)."""
    load(conn, ORIGINAL, AMENDMENT)
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN SELECT count(*) FROM insider_trades"))
    assert "amended_lines" not in plan and "Join" not in plan, plan
    assert "superseded" in plan
