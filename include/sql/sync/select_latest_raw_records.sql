-- The newest extracted version of each CRM record in this run, one chunk at a time (keyset on crm_id).
SELECT crm_id, payload FROM (
    SELECT crm_id, payload,
           ROW_NUMBER() OVER (PARTITION BY crm_id ORDER BY modified_time DESC) AS version_rank
    FROM books.stg_crm_records
    WHERE run_id = :run_id AND module = :module AND crm_id > :after_crm_id
) AS versions
WHERE version_rank = 1
ORDER BY crm_id
LIMIT :chunk_size
