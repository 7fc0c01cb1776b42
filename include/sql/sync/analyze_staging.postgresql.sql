-- Planner statistics for the staging tables this run just filled: autovacuum has not analysed
-- them yet, and without statistics the load's anti-joins on stg_rejects become nested loops that
-- rescan it for every staged row (25 s instead of well under 1 s at 200,000 records).
-- Only the join and filter columns are sampled, not the raw JSON.
ANALYZE books.stg_customers (run_id, module, crm_account_id, crm_contact_id),
        books.stg_contact_persons (run_id, crm_contact_id, crm_account_id),
        books.stg_rejects (run_id, module, crm_id)
