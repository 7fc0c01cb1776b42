-- Contact persons join their account customer, or the master it was merged into (B2): this run's
-- staged ones that nothing is held for (staged_run_id; load_run runs this before the contact moves
-- are reconciled), or the held ones whose account customer now exists (attach_held = 1; after).
-- A customer that had no contact persons gets its primary here: the first in insert order, so the
-- lowest contact_person_id, as settle_contact_persons would choose; a first import then does not
-- rewrite every new row there. A customer that already has contact persons, or receives an
-- existing one, is left to settle_contact_persons.
-- Each row written comes back (RETURNING): 'inserted' when this statement created it (its
-- created_at is this load's :now; the staged and the held arms never write the same contact
-- person in one load, since a held contact is left out of the staged arm), else 'updated'.
-- The CTE is materialized so that "has contact persons" is answered for every row before the
-- first insert; asked while inserting, a plan that scans contact_persons would rescan the rows
-- this statement has added, once per customer.
WITH arriving AS MATERIALIZED (
    SELECT t.customer_id, t.crm_contact_id, t.salutation, t.first_name, t.last_name, t.email,
           t.phone, t.mobile, t.crm_modified_time,
           CASE WHEN e.contact_person_id IS NOT NULL
                  OR EXISTS (SELECT 1 FROM books.contact_persons AS o WHERE o.customer_id = t.customer_id)
                THEN 1 ELSE 0 END AS existing
    FROM (
        SELECT a.customer_id, a.crm_contact_id, a.salutation, a.first_name, a.last_name, a.email,
               a.phone, a.mobile, a.crm_modified_time
        FROM books.attachable_stg_contact_persons AS a
        WHERE a.run_id = :staged_run_id
        UNION ALL
        SELECT h.customer_id, h.crm_contact_id, h.salutation, h.first_name, h.last_name, h.email,
               h.phone, h.mobile, h.crm_modified_time
        FROM books.attachable_held_contact_persons AS h
        WHERE :attach_held = 1
    ) AS t
    LEFT JOIN books.contact_persons AS e ON e.crm_contact_id = t.crm_contact_id
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
    FROM arriving AS t
    ORDER BY t.customer_id, t.crm_contact_id
) AS x
WHERE true
ON CONFLICT (crm_contact_id) DO UPDATE SET
    (customer_id, salutation, first_name, last_name, email, phone, mobile, crm_modified_time,
     updated_at)
  = (excluded.customer_id, excluded.salutation, excluded.first_name, excluded.last_name,
     excluded.email, excluded.phone, excluded.mobile, excluded.crm_modified_time,
     excluded.updated_at)
WHERE cp.crm_modified_time IS NULL OR excluded.crm_modified_time > cp.crm_modified_time
RETURNING CASE WHEN created_at = :now THEN 'inserted' ELSE 'updated' END
