\timing on
BEGIN;
CREATE TEMP TABLE batch AS SELECT accession_number FROM filings ORDER BY accession_number DESC LIMIT 60000;
SELECT refresh_trade_totals(ARRAY(SELECT accession_number FROM batch));
SELECT refresh_trade_days(ARRAY(SELECT accession_number FROM batch));
SELECT refresh_trade_days(ARRAY(SELECT accession_number FROM batch));
ROLLBACK;
BEGIN;
CREATE TEMP TABLE batch AS SELECT accession_number FROM filings ORDER BY accession_number DESC OFFSET 100000 LIMIT 500;
SELECT refresh_trade_totals(ARRAY(SELECT accession_number FROM batch));
SELECT refresh_trade_days(ARRAY(SELECT accession_number FROM batch));
SELECT refresh_trade_days(ARRAY(SELECT accession_number FROM batch));
ROLLBACK;
