-- What writing this run's contact persons will do, counted before it runs (after upsert_pending):
-- the staged ones that go straight to contact_persons (their account customer exists and nothing
-- newer is held for them) and the held ones whose account customer now exists.
SELECT
    SUM(CASE WHEN x.contact_person_id IS NULL THEN 1 ELSE 0 END) AS inserted,
    SUM(CASE WHEN x.contact_person_id IS NOT NULL
              AND (x.old_time IS NULL OR x.new_time > x.old_time)
             THEN 1 ELSE 0 END) AS updated,
    SUM(CASE WHEN x.contact_person_id IS NOT NULL
              AND NOT (x.old_time IS NULL OR x.new_time > x.old_time)
             THEN 1 ELSE 0 END) AS unchanged
FROM (
    SELECT s.crm_modified_time AS new_time, cp.contact_person_id, cp.crm_modified_time AS old_time
    FROM books.stg_contact_persons AS s
    JOIN books.customers AS c ON c.crm_account_id = s.crm_account_id
    LEFT JOIN books.pending_contact_persons AS q ON q.crm_contact_id = s.crm_contact_id
    LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = s.crm_contact_id
    WHERE s.run_id = :run_id
      AND q.crm_contact_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM books.stg_rejects AS r
                      WHERE r.run_id = s.run_id AND r.module = 'Contacts' AND r.crm_id = s.crm_contact_id)
      AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                      WHERE d.module = 'Contacts' AND d.crm_id = s.crm_contact_id)
    UNION ALL
    SELECT p.crm_modified_time, cp.contact_person_id, cp.crm_modified_time
    FROM books.pending_contact_persons AS p
    JOIN books.customers AS c ON c.crm_account_id = p.crm_account_id
    LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = p.crm_contact_id
) AS x
