SELECT accession_number, issuer_ticker, owner_count, owner_names[1] AS first_owner,
       count(*) AS transactions,
       round(sum(value), 2) AS value,
       round(sum(value) * owner_count, 2) AS value_if_joined_per_owner
FROM insider_trades
WHERE accession_number = ANY(ARRAY(SELECT accession_number FROM filing_summaries
                                   WHERE owner_count > 1))
GROUP BY accession_number, issuer_ticker, owner_count, owner_names[1]
ORDER BY owner_count DESC, accession_number;
