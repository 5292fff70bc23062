SELECT g.issuer_cik, i.trading_symbol AS ticker,
       CASE g.aff10b5_one WHEN true THEN '10b5-1 plan' WHEN false THEN 'discretionary'
            ELSE 'not reported' END AS checkbox,
       g.sales, g.footnote_mentions_plan, g.shares, round(g.value, 2) AS value
FROM (SELECT t.issuer_cik, t.aff10b5_one, count(*) AS sales,
             count(*) FILTER (WHERE t.footnote_mentions_10b5_1) AS footnote_mentions_plan,
             sum(t.shares) AS shares, sum(t.value) AS value
      FROM insider_trades t
      WHERE t.transaction_code = 'S' AND NOT t.is_derivative
      GROUP BY t.issuer_cik, t.aff10b5_one) g
LEFT JOIN issuers i ON i.cik = g.issuer_cik
ORDER BY value DESC NULLS LAST, g.issuer_cik, checkbox;
