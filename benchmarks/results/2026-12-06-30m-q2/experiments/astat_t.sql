SELECT amendment_status, count(*) FROM test_all GROUP BY 1 ORDER BY 1
