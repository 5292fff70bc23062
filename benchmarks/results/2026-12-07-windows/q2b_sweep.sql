WITH buys AS (
    SELECT DISTINCT d.issuer_cik, d.transaction_date, b.buyer, o.owner_cik
    FROM insider_trade_days d
    CROSS JOIN LATERAL (SELECT min(c) AS buyer FROM unnest(d.owner_ciks) AS c) b
    CROSS JOIN LATERAL unnest(d.owner_ciks) AS o(owner_cik)
    WHERE d.purchase_lines > 0
),
days AS (
    SELECT issuer_cik, transaction_date, true AS is_buyer, buyer AS who
    FROM buys WHERE buyer IS NOT NULL GROUP BY 1, 2, 4
    UNION ALL
    SELECT issuer_cik, transaction_date, false, owner_cik
    FROM buys WHERE owner_cik IS NOT NULL GROUP BY 1, 2, 4
),
spans AS (
    SELECT issuer_cik, is_buyer, transaction_date,
           greatest(lag(transaction_date) OVER (PARTITION BY issuer_cik, is_buyer, who
                                                ORDER BY transaction_date) + 1,
                    transaction_date - 29) AS first_window
    FROM days
),
changes AS (
    SELECT issuer_cik, day, sum(buyers) AS buyers, sum(insiders) AS insiders,
           sum(buying_days) AS buying_days
    FROM (SELECT issuer_cik, first_window AS day, is_buyer::int AS buyers,
                 (NOT is_buyer)::int AS insiders, 0 AS buying_days FROM spans
          UNION ALL
          SELECT issuer_cik, transaction_date + 1, -is_buyer::int, -(NOT is_buyer)::int,
                 -is_buyer::int FROM spans
          UNION ALL
          SELECT issuer_cik, transaction_date - 29, 0, 0, 1 FROM spans WHERE is_buyer) c
    GROUP BY 1, 2
),
starts AS (
    SELECT issuer_cik, transaction_date AS day,
           max(transaction_date) OVER (PARTITION BY issuer_cik ORDER BY transaction_date
               RANGE BETWEEN CURRENT ROW AND INTERVAL '29 days' FOLLOWING) AS last_buy
    FROM (SELECT DISTINCT issuer_cik, transaction_date FROM insider_trade_days
          WHERE purchase_lines > 0 AND cardinality(owner_ciks) > 0) d
),
windows AS (
    SELECT issuer_cik, day, last_buy,
           sum(buyers) OVER w AS buyers, sum(insiders) OVER w AS insiders,
           sum(buying_days) OVER w AS buying_days
    FROM (SELECT issuer_cik, day, NULL::date AS last_buy, buyers, insiders, buying_days FROM changes
          UNION ALL
          SELECT issuer_cik, day, last_buy, 0, 0, 0 FROM starts) e
    WINDOW w AS (PARTITION BY issuer_cik ORDER BY day)
)
SELECT DISTINCT ON (w.issuer_cik) w.issuer_cik, i.trading_symbol AS ticker,
       w.day AS window_start, w.last_buy, w.buyers, w.insiders, w.buying_days
FROM windows w
LEFT JOIN issuers i ON i.cik = w.issuer_cik
WHERE w.last_buy IS NOT NULL
ORDER BY w.issuer_cik, w.buyers DESC, w.insiders DESC, w.buying_days DESC, w.day;
