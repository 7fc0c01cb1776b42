-- The staging tables hold only this run's rows (other_runs_staged, under lock_run_staging):
-- emptied at once. DELETE of a full sync's 2.5 million staged rows took about 1 s and left
-- them dead for autovacuum to clean up while the next run stages and analyses these tables.
TRUNCATE books.stg_crm_records, books.stg_crm_deleted, books.stg_customers,
         books.stg_contact_persons, books.stg_rejects, books.stg_contact_moves
