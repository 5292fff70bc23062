WITH params AS (SELECT 2 AS allowed_business_days),
late AS (
    SELECT t.accession_number, count(*) AS late_rows, min(t.transaction_date) AS earliest_trade,
           max(t.first_filed_business_days_after) AS max_business_days
    FROM insider_trades t, params p
    WHERE t.form_type IN ('4', '4/A') AND t.transaction_form_type = '4'
      AND (t.transaction_timeliness = 'L'
           OR t.first_filed_business_days_after > p.allowed_business_days)
    GROUP BY t.accession_number
)
SELECT l.accession_number, f.issuer_trading_symbol AS issuer_ticker,
       s.owner_names[1] AS first_owner, l.late_rows, l.earliest_trade,
       s.first_filed_date AS first_filed, l.max_business_days
FROM late l
JOIN filing_summaries s USING (accession_number)
JOIN filings f USING (accession_number)
ORDER BY l.max_business_days DESC, l.accession_number;
