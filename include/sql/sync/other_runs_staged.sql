-- How many staging tables hold rows of a run other than this one (e.g. a failed run, kept for
-- its retry). Each table's lowest and highest run_id are the ends of its run_id index, read in
-- two steps whatever the table holds (a scan for other run ids read every row, as the staging
-- tables' run_id has no statistics when this runs).
SELECT COUNT(*) FROM (
    SELECT MIN(run_id) AS low, MAX(run_id) AS high FROM books.stg_crm_records
    UNION ALL SELECT MIN(run_id), MAX(run_id) FROM books.stg_crm_deleted
    UNION ALL SELECT MIN(run_id), MAX(run_id) FROM books.stg_customers
    UNION ALL SELECT MIN(run_id), MAX(run_id) FROM books.stg_contact_persons
    UNION ALL SELECT MIN(run_id), MAX(run_id) FROM books.stg_rejects
    UNION ALL SELECT MIN(run_id), MAX(run_id) FROM books.stg_contact_moves
) AS staged
WHERE staged.low < :run_id OR staged.high > :run_id
