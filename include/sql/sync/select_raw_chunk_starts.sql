-- Where each transform chunk of this run's records starts: every :chunk_size-th distinct crm_id
-- (keyset bounds for select_latest_raw_records), so the chunks can be transformed side by side.
SELECT crm_id FROM (
    SELECT crm_id, ROW_NUMBER() OVER (ORDER BY crm_id) AS n
    FROM (SELECT DISTINCT crm_id FROM books.stg_crm_records
          WHERE run_id = :run_id AND module = :module) AS ids
) AS numbered
WHERE n % :chunk_size = 0
ORDER BY crm_id
