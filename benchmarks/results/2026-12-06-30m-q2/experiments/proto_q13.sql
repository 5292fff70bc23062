SELECT g.accession_number, f.issuer_trading_symbol AS issuer_ticker, s.owner_count, s.owner_names[1] AS first_owner,
       g.transactions, round(g.value, 2) AS value, round(g.value * s.owner_count, 2) AS value_if_joined_per_owner
FROM (SELECT t.accession_number, count(*) AS transactions, sum(t.v) AS value
      FROM (SELECT accession_number, CASE WHEN transaction_code IN ('P','S') THEN transaction_shares * coalesce(transaction_price_per_share, transaction_value) END AS v
            FROM proto_nd WHERE NOT superseded AND cardinality(owner_ciks) > 1
            UNION ALL
            SELECT accession_number, NULL FROM proto_d WHERE NOT superseded AND cardinality(owner_ciks) > 1) t
      GROUP BY t.accession_number) g
JOIN filing_summaries s ON s.accession_number = g.accession_number
LEFT JOIN filings f ON f.accession_number = g.accession_number
ORDER BY s.owner_count DESC, g.accession_number;
