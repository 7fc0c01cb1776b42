-- What attaching the held contact persons will do, counted before it runs.
SELECT
    SUM(CASE WHEN cp.contact_person_id IS NULL THEN 1 ELSE 0 END) AS inserted,
    SUM(CASE WHEN cp.contact_person_id IS NOT NULL
              AND (cp.crm_modified_time IS NULL OR p.crm_modified_time > cp.crm_modified_time)
             THEN 1 ELSE 0 END) AS updated,
    SUM(CASE WHEN cp.contact_person_id IS NOT NULL
              AND NOT (cp.crm_modified_time IS NULL OR p.crm_modified_time > cp.crm_modified_time)
             THEN 1 ELSE 0 END) AS unchanged
FROM books.pending_contact_persons AS p
JOIN books.customers AS c ON c.crm_account_id = p.crm_account_id
LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = p.crm_contact_id
