
CREATE OR REPLACE VIEW exp_b AS
SELECT
    t.accession_number,
    t.table_name,
    t.is_derivative,
    t.sequence,
    'https://www.sec.gov/Archives/edgar/data/' || coalesce(f.issuer_cik, f.filer_ciks[1])::text
        || '/' || replace(t.accession_number, '-', '') || '/' || t.accession_number
        || '-index.htm' AS edgar_url,
    s.form_type,
    s.filed_date,
    f.accepted_at,
    f.period_of_report,
    f.date_of_original_submission,
    t.transaction_date,
    t.deemed_execution_date,
    s.issuer_cik,
    f.issuer_name,
    f.issuer_trading_symbol AS issuer_ticker,
    s.owner_count,  -- every filing has a summary row; no coalesce, so the planner's statistics apply
    s.owner_ciks,
    s.owner_names,
    s.owners,
    s.is_director,
    s.is_officer,
    s.officer_title,
    s.is_ten_percent_owner,
    s.is_other,
    s.other_text,
    s.relationship,
    t.security_title,
    t.transaction_form_type,
    t.transaction_code,
    tc.meaning AS code_meaning,
    tc.category AS code_category,
    (coalesce(t.transaction_code IN ('P', 'S'), false) AND NOT t.is_derivative) AS is_open_market,
    t.equity_swap_involved,
    t.transaction_timeliness,
    t.transaction_acquired_disposed_code AS acquired_disposed,
    t.transaction_shares AS shares,
    -- price as filed for the stock itself; value only where it is a trade's value (P, S)
    CASE WHEN NOT t.is_derivative THEN coalesce(t.transaction_price_per_share, t.transaction_value) END AS price,
    t.trade_value AS value,
    t.shares_owned_following_transaction AS shares_owned_after,
    t.value_owned_following_transaction AS value_owned_after,
    t.direct_or_indirect_ownership AS direct_or_indirect,
    t.nature_of_ownership,
    s.aff10b5_one,
    CASE WHEN t.is_derivative THEN coalesce(t.transaction_price_per_share, t.transaction_value) END AS derivative_price,
    CASE WHEN t.is_derivative THEN t.transaction_shares * coalesce(t.transaction_price_per_share, t.transaction_value) END AS derivative_value,
    t.transaction_total_value,
    t.conversion_or_exercise_price,
    t.exercise_date,
    t.expiration_date,
    t.underlying_security_title,
    t.underlying_security_shares,
    t.underlying_security_value,
    coalesce(s.filed_business_day - b_executed.business_day_number,
             business_days_between(coalesce(t.deemed_execution_date, t.transaction_date), s.filed_date)) AS filed_business_days_after,
    t.footnote_ids,
    ARRAY(
        SELECT (SELECT fn.text FROM footnotes fn
                WHERE fn.accession_number = t.accession_number AND fn.footnote_id = u.footnote_id)
        FROM unnest(t.footnote_ids) WITH ORDINALITY AS u(footnote_id, n)
        ORDER BY u.n) AS footnotes,
    (s.form_type LIKE '%/A') AS is_amendment,
    s.amends_accession,
    s.amendment_match_rule,
    t.superseded AS is_superseded,
    m.superseded_by,
    m.status AS amendment_status,
    s.first_filed_date,
    coalesce(s.first_filed_business_day - b_executed.business_day_number,
             business_days_between(coalesce(t.deemed_execution_date, t.transaction_date), s.first_filed_date))
        AS first_filed_business_days_after,
    t.footnote_mentions_10b5_1
FROM (
    SELECT 'non_derivative_transactions'::text AS table_name, false AS is_derivative, n.accession_number, n.sequence, n.superseded, n.footnote_ids, n.footnote_mentions_10b5_1, n.security_title, NULL::numeric AS conversion_or_exercise_price, n.transaction_date, n.deemed_execution_date, n.transaction_form_type, n.transaction_code, n.equity_swap_involved, n.transaction_timeliness, n.transaction_shares, n.transaction_total_value, n.transaction_price_per_share, n.transaction_acquired_disposed_code, NULL::date AS exercise_date, NULL::date AS expiration_date, NULL::text AS underlying_security_title, NULL::numeric AS underlying_security_shares, NULL::numeric AS underlying_security_value, n.shares_owned_following_transaction, n.value_owned_following_transaction, n.direct_or_indirect_ownership, n.nature_of_ownership, n.transaction_value, CASE WHEN n.transaction_code IN ('P', 'S') THEN n.transaction_shares * coalesce(n.transaction_price_per_share, n.transaction_value) END AS trade_value FROM non_derivative_transactions n
    UNION ALL
    SELECT 'derivative_transactions'::text AS table_name, true AS is_derivative, n.accession_number, n.sequence, n.superseded, n.footnote_ids, n.footnote_mentions_10b5_1, n.security_title, n.conversion_or_exercise_price, n.transaction_date, n.deemed_execution_date, n.transaction_form_type, n.transaction_code, n.equity_swap_involved, n.transaction_timeliness, n.transaction_shares, n.transaction_total_value, n.transaction_price_per_share, n.transaction_acquired_disposed_code, n.exercise_date, n.expiration_date, n.underlying_security_title, n.underlying_security_shares, n.underlying_security_value, n.shares_owned_following_transaction, n.value_owned_following_transaction, n.direct_or_indirect_ownership, n.nature_of_ownership, n.transaction_value, NULL::numeric AS trade_value FROM derivative_transactions n
) t
LEFT JOIN filings f ON f.accession_number = t.accession_number
LEFT JOIN filing_summaries s ON s.accession_number = t.accession_number
LEFT JOIN amended_lines m ON m.accession_number = t.accession_number
                         AND m.table_name = t.table_name AND m.sequence = t.sequence
LEFT JOIN transaction_codes tc ON tc.code = t.transaction_code
LEFT JOIN business_calendar b_executed ON b_executed.day = coalesce(t.deemed_execution_date, t.transaction_date)
