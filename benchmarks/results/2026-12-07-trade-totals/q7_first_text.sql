WITH late AS (
    SELECT t.accession_number, sum(t.late_lines) AS late_rows,
           min(t.earliest_late_trade) AS earliest_trade,
           max(t.max_business_days_late) AS max_business_days
    FROM filing_trade_totals t
    WHERE t.late_lines > 0
    GROUP BY t.accession_number
)
SELECT l.accession_number, f.issuer_trading_symbol AS issuer_ticker,
       s.owner_names[1] AS first_owner, l.late_rows, l.earliest_trade,
       s.first_filed_date AS first_filed, l.max_business_days
FROM late l
JOIN filing_summaries s USING (accession_number)
JOIN filings f USING (accession_number)
ORDER BY l.max_business_days DESC, l.accession_number;
