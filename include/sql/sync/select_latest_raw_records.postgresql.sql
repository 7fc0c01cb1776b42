-- The newest extracted version of each CRM record in this run, one chunk at a time (keyset on crm_id).
-- DISTINCT ON walks ix_stg_crm_records_version in order and stops at the chunk size, where the
-- portable ROW_NUMBER window sorts every remaining payload first.
SELECT DISTINCT ON (crm_id) crm_id, payload
FROM books.stg_crm_records
WHERE run_id = :run_id AND module = :module AND crm_id > :after_crm_id
ORDER BY crm_id, modified_time DESC
LIMIT :chunk_size
