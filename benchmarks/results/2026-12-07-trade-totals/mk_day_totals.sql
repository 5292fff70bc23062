SET work_mem = '256MB';
\timing on
CREATE TABLE x_day_totals AS
SELECT t.accession_number, t.is_derivative, t.transaction_code, t.transaction_date,
       t.issuer_cik, t.owner_ciks, count(*) AS lines, sum(t.shares) AS shares,
       sum(t.value) AS value, sum(t.shares * t.price) AS shares_times_price
FROM insider_trades t
GROUP BY 1, 2, 3, 4, 5, 6;
ANALYZE x_day_totals;
SELECT count(*), pg_size_pretty(pg_total_relation_size('x_day_totals')) FROM x_day_totals;
