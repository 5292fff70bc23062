SELECT g.issuer_cik, i.trading_symbol AS ticker,
       CASE g.aff10b5_one WHEN true THEN '10b5-1 plan' WHEN false THEN 'discretionary'
            ELSE 'not reported' END AS checkbox,
       g.sales, g.footnote_mentions_plan, g.shares, round(g.value, 2) AS value
FROM (SELECT s.issuer_cik, s.aff10b5_one, sum(p.sales)::bigint AS sales,
             sum(p.mentions)::bigint AS footnote_mentions_plan,
             sum(p.shares) AS shares, sum(p.value) AS value
      FROM (SELECT accession_number, count(*) AS sales,
                   count(*) FILTER (WHERE footnote_mentions_10b5_1) AS mentions,
                   sum(shares) AS shares, sum(value) AS value
            FROM insider_trades
            WHERE transaction_code = 'S' AND NOT is_derivative
            GROUP BY accession_number) p
      LEFT JOIN filing_summaries s USING (accession_number)
      GROUP BY s.issuer_cik, s.aff10b5_one) g
LEFT JOIN issuers i ON i.cik = g.issuer_cik
ORDER BY value DESC NULLS LAST, g.issuer_cik, checkbox;
