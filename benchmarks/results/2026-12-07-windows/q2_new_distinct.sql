WITH params AS (SELECT 3 AS min_buyers),
buys AS (
    SELECT DISTINCT d.issuer_cik, d.transaction_date, unnest(d.owner_ciks) AS owner_cik,
           CASE WHEN cardinality(d.owner_ciks) = 1 THEN d.owner_ciks[1]
                ELSE (SELECT min(c) FROM unnest(d.owner_ciks) AS c) END AS buyer
    FROM insider_trade_days d
    WHERE d.purchase_lines > 0
),
windows AS (
    SELECT DISTINCT ON (issuer_cik, transaction_date)
           issuer_cik, transaction_date AS window_start,
           max(transaction_date) OVER w AS last_buy,
           array_agg(owner_cik) OVER w AS owners,
           array_agg(buyer) OVER w AS buyers
    FROM buys
    WINDOW w AS (PARTITION BY issuer_cik ORDER BY transaction_date
                 RANGE BETWEEN CURRENT ROW AND INTERVAL '29 days' FOLLOWING)
),
clusters AS (
    SELECT w.issuer_cik, w.window_start, w.last_buy, w.owners, n.buyers
    FROM windows w
    JOIN params p ON cardinality(w.buyers) >= p.min_buyers
    CROSS JOIN LATERAL (SELECT count(DISTINCT b) AS buyers FROM unnest(w.buyers) AS b) n
    WHERE n.buyers >= p.min_buyers
)
SELECT c.issuer_cik, i.trading_symbol AS ticker, c.window_start, c.last_buy, c.buyers,
       (SELECT count(DISTINCT o) FROM unnest(c.owners) AS o) AS insiders,
       (SELECT string_agg(coalesce(pn.name, u.cik::text), ' | ' ORDER BY pn.name, u.cik)
        FROM (SELECT DISTINCT unnest(c.owners) AS cik) u
        LEFT JOIN persons pn ON pn.cik = u.cik) AS names
FROM clusters c
LEFT JOIN issuers i ON i.cik = c.issuer_cik
ORDER BY c.buyers DESC, insiders DESC, c.issuer_cik, c.window_start;
