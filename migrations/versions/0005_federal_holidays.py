"""Business days know the federal holidays: table ``federal_holidays``.

A Form 4 is due before the end of the second *business* day after the transaction, and
SEC's rules count as business days every day but Saturdays, Sundays and federal holidays
(17 CFR 240.0-3); EDGAR takes no filings on those days. ``business_days_between`` (and so
``insider_trades.filed_business_days_after`` and the late-filing query of docs/queries.md)
counted weekdays only: a trade on the Friday before 4 July 2023 filed on 5 July showed as 3
business days, one too many, flagged late.

``federal_holidays`` holds the statutory holidays of 5 U.S.C. 6103 as the federal government
observes them (a holiday on a Saturday is observed the Friday before, on a Sunday the Monday
after), 1990-2060, Juneteenth from 2021. Days EDGAR closed for other reasons (a national day
of mourning, an executive order) are not statutory: insert them as rows and every business
day count follows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FIRST_YEAR, LAST_YEAR = 1990, 2060


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Monday 0) of the month; n = -1 for the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    if day.weekday() == 5:  # Saturday: the Friday before
        return day - timedelta(days=1)
    if day.weekday() == 6:  # Sunday: the Monday after
        return day + timedelta(days=1)
    return day


def federal_holidays(year: int) -> list[tuple[date, str]]:
    """The observed federal holidays of ``year`` (5 U.S.C. 6103). Frozen in this migration."""
    fixed = [
        (date(year, 1, 1), "New Year's Day"),
        (date(year, 7, 4), "Independence Day"),
        (date(year, 11, 11), "Veterans Day"),
        (date(year, 12, 25), "Christmas Day"),
    ]
    if year >= 2021:
        fixed.append((date(year, 6, 19), "Juneteenth National Independence Day"))
    days = [(_observed(day), name) for day, name in fixed]
    days += [
        (_nth_weekday(year, 1, 0, 3), "Birthday of Martin Luther King, Jr."),
        (_nth_weekday(year, 2, 0, 3), "Washington's Birthday"),
        (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 10, 0, 2), "Columbus Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
    ]
    return sorted(days)


# Weekdays d with from_date < d <= to_date (negative when to_date < from_date):
# W(d) = weekdays in [1900-01-01, d), 1900-01-01 being a Monday. As in migration 0003.
_WEEKDAYS_BETWEEN = """
    SELECT (5 * floor((to_date + 1 - date '1900-01-01') / 7.0)::int
            + least((to_date + 1 - date '1900-01-01')
                    - 7 * floor((to_date + 1 - date '1900-01-01') / 7.0)::int, 5))
         - (5 * floor((from_date + 1 - date '1900-01-01') / 7.0)::int
            + least((from_date + 1 - date '1900-01-01')
                    - 7 * floor((from_date + 1 - date '1900-01-01') / 7.0)::int, 5))"""

BUSINESS_DAYS_SQL = f"""
CREATE OR REPLACE FUNCTION business_days_between(from_date date, to_date date) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- Business days: the weekdays less the weekday rows of federal_holidays in that span.
    {_WEEKDAYS_BETWEEN.strip()}
         - sign(to_date - from_date)::int * (
            SELECT count(*)::int FROM federal_holidays h
            WHERE h.holiday > least(from_date, to_date)
              AND h.holiday <= greatest(from_date, to_date)
              AND extract(isodow FROM h.holiday) < 6)
$$
"""

# Migration 0003's weekday-only version, restored by the downgrade.
WEEKDAYS_ONLY_SQL = f"""
CREATE OR REPLACE FUNCTION business_days_between(from_date date, to_date date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $${_WEEKDAYS_BETWEEN}
$$
"""

COMMENTS = {
    "TABLE federal_holidays": (
        "Days that are not business days besides weekends: the federal holidays of 5 U.S.C. "
        "6103 as observed, 1990-2060 (migration 0005). Insert other days EDGAR was closed "
        "(national days of mourning, executive orders): business_days_between follows."
    ),
    "FUNCTION business_days_between(date, date)": (
        "Business days d with from_date < d <= to_date (weekdays that are not in "
        "federal_holidays); negative when to_date < from_date."
    ),
}


def upgrade() -> None:
    holidays = op.create_table(
        "federal_holidays",
        sa.Column("holiday", sa.Date, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    rows: dict[date, str] = {}
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        for day, name in federal_holidays(year):
            rows.setdefault(day, name)  # New Year's observed on 31 December is unique anyway
    op.bulk_insert(holidays, [{"holiday": d, "name": n} for d, n in sorted(rows.items())])
    op.execute(BUSINESS_DAYS_SQL)
    for target, text in COMMENTS.items():
        literal = "'" + text.replace("'", "''") + "'"
        op.execute(f"COMMENT ON {target} IS {literal}")


def downgrade() -> None:
    op.execute(WEEKDAYS_ONLY_SQL)  # first: the new body reads the table
    op.drop_table("federal_holidays")
