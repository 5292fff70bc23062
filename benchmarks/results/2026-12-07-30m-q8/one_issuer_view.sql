SELECT * FROM insider_trades_all WHERE issuer_cik = 1318605 AND NOT is_superseded ORDER BY transaction_date, accession_number, table_name, sequence;
