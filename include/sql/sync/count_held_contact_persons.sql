SELECT COUNT(*) FROM books.pending_contact_persons AS p
WHERE p.crm_contact_id IN (SELECT s.crm_contact_id FROM books.stg_contact_persons AS s WHERE s.run_id = :run_id)
