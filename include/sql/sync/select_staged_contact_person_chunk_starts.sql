-- Where each quality-gate chunk of this run's staged contact persons starts: every
-- :chunk_size-th crm_contact_id, so the chunks can be checked side by side.
SELECT crm_contact_id FROM (
    SELECT crm_contact_id, ROW_NUMBER() OVER (ORDER BY crm_contact_id) AS n
    FROM books.stg_contact_persons
    WHERE run_id = :run_id
) AS numbered
WHERE n % :chunk_size = 0
ORDER BY crm_contact_id
