WITH buys AS (
    SELECT d.issuer_cik, d.transaction_date, b.buyer, o.owner_cik
    FROM insider_trade_days d
    CROSS JOIN LATERAL (SELECT min(c) AS buyer FROM unnest(d.owner_ciks) AS c) b
    CROSS JOIN LATERAL unnest(d.owner_ciks) AS o(owner_cik)
    WHERE d.purchase_lines > 0
),
windows AS (
    SELECT DISTINCT ON (issuer_cik, transaction_date)
           issuer_cik, transaction_date AS window_start,
           max(transaction_date) OVER w AS last_buy,
           min(owner_cik) OVER w AS min_owner, max(owner_cik) OVER w AS max_owner,
           sum(first_of_buying_day) OVER w AS buying_days
    FROM (SELECT b.*, (b.buyer IS NOT NULL AND row_number() OVER (
                           PARTITION BY b.issuer_cik, b.transaction_date, b.buyer) = 1)::int
                      AS first_of_buying_day
          FROM buys b) b
    WINDOW w AS (PARTITION BY issuer_cik ORDER BY transaction_date
                 RANGE BETWEEN CURRENT ROW AND INTERVAL '29 days' FOLLOWING)
),
not_inside_the_last AS (
    SELECT w.*, lag(w.window_start) OVER (PARTITION BY w.issuer_cik ORDER BY w.window_start)
                AS previous_start
    FROM windows w
),
clusters AS (
    SELECT w.issuer_cik, w.window_start, w.last_buy,
           CASE WHEN w.min_owner = w.max_owner OR w.min_owner IS NULL
                THEN (w.min_owner IS NOT NULL)::int
                ELSE (SELECT count(DISTINCT (SELECT min(c) FROM unnest(d.owner_ciks) AS c))
                      FROM insider_trade_days d
                      WHERE d.issuer_cik = w.issuer_cik AND d.purchase_lines > 0
                        AND d.transaction_date BETWEEN w.window_start AND w.last_buy) END AS buyers,
           CASE WHEN w.min_owner = w.max_owner OR w.min_owner IS NULL
                THEN (w.min_owner IS NOT NULL)::int
                ELSE (SELECT count(DISTINCT o.owner_cik)
                      FROM insider_trade_days d CROSS JOIN LATERAL unnest(d.owner_ciks) AS o(owner_cik)
                      WHERE d.issuer_cik = w.issuer_cik AND d.purchase_lines > 0
                        AND d.transaction_date BETWEEN w.window_start AND w.last_buy) END AS insiders,
           w.buying_days
    FROM not_inside_the_last w
    WHERE coalesce(w.last_buy > w.previous_start + 29, true)
),
busiest AS (
    SELECT DISTINCT ON (issuer_cik) *
    FROM clusters
    ORDER BY issuer_cik, buyers DESC, insiders DESC, buying_days DESC, window_start
)
SELECT c.issuer_cik, i.trading_symbol AS ticker, c.window_start,
       c.last_buy, c.buyers, c.insiders, c.buying_days
FROM busiest c
LEFT JOIN issuers i ON i.cik = c.issuer_cik
ORDER BY c.issuer_cik;
