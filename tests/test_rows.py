"""ingest.rows: what a transaction line carries of its filing's footnotes (pure, no database)."""

from __future__ import annotations

from ingest.rows import FOOTNOTE_REFS_TABLE, FOOTNOTES_TABLE, add_line_footnotes, footnote_order

ACC = "0000000000-24-000001"


def test_footnotes_are_in_reading_order() -> None:
    ids = ["F10", "F2", "Fa", "F1", "F01x"]
    assert sorted(ids, key=footnote_order) == ["F01x", "F1", "F2", "F10", "Fa"]


def test_a_transaction_line_gets_its_own_footnotes_and_whether_one_mentions_a_plan() -> None:
    children = {
        "non_derivative_transactions": [(ACC, 1, "Common Stock"), (ACC, 2, "Common Stock")],
        "derivative_transactions": [(ACC, 1, "Option")],
        "non_derivative_holdings": [(ACC, 1, "Common Stock")],
        FOOTNOTES_TABLE: [(ACC, "F1", "Sold under a Rule 10B5-1 trading plan."),
                          (ACC, "F2", "Weighted average price."), (ACC, "F10", None),
                          (ACC, "F3", "Rule 10b-5 is another rule.")],
        FOOTNOTE_REFS_TABLE: [
            (ACC, "F10", "non_derivative_transactions", 1, "transaction_price_per_share"),
            (ACC, "F2", "non_derivative_transactions", 1, "transaction_price_per_share"),
            (ACC, "F2", "non_derivative_transactions", 1, "transaction_shares"),  # twice
            (ACC, "F1", "non_derivative_transactions", 2, "transaction_code"),
            (ACC, "F3", "derivative_transactions", 1, "security_title"),
            (ACC, "F1", "non_derivative_holdings", 1, "security_title"),
            (ACC, "F1", "non_derivative_transactions", None, "table"),  # not a line's
        ],
    }
    add_line_footnotes(children)
    assert children["non_derivative_transactions"] == [
        (ACC, 1, "Common Stock", ["F2", "F10"], False),
        (ACC, 2, "Common Stock", ["F1"], True),
    ]
    assert children["derivative_transactions"] == [(ACC, 1, "Option", ["F3"], False)]
    assert children["non_derivative_holdings"] == [(ACC, 1, "Common Stock")]  # holdings: none


def test_a_line_without_footnotes_gets_none() -> None:
    children = {"non_derivative_transactions": [(ACC, 1, "Common Stock")]}
    add_line_footnotes(children)
    assert children["non_derivative_transactions"] == [(ACC, 1, "Common Stock", [], False)]
