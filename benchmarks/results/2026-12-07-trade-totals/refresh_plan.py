"""python refresh_plan.py URL: refresh_trade_totals() of 60,000 filings (filed from 2019 on)
timed twice, and the plan of its SELECT with the list as a constant; all rolled back."""

import sys
import time

import psycopg

LATE = ("t.form_type IN ('4', '4/A') AND t.transaction_form_type = '4' "
        "AND (t.transaction_timeliness = 'L' OR t.first_filed_business_days_after > 2)")
SELECT = f"""EXPLAIN (ANALYZE)
SELECT t.accession_number, t.is_derivative, t.transaction_code, t.issuer_cik, t.form_type,
       t.aff10b5_one, count(*)::int, sum(t.shares), sum(t.value),
       (count(*) FILTER (WHERE t.footnote_mentions_10b5_1))::int,
       (count(*) FILTER (WHERE {LATE}))::int, min(t.transaction_date) FILTER (WHERE {LATE}),
       max(t.first_filed_business_days_after) FILTER (WHERE {LATE})
FROM insider_trades t
WHERE t.accession_number = ANY(%s::text[])
GROUP BY t.accession_number, t.is_derivative, t.transaction_code, t.issuer_cik, t.form_type,
         t.aff10b5_one"""


def main() -> None:
    with psycopg.connect(sys.argv[1]) as conn:
        accessions = [row[0] for row in conn.execute(
            "SELECT accession_number FROM filings WHERE filed_date >= '2019-01-01' "
            "ORDER BY filed_date LIMIT 60000")]
        for (line,) in conn.execute(SELECT, (accessions,)):
            print(line)
        for _ in range(2):
            started = time.perf_counter()
            conn.execute("SELECT refresh_trade_totals(%s::text[])", (accessions,))
            print(f"refresh {time.perf_counter() - started:.2f} s")
        conn.rollback()


if __name__ == "__main__":
    main()
