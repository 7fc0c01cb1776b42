-- B2: a contact that lost its account again is an individual customer again. If the earlier move
-- kept its customer inactive (it had transactions), that customer is active again. Recognised by
-- the contact person or held row the move left, now older than the customer's version (removed
-- next by remove_moved_contact_persons); CRM deletions and merged-away customers stay as they are.
UPDATE books.customers AS c SET status = 'active', updated_at = :now
WHERE c.customer_id IN (
    SELECT m.customer_id
    FROM (
          SELECT s.crm_contact_id FROM books.stg_contact_persons AS s
          JOIN books.customers AS c0 ON c0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id
          UNION
          SELECT s.crm_contact_id FROM books.stg_customers AS s
          JOIN books.contact_persons AS cp0 ON cp0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id AND s.module = 'Contacts'
          UNION
          SELECT s.crm_contact_id FROM books.stg_customers AS s
          JOIN books.pending_contact_persons AS p0 ON p0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id AND s.module = 'Contacts'
    ) AS s
    JOIN books.customers AS m ON m.crm_contact_id = s.crm_contact_id
    WHERE m.source = 'crm' AND m.merged_into_customer_id IS NULL AND m.status = 'inactive'
      AND m.crm_deleted_time IS NULL
      AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                      WHERE d.module = 'Contacts' AND d.crm_id = m.crm_contact_id)
      AND (EXISTS (SELECT 1 FROM books.contact_persons AS cp
                   WHERE cp.crm_contact_id = m.crm_contact_id AND cp.crm_modified_time < m.crm_modified_time)
           OR EXISTS (SELECT 1 FROM books.pending_contact_persons AS p
                      WHERE p.crm_contact_id = m.crm_contact_id AND p.crm_modified_time < m.crm_modified_time))
)
