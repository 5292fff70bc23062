WITH per_filing AS (
    SELECT accession_number, transaction_date,
           count(*) FILTER (WHERE transaction_code <> 'S') AS exercises,
           sum(shares) FILTER (WHERE transaction_code <> 'S') AS exercised_shares,
           sum(shares * price) FILTER (WHERE transaction_code <> 'S') AS exercise_cost,
           count(*) FILTER (WHERE transaction_code = 'S') AS sales,
           sum(shares) FILTER (WHERE transaction_code = 'S') AS sold_shares,
           sum(value) FILTER (WHERE transaction_code = 'S') AS proceeds
    FROM insider_trades
    WHERE transaction_code IN ('M', 'X', 'S') AND NOT is_derivative
    GROUP BY accession_number, transaction_date
),
keyed AS MATERIALIZED (
    SELECT s.issuer_cik, f.issuer_trading_symbol AS issuer_ticker, s.owner_ciks, s.owners, p.*
    FROM per_filing p
    LEFT JOIN filing_summaries s USING (accession_number)
    LEFT JOIN filings f USING (accession_number)
),
exercised AS (
    SELECT issuer_cik, issuer_ticker, owner_ciks, owners, transaction_date,
           sum(exercised_shares) AS exercised_shares, round(sum(exercise_cost), 2) AS exercise_cost
    FROM keyed WHERE exercises > 0
    GROUP BY 1, 2, 3, 4, 5
),
sold AS (
    SELECT issuer_cik, owner_ciks, transaction_date,
           sum(sold_shares) AS sold_shares, round(sum(proceeds), 2) AS proceeds
    FROM keyed WHERE sales > 0
    GROUP BY 1, 2, 3
)
SELECT e.transaction_date, e.issuer_ticker, e.owners, e.exercised_shares, e.exercise_cost,
       s.sold_shares, s.proceeds
FROM exercised e
JOIN sold s USING (issuer_cik, owner_ciks, transaction_date)
ORDER BY e.transaction_date, e.issuer_cik;
