SELECT d.transaction_date, i.trading_symbol AS issuer_ticker, d.owners, d.exercised_shares,
       round(d.exercise_cost, 2) AS exercise_cost, d.sold_shares,
       round(d.sale_value, 2) AS proceeds
FROM insider_trade_days d
LEFT JOIN issuers i ON i.cik = d.issuer_cik
WHERE d.exercise_lines > 0 AND d.sale_lines > 0
ORDER BY d.transaction_date, d.issuer_cik;
