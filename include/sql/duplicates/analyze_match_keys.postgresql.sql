-- Planner statistics for the keys a full regroup just copied in (autovacuum has not seen them):
-- the next run's select_touched_members then looks each touched key up in its index.
ANALYZE books.duplicate_match_keys (customer_id, name_key, email_key, phone_key, website_key)
