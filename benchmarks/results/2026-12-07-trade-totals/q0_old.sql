WITH used AS (
    SELECT transaction_code, count(*) AS transactions,
           count(*) FILTER (WHERE transaction_timeliness = 'E') AS early,
           count(*) FILTER (WHERE equity_swap_involved) AS swaps
    FROM insider_trades
    GROUP BY transaction_code
)
SELECT c.code, c.category, c.meaning,
       coalesce(CASE c.code
                    WHEN 'V' THEN (SELECT sum(early) FROM used)
                    WHEN 'K' THEN (SELECT sum(swaps) FROM used)
                    ELSE (SELECT u.transactions FROM used u WHERE u.transaction_code = c.code)
                END, 0) AS transactions
FROM transaction_codes c
ORDER BY transactions DESC, c.code;
