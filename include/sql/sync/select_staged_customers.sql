-- One chunk's staged customers (keyset range on the CRM id, as in select_latest_raw_records).
-- raw_payload is only a placeholder here: the gate needs the column, rejects get the real JSON
-- from stg_crm_records (sync/fill_reject_payloads).
SELECT s.*, '' AS raw_payload FROM books.stg_customers AS s
WHERE s.run_id = :run_id AND s.module = :module
  AND COALESCE(s.crm_account_id, s.crm_contact_id) > :after_crm_id
  AND COALESCE(s.crm_account_id, s.crm_contact_id)
      <= COALESCE(CAST(:until_crm_id AS TEXT), s.crm_account_id, s.crm_contact_id)
ORDER BY COALESCE(s.crm_account_id, s.crm_contact_id)
