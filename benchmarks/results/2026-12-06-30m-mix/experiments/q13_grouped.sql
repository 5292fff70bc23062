WITH lines AS (
    SELECT accession_number, count(*) AS transactions, sum(value) AS value
    FROM insider_trades
    WHERE accession_number IN (SELECT accession_number FROM filing_summaries
                               WHERE owner_count > 1)
    GROUP BY accession_number
)
SELECT l.accession_number, f.issuer_trading_symbol AS issuer_ticker, s.owner_count,
       s.owner_names[1] AS first_owner, l.transactions,
       round(l.value, 2) AS value,
       round(l.value * s.owner_count, 2) AS value_if_joined_per_owner
FROM lines l
JOIN filing_summaries s USING (accession_number)
JOIN filings f USING (accession_number)
ORDER BY s.owner_count DESC, l.accession_number;
