WITH form3 AS MATERIALIZED (
    SELECT f.accession_number, f.period_of_report, f.issuer_trading_symbol AS ticker,
           nullif(array_to_string(s.owner_names, '; '), '') AS owners,
           (SELECT count(*) FROM derivative_holdings d
            WHERE d.accession_number = f.accession_number) AS derivative_positions
    FROM filings f
    JOIN filing_summaries s ON s.accession_number = f.accession_number
    WHERE coalesce(f.document_type, f.form_type) IN ('3', '3/A')
)
SELECT f.period_of_report, f.ticker, f.owners,
       h.security_title, h.direct_or_indirect_ownership AS d_i, h.nature_of_ownership,
       h.shares_owned_following_transaction AS shares, f.derivative_positions
FROM form3 f
JOIN non_derivative_holdings h ON h.accession_number = f.accession_number
ORDER BY f.period_of_report, f.accession_number, h.sequence;