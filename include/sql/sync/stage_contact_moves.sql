-- B2/B5: what reconciling this run's contacts that moved between "own customer" and "contact
-- person of an account" will do, decided once (after this run's upserts) and written to
-- stg_contact_moves, which count_contact_moves and the writes that follow read. The newest version
-- wins: each representation already holds the newest version of its kind, so the older one is
-- stale. An individual customer older than the contact's contact person or held row is retired
-- like a CRM deletion (deleted, or kept inactive when it has transactions or absorbed merged
-- customers); a contact person or held row older than the individual customer is removed, and
-- that customer, if a move had made it inactive, is active again. Only run when
-- count_contact_move_candidates finds candidates; m is the same set.
DELETE FROM books.stg_contact_moves WHERE run_id = :run_id;
INSERT INTO books.stg_contact_moves (run_id, crm_contact_id, customer_id, retire, kept, reactivate,
                                     person_removed, held_removed)
SELECT :run_id, m.crm_contact_id, c.customer_id,
    CASE WHEN c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
              AND (cp.crm_modified_time > c.crm_modified_time OR p.crm_modified_time > c.crm_modified_time)
         THEN 1 ELSE 0 END,
    CASE WHEN EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = c.customer_id)
           OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = c.customer_id)
           OR EXISTS (SELECT 1 FROM books.customers AS g WHERE g.merged_into_customer_id = c.customer_id)
         THEN 1 ELSE 0 END,
    CASE WHEN c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'inactive'
              AND c.crm_deleted_time IS NULL
              AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                              WHERE d.module = 'Contacts' AND d.crm_id = c.crm_contact_id)
              AND (c.crm_modified_time > cp.crm_modified_time OR c.crm_modified_time > p.crm_modified_time)
         THEN 1 ELSE 0 END,
    CASE WHEN c.crm_modified_time > cp.crm_modified_time THEN 1 ELSE 0 END,
    CASE WHEN c.crm_modified_time > p.crm_modified_time THEN 1 ELSE 0 END
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
) AS m
JOIN books.customers AS c ON c.crm_contact_id = m.crm_contact_id
LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = m.crm_contact_id
LEFT JOIN books.pending_contact_persons AS p ON p.crm_contact_id = m.crm_contact_id
