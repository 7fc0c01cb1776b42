-- finish_run: no other run may stage rows between other_runs_staged and the clearing of the
-- staging tables (a concurrent run's extract waits for this transaction, which is short).
LOCK TABLE books.stg_crm_records, books.stg_crm_deleted, books.stg_customers,
           books.stg_contact_persons, books.stg_rejects, books.stg_contact_moves
    IN ACCESS EXCLUSIVE MODE
