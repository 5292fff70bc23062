SELECT m.original_accession, m.table_name, m.sequence AS original_sequence, m.status,
       m.superseded_by AS amended_accession, m.superseded_by_sequence AS amended_sequence,
       o.transaction_date, o.transaction_code,
       o.shares AS original_shares, a.shares AS amended_shares,
       o.price AS original_price, a.price AS amended_price,
       o.shares_owned_after AS original_owned_after, a.shares_owned_after AS amended_owned_after
FROM amended_lines m
JOIN insider_trades_all o ON o.accession_number = m.accession_number
                         AND o.table_name = 'non_derivative_transactions' AND o.sequence = m.sequence
LEFT JOIN insider_trades_all a ON a.accession_number = m.superseded_by
                              AND a.table_name = 'non_derivative_transactions'
                              AND a.sequence = m.superseded_by_sequence
WHERE m.accession_number = m.original_accession
  AND m.table_name = 'non_derivative_transactions'
UNION ALL
SELECT m.original_accession, m.table_name, m.sequence AS original_sequence, m.status,
       m.superseded_by AS amended_accession, m.superseded_by_sequence AS amended_sequence,
       o.transaction_date, o.transaction_code,
       o.shares AS original_shares, a.shares AS amended_shares,
       o.price AS original_price, a.price AS amended_price,
       o.shares_owned_after AS original_owned_after, a.shares_owned_after AS amended_owned_after
FROM amended_lines m
JOIN insider_trades_all o ON o.accession_number = m.accession_number
                         AND o.table_name = 'derivative_transactions' AND o.sequence = m.sequence
LEFT JOIN insider_trades_all a ON a.accession_number = m.superseded_by
                              AND a.table_name = 'derivative_transactions'
                              AND a.sequence = m.superseded_by_sequence
WHERE m.accession_number = m.original_accession
  AND m.table_name = 'derivative_transactions'
UNION ALL
SELECT m.original_accession, m.table_name, NULL, m.status, m.accession_number, m.sequence,
       a.transaction_date, a.transaction_code, NULL, a.shares, NULL, a.price, NULL,
       a.shares_owned_after
FROM amended_lines m
JOIN insider_trades_all a ON a.accession_number = m.accession_number
                         AND a.table_name = 'non_derivative_transactions' AND a.sequence = m.sequence
WHERE m.accession_number <> m.original_accession AND m.status IN ('added', 'ambiguous')
  AND m.table_name = 'non_derivative_transactions'
UNION ALL
SELECT m.original_accession, m.table_name, NULL, m.status, m.accession_number, m.sequence,
       a.transaction_date, a.transaction_code, NULL, a.shares, NULL, a.price, NULL,
       a.shares_owned_after
FROM amended_lines m
JOIN insider_trades_all a ON a.accession_number = m.accession_number
                         AND a.table_name = 'derivative_transactions' AND a.sequence = m.sequence
WHERE m.accession_number <> m.original_accession AND m.status IN ('added', 'ambiguous')
  AND m.table_name = 'derivative_transactions'
ORDER BY 1, 2, 3 NULLS LAST, 5, 6;
