"""Constructed filings for the amendment and joint-filing tests: ParsedFilings as the parser
would give them, built from a few lines of Python (no XML).

Real 4/A filings are few in the corpus; these build the cases issue 12 lists (a joint filer
added by a 4/A, a partial 4/A, two same-day originals, an original missing from the
database, ...) with exactly the values a test needs. ``Line`` is one transaction row;
``filing()`` wraps lines into a Form 3/4/5 or amendment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ingest.records import HeaderFiler, OwnershipDocument, ParsedFiling, SubmissionHeader

NEW_YORK = ZoneInfo("America/New_York")
ISSUER = 320193
OWNER = 1462356

# Codes that acquire (the rest dispose) unless a line says otherwise.
_ACQUIRING = set("PAMXCLWJ")


@dataclass(frozen=True, slots=True)
class Line:
    """One transaction row (non-derivative unless ``derivative``)."""

    code: str = "S"
    day: date = date(2024, 5, 3)
    shares: str = "100"
    price: str | None = "10"
    title: str = "Common Stock"
    derivative: bool = False
    direct_or_indirect: str = "D"
    acquired_disposed: str | None = None
    deemed: date | None = None
    timeliness: str | None = None
    swap: bool | None = None
    x0101_value: str | None = None  # X0101's transactionValue (the price, in 2003 documents)
    form_type: str = "4"
    owned_after: str | None = None

    def row(self) -> dict[str, object]:
        row: dict[str, object] = {
            "security_title": self.title,
            "transaction_date": self.day,
            "deemed_execution_date": self.deemed,
            "transaction_form_type": self.form_type,
            "transaction_code": self.code,
            "equity_swap_involved": self.swap,
            "transaction_timeliness": self.timeliness,
            "transaction_shares": Decimal(self.shares),
            "transaction_price_per_share": None if self.price is None else Decimal(self.price),
            "transaction_value": None if self.x0101_value is None else Decimal(self.x0101_value),
            "transaction_acquired_disposed_code": self.acquired_disposed
            or ("A" if self.code in _ACQUIRING else "D"),
            "shares_owned_following_transaction": (
                None if self.owned_after is None else Decimal(self.owned_after)
            ),
            "direct_or_indirect_ownership": self.direct_or_indirect,
        }
        if self.derivative:
            row.update(
                conversion_or_exercise_price=Decimal("5"),
                underlying_security_title="Common Stock",
                underlying_security_shares=Decimal(self.shares),
            )
        return row


def filing(
    accession: str,
    *lines: Line,
    filed: date | None,
    form: str = "4",
    original_submission: date | None = None,
    owners: tuple[int, ...] = (OWNER,),
    issuer: int = ISSUER,
    ticker: str = "AAPL",
    period: date | None = None,
    accepted: datetime | None = None,
    holdings: int = 0,
    officer: bool = False,
) -> ParsedFiling:
    """A filing of ``form`` by ``owners`` (directors, or officers) in ``issuer``.

    ``filed`` None makes a bare-XML filing (no SGML header: no filed date). The period
    defaults to the earliest line's date, else the filed date; the acceptance time to
    17:00 New York time on the filed date.
    """
    days = [line.day for line in lines]
    period = period or (min(days) if days else filed)
    entries: dict[str, list[dict[str, object]]] = {
        "non_derivative_transactions": [ln.row() for ln in lines if not ln.derivative],
        "derivative_transactions": [ln.row() for ln in lines if ln.derivative],
        "non_derivative_holdings": [
            {"security_title": "Common Stock", "shares_owned_following_transaction": Decimal(5000),
             "direct_or_indirect_ownership": "I", "nature_of_ownership": "By Trust"}
            for _ in range(holdings)
        ],
    }
    document = OwnershipDocument(
        filing={
            "document_type": form,
            "period_of_report": period,
            "date_of_original_submission": original_submission,
            "issuer_cik": issuer,
            "issuer_name": f"ISSUER {issuer}",
            "issuer_trading_symbol": ticker,
        },
        owners=[
            {"rpt_owner_cik": cik, "rpt_owner_name": f"OWNER {cik}", "is_director": not officer,
             "is_officer": officer, "officer_title": "CEO" if officer else None}
            for cik in owners
        ],
        entries={table: rows for table, rows in entries.items() if rows},
        footnotes=[],
        footnote_refs=[],
        signatures=[],
        unmapped=[],
    )
    header = None
    if filed is not None:
        header = SubmissionHeader(
            accession_number=accession,
            form_type=form,
            filed_date=filed,
            accepted_at=accepted
            or datetime(filed.year, filed.month, filed.day, 17, 0, tzinfo=NEW_YORK),
            period=period,
            filers=[HeaderFiler("reporting-owner", cik, f"OWNER {cik}") for cik in owners],
        )
    return ParsedFiling(
        accession,
        "submission" if header else "xml",
        header,
        document,
        None,
        repr((accession, form, filed, original_submission, owners, issuer, ticker, period,
              accepted, holdings, officer, lines)).encode(),
    )


def business_day_after(day: date, days: int) -> date:
    """``days`` weekdays after ``day`` (no holidays: pick dates away from them)."""
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day
