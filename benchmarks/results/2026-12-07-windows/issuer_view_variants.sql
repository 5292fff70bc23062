-- The view variants timed for one issuer's history (README): insider_trades_all as migration
-- 0013 leaves it (pg_get_viewdef), created in a scratch schema with these two changes, and
-- insider_trades over it (WHERE NOT is_superseded).

-- 1. footnotes: each id looked up by key, instead of the filing's footnotes hashed per line.
--    Was:  ARRAY(SELECT fn.text
--                FROM unnest(t.footnote_ids) WITH ORDINALITY u(footnote_id, n)
--                LEFT JOIN footnotes fn ON fn.accession_number = t.accession_number
--                                      AND fn.footnote_id = u.footnote_id
--                ORDER BY u.n) AS footnotes
ARRAY(SELECT (SELECT fn.text FROM footnotes fn
              WHERE fn.accession_number = t.accession_number AND fn.footnote_id = u.footnote_id)
      FROM unnest(t.footnote_ids) WITH ORDINALITY u(footnote_id, n)
      ORDER BY u.n) AS footnotes,

-- 2. (with 1) the code's meaning and category joined, instead of two subqueries per line:
--    tc.meaning AS code_meaning, tc.category AS code_category, ...
--    LEFT JOIN transaction_codes tc ON tc.code = t.transaction_code
