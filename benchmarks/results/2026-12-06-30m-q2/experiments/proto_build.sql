\timing on
SET max_parallel_workers_per_gather = 2;
DROP TABLE IF EXISTS proto_nd, proto_d;
CREATE UNLOGGED TABLE proto_nd AS
SELECT n.*, s.issuer_cik, s.form_type, s.aff10b5_one, s.owner_ciks, s.is_director, s.is_officer, s.first_filed_date
FROM non_derivative_transactions n JOIN filing_summaries s USING (accession_number);
CREATE UNLOGGED TABLE proto_d AS
SELECT n.*, s.issuer_cik, s.form_type, s.aff10b5_one, s.owner_ciks, s.is_director, s.is_officer, s.first_filed_date
FROM derivative_transactions n JOIN filing_summaries s USING (accession_number);
VACUUM ANALYZE proto_nd; VACUUM ANALYZE proto_d;
SELECT pg_size_pretty(pg_table_size('proto_nd')), pg_size_pretty(pg_table_size('non_derivative_transactions')), pg_size_pretty(pg_table_size('proto_d')), pg_size_pretty(pg_table_size('derivative_transactions'));
