SELECT * FROM books.stg_customers
WHERE run_id = :run_id AND module = :module
  AND COALESCE(crm_account_id, crm_contact_id) > :after_crm_id
ORDER BY COALESCE(crm_account_id, crm_contact_id)
LIMIT :chunk_size
