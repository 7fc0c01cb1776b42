-- Planner statistics for the keys a full regroup just copied in, and for the customers they were
-- read from (on a first import autovacuum has seen neither yet): the next run then compares
-- customers and keys with hash joins instead of planning for one-row tables (a nested loop of
-- index probes per customer).
ANALYZE books.duplicate_match_keys (customer_id);
ANALYZE books.customers (customer_id, status, merged_into_customer_id)
