-- What an upsert of this run's valid Contacts customers will do, counted before it runs.
SELECT
    SUM(CASE WHEN c.customer_id IS NULL THEN 1 ELSE 0 END) AS inserted,
    SUM(CASE WHEN c.customer_id IS NOT NULL AND c.merged_into_customer_id IS NULL
              AND (c.crm_modified_time IS NULL OR s.crm_modified_time > c.crm_modified_time)
             THEN 1 ELSE 0 END) AS updated,
    SUM(CASE WHEN c.customer_id IS NOT NULL AND NOT (c.merged_into_customer_id IS NULL
              AND (c.crm_modified_time IS NULL OR s.crm_modified_time > c.crm_modified_time))
             THEN 1 ELSE 0 END) AS unchanged
FROM books.stg_customers AS s
LEFT JOIN books.customers AS c ON c.crm_contact_id = s.crm_contact_id
WHERE s.run_id = :run_id AND s.module = 'Contacts'
  AND NOT EXISTS (SELECT 1 FROM books.stg_rejects AS r
                  WHERE r.run_id = s.run_id AND r.module = s.module
                    AND r.crm_id = s.crm_contact_id)
  AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                  WHERE d.module = s.module AND d.crm_id = s.crm_contact_id)
