WITH exercised AS (
    SELECT issuer_cik, owner_ciks, transaction_date, sum(shares) AS exercised_shares,
           round(sum(shares_times_price), 2) AS exercise_cost,
           min(accession_number) AS accession_number
    FROM x_day_totals
    WHERE transaction_code IN ('M', 'X') AND NOT is_derivative
    GROUP BY 1, 2, 3
),
sold AS (
    SELECT issuer_cik, owner_ciks, transaction_date,
           sum(shares) AS sold_shares, round(sum(value), 2) AS proceeds
    FROM x_day_totals
    WHERE transaction_code = 'S' AND NOT is_derivative
    GROUP BY 1, 2, 3
)
SELECT e.transaction_date, f.issuer_trading_symbol AS issuer_ticker, fs.owners,
       e.exercised_shares, e.exercise_cost, s.sold_shares, s.proceeds
FROM exercised e
JOIN sold s USING (issuer_cik, owner_ciks, transaction_date)
JOIN filing_summaries fs ON fs.accession_number = e.accession_number
JOIN filings f ON f.accession_number = e.accession_number
ORDER BY e.transaction_date, e.issuer_cik;
