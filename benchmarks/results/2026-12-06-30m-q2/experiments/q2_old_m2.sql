WITH params AS (SELECT 2 AS min_buyers),
buys AS (
    SELECT DISTINCT t.issuer_cik, t.transaction_date, o.owner_cik,
           (SELECT min(c) FROM unnest(t.owner_ciks) AS c) AS buyer
    FROM insider_trades t
    CROSS JOIN LATERAL unnest(t.owner_ciks) AS o(owner_cik)
    WHERE t.transaction_code = 'P' AND NOT t.is_derivative
),
windows AS (
    SELECT issuer_cik, transaction_date AS window_start,
           max(transaction_date) OVER w AS last_buy,
           array_agg(owner_cik) OVER w AS owners,
           array_agg(buyer) OVER w AS buyers
    FROM buys
    WINDOW w AS (PARTITION BY issuer_cik ORDER BY transaction_date
                 RANGE BETWEEN CURRENT ROW AND INTERVAL '29 days' FOLLOWING)
),
clusters AS (
    SELECT DISTINCT ON (issuer_cik, window_start) issuer_cik, window_start, last_buy, owners,
           (SELECT count(DISTINCT b) FROM unnest(buyers) AS b) AS buyers,
           (SELECT count(DISTINCT o) FROM unnest(owners) AS o) AS insiders
    FROM windows
)
SELECT c.issuer_cik, i.trading_symbol AS ticker, c.window_start, c.last_buy, c.buyers,
       c.insiders,
       (SELECT string_agg(coalesce(pn.name, u.cik::text), ' | ' ORDER BY pn.name, u.cik)
        FROM (SELECT DISTINCT unnest(c.owners) AS cik) u
        LEFT JOIN persons pn ON pn.cik = u.cik) AS names
FROM clusters c
JOIN params p ON c.buyers >= p.min_buyers
LEFT JOIN issuers i ON i.cik = c.issuer_cik
ORDER BY c.buyers DESC, c.insiders DESC, c.issuer_cik, c.window_start;