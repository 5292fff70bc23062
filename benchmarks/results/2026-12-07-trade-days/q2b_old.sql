WITH buys AS (
    SELECT DISTINCT t.issuer_cik, t.transaction_date, o.owner_cik, b.buyer
    FROM insider_trades t
    CROSS JOIN LATERAL (SELECT min(c) AS buyer FROM unnest(t.owner_ciks) AS c) b
    CROSS JOIN LATERAL unnest(t.owner_ciks) AS o(owner_cik)
    WHERE t.transaction_code = 'P' AND NOT t.is_derivative
),
windows AS (
    SELECT DISTINCT ON (issuer_cik, transaction_date)
           issuer_cik, transaction_date AS window_start,
           max(transaction_date) OVER w AS last_buy,
           array_agg(owner_cik) OVER w AS owners,
           array_agg(buyer) OVER w AS buyers,
           array_agg(buyer || ' ' || transaction_date) OVER w AS buying_days
    FROM buys
    WINDOW w AS (PARTITION BY issuer_cik ORDER BY transaction_date
                 RANGE BETWEEN CURRENT ROW AND INTERVAL '29 days' FOLLOWING)
),
clusters AS (
    SELECT w.issuer_cik, w.window_start, w.last_buy, n.buyers, n.insiders, n.buying_days
    FROM windows w
    CROSS JOIN LATERAL (SELECT count(DISTINCT u.buyer) AS buyers,
                               count(DISTINCT u.owner_cik) AS insiders,
                               count(DISTINCT u.buying_day) AS buying_days
                        FROM unnest(w.buyers, w.owners, w.buying_days)
                             AS u(buyer, owner_cik, buying_day)) n
)
SELECT DISTINCT ON (c.issuer_cik) c.issuer_cik, i.trading_symbol AS ticker, c.window_start,
       c.last_buy, c.buyers, c.insiders, c.buying_days
FROM clusters c
LEFT JOIN issuers i ON i.cik = c.issuer_cik
ORDER BY c.issuer_cik, c.buyers DESC, c.insiders DESC, c.buying_days DESC, c.window_start;
