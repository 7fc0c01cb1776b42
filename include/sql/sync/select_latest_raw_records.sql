-- The newest extracted version of each CRM record in one chunk of this run (keyset range on crm_id:
-- after_crm_id < crm_id <= until_crm_id, no upper bound when until_crm_id is NULL).
SELECT crm_id, payload FROM (
    SELECT crm_id, payload,
           ROW_NUMBER() OVER (PARTITION BY crm_id ORDER BY modified_time DESC) AS version_rank
    FROM books.stg_crm_records
    WHERE run_id = :run_id AND module = :module
      AND crm_id > :after_crm_id AND crm_id <= COALESCE(:until_crm_id, crm_id)
) AS versions
WHERE version_rank = 1
ORDER BY crm_id
