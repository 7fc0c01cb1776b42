-- How many staged customers one quality-gate chunk holds (the chunk of sync/select_staged_customers).
SELECT COUNT(*) FROM books.stg_customers AS s
WHERE s.run_id = :run_id AND s.module = :module
  AND COALESCE(s.crm_account_id, s.crm_contact_id) > :after_crm_id
  AND COALESCE(s.crm_account_id, s.crm_contact_id)
      <= COALESCE(CAST(:until_crm_id AS TEXT), s.crm_account_id, s.crm_contact_id)
