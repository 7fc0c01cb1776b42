-- Valid contact persons of this run whose account customer exists (loaded earlier or in this
-- transaction) and who are not held join that customer, or the master it was merged into,
-- straight from staging; the others went through upsert_pending (run first) and attach_pending.
-- A customer that had no contact persons gets its primary here: the first in insert order, so the
-- lowest contact_person_id, as mark_primary would choose. A first import then does not rewrite
-- every new row in mark_primary. A customer that already has contact persons, or receives an
-- existing one, is left to mark_primary.
-- The CTE is materialized so that "has contact persons" is answered for every row before the
-- first insert; asked while inserting, a plan that scans contact_persons would rescan the rows
-- this statement has added, once per customer.
WITH staged AS MATERIALIZED (
    SELECT COALESCE(c.merged_into_customer_id, c.customer_id) AS customer_id, s.crm_contact_id,
           s.salutation, s.first_name, s.last_name, s.email, s.phone, s.mobile, s.crm_modified_time,
           CASE WHEN e.contact_person_id IS NOT NULL
                  OR EXISTS (SELECT 1 FROM books.contact_persons AS o
                             WHERE o.customer_id = COALESCE(c.merged_into_customer_id, c.customer_id))
                THEN 1 ELSE 0 END AS existing
    FROM books.stg_contact_persons AS s
    JOIN books.customers AS c ON c.crm_account_id = s.crm_account_id
    LEFT JOIN books.pending_contact_persons AS q ON q.crm_contact_id = s.crm_contact_id
    LEFT JOIN books.contact_persons AS e ON e.crm_contact_id = s.crm_contact_id
    WHERE s.run_id = :run_id
      AND q.crm_contact_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM books.stg_rejects AS r
                      WHERE r.run_id = s.run_id AND r.module = 'Contacts' AND r.crm_id = s.crm_contact_id)
      AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                      WHERE d.module = 'Contacts' AND d.crm_id = s.crm_contact_id)
)
INSERT INTO books.contact_persons AS cp (customer_id, crm_contact_id, salutation, first_name, last_name,
    email, phone, mobile, is_primary_contact, crm_modified_time, created_at, updated_at)
SELECT x.customer_id, x.crm_contact_id, x.salutation, x.first_name, x.last_name, x.email, x.phone,
       x.mobile, CASE WHEN x.position = 1 AND x.existing = 0 THEN TRUE ELSE FALSE END,
       x.crm_modified_time, :now, :now
FROM (
    SELECT t.customer_id, t.crm_contact_id, t.salutation, t.first_name, t.last_name, t.email,
           t.phone, t.mobile, t.crm_modified_time,
           ROW_NUMBER() OVER (PARTITION BY t.customer_id ORDER BY t.crm_contact_id) AS position,
           MAX(t.existing) OVER (PARTITION BY t.customer_id) AS existing
    FROM staged AS t
    ORDER BY t.customer_id, t.crm_contact_id
) AS x
WHERE true
ON CONFLICT (crm_contact_id) DO UPDATE SET
    customer_id = excluded.customer_id,
    salutation = excluded.salutation,
    first_name = excluded.first_name,
    last_name = excluded.last_name,
    email = excluded.email,
    phone = excluded.phone,
    mobile = excluded.mobile,
    crm_modified_time = excluded.crm_modified_time,
    updated_at = excluded.updated_at
WHERE cp.crm_modified_time IS NULL OR excluded.crm_modified_time > cp.crm_modified_time
