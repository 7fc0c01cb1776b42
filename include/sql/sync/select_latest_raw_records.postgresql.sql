-- The newest extracted version of each CRM record in one chunk of this run (keyset range on crm_id:
-- after_crm_id < crm_id <= until_crm_id, no upper bound when until_crm_id is NULL).
-- DISTINCT ON walks ix_stg_crm_records_version in order, where the portable ROW_NUMBER window
-- sorts every payload of the range first.
SELECT DISTINCT ON (crm_id) crm_id, payload
FROM books.stg_crm_records
WHERE run_id = :run_id AND module = :module
  AND crm_id > :after_crm_id AND crm_id <= COALESCE(CAST(:until_crm_id AS TEXT), crm_id)
ORDER BY crm_id, modified_time DESC
