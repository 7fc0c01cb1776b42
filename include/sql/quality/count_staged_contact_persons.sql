-- How many staged contact persons one quality-gate chunk holds (the chunk of
-- sync/select_staged_contact_persons).
SELECT COUNT(*) FROM books.stg_contact_persons AS s
WHERE s.run_id = :run_id
  AND s.crm_contact_id > :after_crm_id
  AND s.crm_contact_id <= COALESCE(CAST(:until_crm_id AS TEXT), s.crm_contact_id)
