WITH params AS (SELECT 2 AS allowed_business_days)
SELECT t.accession_number, t.issuer_ticker, t.owner_names[1] AS first_owner,
       count(*) AS late_rows, min(t.transaction_date) AS earliest_trade,
       t.first_filed_date AS first_filed,
       max(t.first_filed_business_days_after) AS max_business_days
FROM insider_trades t, params p
WHERE t.form_type IN ('4', '4/A') AND t.transaction_form_type = '4'
  AND (t.transaction_timeliness = 'L'
       OR t.first_filed_business_days_after > p.allowed_business_days)
GROUP BY t.accession_number, t.issuer_ticker, t.owner_names[1], t.first_filed_date
ORDER BY max_business_days DESC, t.accession_number;