\timing on
BEGIN;
CREATE TEMP TABLE batch AS SELECT accession_number FROM filings ORDER BY accession_number DESC LIMIT 60000;
-- as if these filings had never been counted: their days and records removed
DELETE FROM insider_trade_days d USING insider_trade_day_filings f, unnest(f.transaction_dates) AS dt
WHERE f.accession_number IN (SELECT accession_number FROM batch)
  AND (coalesce(d.issuer_cik, -1), coalesce(d.owner_ciks, '{}'::bigint[]), coalesce(d.transaction_date, '-infinity'::date))
    = (coalesce(f.issuer_cik, -1), coalesce(f.owner_ciks, '{}'::bigint[]), coalesce(dt, '-infinity'::date));
DELETE FROM insider_trade_day_filings WHERE accession_number IN (SELECT accession_number FROM batch);
SELECT refresh_trade_days(ARRAY(SELECT accession_number FROM batch));
ROLLBACK;
