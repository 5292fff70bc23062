-- Experiment (issue 13): the server lane's date conversion (ingest/dataset_server.py,
-- _CONVERT[Kind.DATE]: to_date converted back with to_char) against a check of digits and
-- dashes before to_date, over 450,000 DD-MON-YYYY values (about the benchmark quarter's
-- dates), each three times.  psql -h 127.0.0.1 -U postgres -f date_check.sql
\timing on
CREATE TEMP TABLE d AS SELECT to_char(date '2020-01-01' + (i % 1500), 'DD-MON-YYYY') AS f
FROM generate_series(1, 450000) i;
\echo round trip (as the server lane converts)
SELECT count(CASE WHEN length(f) = 11 AND to_char(to_date(f, 'DD-MON-YYYY'), 'DD-MON-YYYY') = upper(f) THEN to_date(f, 'DD-MON-YYYY') ELSE ('x' || f)::date END) FROM d;
SELECT count(CASE WHEN length(f) = 11 AND to_char(to_date(f, 'DD-MON-YYYY'), 'DD-MON-YYYY') = upper(f) THEN to_date(f, 'DD-MON-YYYY') ELSE ('x' || f)::date END) FROM d;
SELECT count(CASE WHEN length(f) = 11 AND to_char(to_date(f, 'DD-MON-YYYY'), 'DD-MON-YYYY') = upper(f) THEN to_date(f, 'DD-MON-YYYY') ELSE ('x' || f)::date END) FROM d;
\echo digits and dashes, then to_date
SELECT count(CASE WHEN length(f) = 11 AND substr(f, 3, 1) = '-' AND substr(f, 7, 1) = '-' AND translate(substr(f, 1, 2) || substr(f, 8), '0123456789', '') = '' THEN to_date(f, 'DD-MON-YYYY') ELSE ('x' || f)::date END) FROM d;
SELECT count(CASE WHEN length(f) = 11 AND substr(f, 3, 1) = '-' AND substr(f, 7, 1) = '-' AND translate(substr(f, 1, 2) || substr(f, 8), '0123456789', '') = '' THEN to_date(f, 'DD-MON-YYYY') ELSE ('x' || f)::date END) FROM d;
SELECT count(CASE WHEN length(f) = 11 AND substr(f, 3, 1) = '-' AND substr(f, 7, 1) = '-' AND translate(substr(f, 1, 2) || substr(f, 8), '0123456789', '') = '' THEN to_date(f, 'DD-MON-YYYY') ELSE ('x' || f)::date END) FROM d;
\echo to_date alone
SELECT count(to_date(f, 'DD-MON-YYYY')) FROM d;
