INSERT INTO books.crm_deletions (module, crm_id, deleted_time, applied_run_id)
SELECT module, crm_id, MAX(deleted_time), :run_id FROM books.stg_crm_deleted
WHERE run_id = :run_id AND module = :module
GROUP BY module, crm_id
ON CONFLICT (module, crm_id) DO NOTHING
