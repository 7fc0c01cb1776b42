-- The stored keys select_changed_customers found stale (a list of customer ids). Candidate rows
-- stay (B6).
DELETE FROM books.duplicate_match_keys WHERE customer_id IN :customer_ids
