-- Planner statistics for the staging tables this run just filled: autovacuum has not analysed
-- them yet, and without statistics the load's anti-joins on stg_rejects become nested loops that
-- rescan it for every staged row (25 s instead of well under 1 s at 200,000 records).
-- Only the join and filter columns are sampled, not the raw JSON. The sample is 3,000 rows
-- (statistics target 10, for this transaction only) instead of 30,000: ANALYZE reads one page per
-- sampled row, and after a full run these tables hold its deleted rows until autovacuum comes
-- (10,000 staged rows over 1M deleted ones: 0.12-0.18 s with the default sample, 0.02-0.05 s
-- with this one). The load's plans need only row counts and run ids, which 3,000 rows estimate
-- as well. Not addressed here: a 1 % run measured 1-2 s on this statement when, most likely,
-- autovacuum was working on these tables and ANALYZE waited for its lock.
SET LOCAL default_statistics_target = 10;
ANALYZE books.stg_customers (run_id, module, crm_account_id, crm_contact_id),
        books.stg_contact_persons (run_id, crm_contact_id, crm_account_id),
        books.stg_rejects (run_id, module, crm_id);
SET LOCAL default_statistics_target = DEFAULT
