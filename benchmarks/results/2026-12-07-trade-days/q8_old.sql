WITH exercised AS (
    SELECT issuer_cik, issuer_ticker, owner_ciks, owners, transaction_date,
           sum(shares) AS exercised_shares, round(sum(shares * price), 2) AS exercise_cost
    FROM insider_trades
    WHERE transaction_code IN ('M', 'X') AND NOT is_derivative
    GROUP BY 1, 2, 3, 4, 5
),
sold AS (
    SELECT issuer_cik, owner_ciks, transaction_date,
           sum(shares) AS sold_shares, round(sum(value), 2) AS proceeds
    FROM insider_trades
    WHERE transaction_code = 'S' AND NOT is_derivative
    GROUP BY 1, 2, 3
)
SELECT e.transaction_date, e.issuer_ticker, e.owners, e.exercised_shares, e.exercise_cost,
       s.sold_shares, s.proceeds
FROM exercised e
JOIN sold s USING (issuer_cik, owner_ciks, transaction_date)
ORDER BY e.transaction_date, e.issuer_cik;
