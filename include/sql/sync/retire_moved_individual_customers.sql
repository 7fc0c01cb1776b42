-- B2/B5: an individual customer whose contact now has a newer version as a contact person (or
-- held for its account) is retired like a CRM deletion: kept inactive when it has estimates,
-- invoices or absorbed merged customers, else deleted with its own contact persons and its
-- duplicate-candidate rows. Books-native and merged-away customers are never touched. Only this
-- run's staged contacts that count_contact_move_candidates finds are looked at.
UPDATE books.customers AS c SET status = 'inactive', updated_at = :now
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
    WHERE m.source = 'crm' AND m.merged_into_customer_id IS NULL AND m.status = 'active'
      AND (EXISTS (SELECT 1 FROM books.contact_persons AS cp
                   WHERE cp.crm_contact_id = m.crm_contact_id AND cp.crm_modified_time > m.crm_modified_time)
           OR EXISTS (SELECT 1 FROM books.pending_contact_persons AS p
                      WHERE p.crm_contact_id = m.crm_contact_id AND p.crm_modified_time > m.crm_modified_time))
      AND (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = m.customer_id)
           OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = m.customer_id)
           OR EXISTS (SELECT 1 FROM books.customers AS g WHERE g.merged_into_customer_id = m.customer_id))
);
DELETE FROM books.contact_persons WHERE customer_id IN (
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
    WHERE m.source = 'crm' AND m.merged_into_customer_id IS NULL AND m.status = 'active'
      AND (EXISTS (SELECT 1 FROM books.contact_persons AS cp
                   WHERE cp.crm_contact_id = m.crm_contact_id AND cp.crm_modified_time > m.crm_modified_time)
           OR EXISTS (SELECT 1 FROM books.pending_contact_persons AS p
                      WHERE p.crm_contact_id = m.crm_contact_id AND p.crm_modified_time > m.crm_modified_time))
      AND NOT (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = m.customer_id)
           OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = m.customer_id)
           OR EXISTS (SELECT 1 FROM books.customers AS g WHERE g.merged_into_customer_id = m.customer_id))
);
DELETE FROM books.duplicate_candidates WHERE customer_id IN (
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
    WHERE m.source = 'crm' AND m.merged_into_customer_id IS NULL AND m.status = 'active'
      AND (EXISTS (SELECT 1 FROM books.contact_persons AS cp
                   WHERE cp.crm_contact_id = m.crm_contact_id AND cp.crm_modified_time > m.crm_modified_time)
           OR EXISTS (SELECT 1 FROM books.pending_contact_persons AS p
                      WHERE p.crm_contact_id = m.crm_contact_id AND p.crm_modified_time > m.crm_modified_time))
      AND NOT (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = m.customer_id)
           OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = m.customer_id)
           OR EXISTS (SELECT 1 FROM books.customers AS g WHERE g.merged_into_customer_id = m.customer_id))
);
DELETE FROM books.customers WHERE customer_id IN (
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
    WHERE m.source = 'crm' AND m.merged_into_customer_id IS NULL AND m.status = 'active'
      AND (EXISTS (SELECT 1 FROM books.contact_persons AS cp
                   WHERE cp.crm_contact_id = m.crm_contact_id AND cp.crm_modified_time > m.crm_modified_time)
           OR EXISTS (SELECT 1 FROM books.pending_contact_persons AS p
                      WHERE p.crm_contact_id = m.crm_contact_id AND p.crm_modified_time > m.crm_modified_time))
      AND NOT (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = m.customer_id)
           OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = m.customer_id)
           OR EXISTS (SELECT 1 FROM books.customers AS g WHERE g.merged_into_customer_id = m.customer_id))
)
