-- Where each chunk of this run's records starts: every :chunk_size-th distinct crm_id, so the
-- chunks (keyset ranges between consecutive starts) are known up front and run as mapped tasks.
SELECT crm_id FROM (
    SELECT crm_id, ROW_NUMBER() OVER (ORDER BY crm_id) AS n
    FROM (SELECT DISTINCT crm_id FROM books.stg_crm_records
          WHERE run_id = :run_id AND module = :module) AS ids
) AS numbered
WHERE n % :chunk_size = 0
ORDER BY crm_id
