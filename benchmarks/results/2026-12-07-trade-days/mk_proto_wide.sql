\timing on
SET work_mem = '256MB';
DROP TABLE IF EXISTS proto_wide;
CREATE TABLE proto_wide AS
SELECT issuer_cik, owner_ciks, transaction_date,
       (array_agg(owners ORDER BY accession_number DESC))[1] AS owners,
       count(*)::int AS lines,
       array_agg(DISTINCT transaction_code) AS transaction_codes,
       sum(shares) FILTER (WHERE transaction_code = 'P') AS purchased_shares,
       sum(value) FILTER (WHERE transaction_code = 'P') AS purchase_value,
       count(*) FILTER (WHERE transaction_code = 'P')::int AS purchase_lines,
       count(*) FILTER (WHERE transaction_code IN ('M', 'X'))::int AS exercise_lines,
       sum(shares) FILTER (WHERE transaction_code IN ('M', 'X')) AS exercised_shares,
       sum(shares * price) FILTER (WHERE transaction_code IN ('M', 'X')) AS exercise_cost,
       count(*) FILTER (WHERE transaction_code = 'S')::int AS sale_lines,
       sum(shares) FILTER (WHERE transaction_code = 'S') AS sold_shares,
       sum(value) FILTER (WHERE transaction_code = 'S') AS proceeds,
       array_agg(DISTINCT accession_number) AS accessions
FROM insider_trades
WHERE NOT is_derivative
GROUP BY 1, 2, 3;
CREATE INDEX proto_wide_key ON proto_wide (coalesce(issuer_cik, -1), coalesce(owner_ciks, '{}'), coalesce(transaction_date, '-infinity'));
CREATE INDEX proto_wide_acc ON proto_wide USING gin (accessions);
CREATE INDEX proto_wide_buys ON proto_wide (issuer_cik, transaction_date) WHERE purchase_lines > 0;
CREATE INDEX proto_wide_exsale ON proto_wide (transaction_date, issuer_cik) WHERE exercise_lines > 0 AND sale_lines > 0;
ANALYZE proto_wide;
SELECT count(*), pg_size_pretty(pg_total_relation_size('proto_wide')) FROM proto_wide;
