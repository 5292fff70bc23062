import sys, time, psycopg
url = sys.argv[1]
with psycopg.connect(url) as conn:
    acc = [r[0] for r in conn.execute("SELECT accession_number FROM filings WHERE filed_date >= '2019-01-01' ORDER BY filed_date LIMIT 60000")]
    q = """EXPLAIN (ANALYZE) SELECT t.accession_number, t.is_derivative, t.transaction_code, t.issuer_cik,
           t.form_type, t.aff10b5_one, count(*)::int, sum(t.shares), sum(t.value),
           (count(*) FILTER (WHERE t.footnote_mentions_10b5_1))::int,
           (count(*) FILTER (WHERE t.form_type IN ('4', '4/A') AND t.transaction_form_type = '4' AND (t.transaction_timeliness = 'L' OR t.first_filed_business_days_after > 2)))::int,
           min(t.transaction_date) FILTER (WHERE t.form_type IN ('4', '4/A') AND t.transaction_form_type = '4' AND (t.transaction_timeliness = 'L' OR t.first_filed_business_days_after > 2)),
           max(t.first_filed_business_days_after) FILTER (WHERE t.form_type IN ('4', '4/A') AND t.transaction_form_type = '4' AND (t.transaction_timeliness = 'L' OR t.first_filed_business_days_after > 2))
    FROM insider_trades t
    WHERE t.accession_number = ANY(%s::text[])
    GROUP BY t.accession_number, t.is_derivative, t.transaction_code, t.issuer_cik,
             t.form_type, t.aff10b5_one"""
    for line in conn.execute(q, (acc,)):
        print(line[0])
    for i in range(2):
        s = time.perf_counter(); conn.execute("SELECT refresh_trade_totals(%s::text[])", (acc,)); print("refresh", time.perf_counter() - s)
    conn.rollback()
