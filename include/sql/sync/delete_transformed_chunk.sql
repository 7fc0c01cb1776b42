-- What an earlier attempt of this transform chunk staged, so a retried chunk stages it once: its
-- customers, its contact persons (Contacts only), its transform rejects, and in a module's first
-- chunk the rejects that have no id. The extract's own rejects stay.
DELETE FROM books.stg_customers
WHERE run_id = :run_id AND module = :module
  AND COALESCE(crm_account_id, crm_contact_id) > :after_crm_id
  AND COALESCE(crm_account_id, crm_contact_id)
      <= COALESCE(CAST(:until_crm_id AS TEXT), crm_account_id, crm_contact_id);
DELETE FROM books.stg_contact_persons
WHERE run_id = :run_id AND :module = 'Contacts'
  AND crm_contact_id > :after_crm_id
  AND crm_contact_id <= COALESCE(CAST(:until_crm_id AS TEXT), crm_contact_id);
DELETE FROM books.stg_rejects
WHERE run_id = :run_id AND stage = 'transform' AND module = :module
  AND ((crm_id > :after_crm_id AND crm_id <= COALESCE(CAST(:until_crm_id AS TEXT), crm_id))
       OR (crm_id IS NULL AND :first_chunk))
