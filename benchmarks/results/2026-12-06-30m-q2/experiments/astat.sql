SELECT amendment_status, count(*) FROM insider_trades_all GROUP BY 1 ORDER BY 1
