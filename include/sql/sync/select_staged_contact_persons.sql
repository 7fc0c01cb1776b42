SELECT * FROM books.stg_contact_persons
WHERE run_id = :run_id AND crm_contact_id > :after_crm_id
ORDER BY crm_contact_id
LIMIT :chunk_size
