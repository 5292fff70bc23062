WITH joint AS (
    SELECT accession_number, owner_count, owner_names[1] AS first_owner
    FROM filing_summaries
    WHERE owner_count > 1
),
lines AS (
    SELECT t.accession_number, sum(t.lines) AS transactions, sum(t.value) AS value
    FROM filing_trade_totals t
    JOIN joint j USING (accession_number)
    GROUP BY t.accession_number
)
SELECT l.accession_number, f.issuer_trading_symbol AS issuer_ticker, j.owner_count,
       j.first_owner, l.transactions,
       round(l.value, 2) AS value,
       round(l.value * j.owner_count, 2) AS value_if_joined_per_owner
FROM lines l
JOIN joint j USING (accession_number)
JOIN filings f USING (accession_number)
ORDER BY j.owner_count DESC, l.accession_number;
