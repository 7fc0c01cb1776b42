-- Valid Contacts of this run: individual customers (a contact without an account) into
-- books.customers, contact persons into contact_persons or, while their account customer does not
-- exist, held in pending_contact_persons (B2). Same rules as load_accounts: an older CRM version
-- never overwrites a newer one, merged-away customers are never revived, deleted records stay
-- deleted (books.valid_stg_customers, books.valid_stg_contact_persons).

-- Contact persons that cannot go straight to contact_persons pass through the held list: those
-- whose account customer does not exist, and those already held, so the newer of the held and
-- staged versions wins as it always did. attach_held_contact_persons then moves the held ones whose
-- account customer exists; the rest go straight from staging (the last statement).
INSERT INTO books.pending_contact_persons AS p (crm_contact_id, crm_account_id, salutation, first_name,
    last_name, email, phone, mobile, crm_modified_time, first_seen_run_id, held_at)
SELECT s.crm_contact_id, s.crm_account_id, s.salutation, s.first_name, s.last_name, s.email, s.phone,
       s.mobile, s.crm_modified_time, s.run_id, :now
FROM books.valid_stg_contact_persons AS s
LEFT JOIN books.customers AS c ON c.crm_account_id = s.crm_account_id
LEFT JOIN books.pending_contact_persons AS q ON q.crm_contact_id = s.crm_contact_id
WHERE s.run_id = :run_id
  AND (c.customer_id IS NULL OR q.crm_contact_id IS NOT NULL)
ON CONFLICT (crm_contact_id) DO UPDATE SET
    crm_account_id = excluded.crm_account_id,
    salutation = excluded.salutation,
    first_name = excluded.first_name,
    last_name = excluded.last_name,
    email = excluded.email,
    phone = excluded.phone,
    mobile = excluded.mobile,
    crm_modified_time = excluded.crm_modified_time
WHERE p.crm_modified_time IS NULL OR excluded.crm_modified_time > p.crm_modified_time;

-- What the writes below will do, counted before them (and after the held list, which decides which
-- contact persons go straight): the individual customers, the staged contact persons whose account
-- customer exists and that nothing is held for, and the held ones whose account customer now
-- exists. An upsert's RETURNING cannot tell "unchanged" rows from rows it never saw, so this stays a
-- count. The individual upsert does not change what the contact-person arms see: individual
-- customers have no crm_account_id.
SELECT
    SUM(CASE WHEN x.existing_id IS NULL THEN 1 ELSE 0 END) AS inserted,
    SUM(CASE WHEN x.existing_id IS NOT NULL AND x.writable = 1
              AND (x.old_time IS NULL OR x.new_time > x.old_time)
             THEN 1 ELSE 0 END) AS updated,
    SUM(CASE WHEN x.existing_id IS NOT NULL AND NOT (x.writable = 1
              AND (x.old_time IS NULL OR x.new_time > x.old_time))
             THEN 1 ELSE 0 END) AS unchanged
FROM (
    SELECT s.crm_modified_time AS new_time, c.customer_id AS existing_id,
           c.crm_modified_time AS old_time,
           CASE WHEN c.merged_into_customer_id IS NULL THEN 1 ELSE 0 END AS writable
    FROM books.valid_stg_customers AS s
    LEFT JOIN books.customers AS c ON c.crm_contact_id = s.crm_contact_id
    WHERE s.run_id = :run_id AND s.module = 'Contacts'
    UNION ALL
    SELECT s.crm_modified_time, cp.contact_person_id, cp.crm_modified_time, 1
    FROM books.valid_stg_contact_persons AS s
    JOIN books.customers AS c ON c.crm_account_id = s.crm_account_id
    LEFT JOIN books.pending_contact_persons AS q ON q.crm_contact_id = s.crm_contact_id
    LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = s.crm_contact_id
    WHERE s.run_id = :run_id AND q.crm_contact_id IS NULL
    UNION ALL
    SELECT p.crm_modified_time, cp.contact_person_id, cp.crm_modified_time, 1
    FROM books.pending_contact_persons AS p
    JOIN books.customers AS c ON c.crm_account_id = p.crm_account_id
    LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = p.crm_contact_id
) AS x;

-- Individual customers.
INSERT INTO books.customers AS c (source, crm_contact_id, customer_sub_type, contact_name, company_name, email, phone, mobile, fax, website, notes, billing_street, billing_city, billing_state, billing_zip, billing_country, shipping_street, shipping_city, shipping_state, shipping_zip, shipping_country, crm_modified_time, status, created_at, updated_at)
SELECT 'crm', s.crm_contact_id, s.customer_sub_type, s.contact_name, s.company_name, s.email, s.phone, s.mobile, s.fax, s.website, s.notes, s.billing_street, s.billing_city, s.billing_state, s.billing_zip, s.billing_country, s.shipping_street, s.shipping_city, s.shipping_state, s.shipping_zip, s.shipping_country, s.crm_modified_time, 'active', :now, :now
FROM books.valid_stg_customers AS s
WHERE s.run_id = :run_id AND s.module = 'Contacts'
ON CONFLICT (crm_contact_id) DO UPDATE SET
    customer_sub_type = excluded.customer_sub_type,
    contact_name = excluded.contact_name,
    company_name = excluded.company_name,
    email = excluded.email,
    phone = excluded.phone,
    mobile = excluded.mobile,
    fax = excluded.fax,
    website = excluded.website,
    notes = excluded.notes,
    billing_street = excluded.billing_street,
    billing_city = excluded.billing_city,
    billing_state = excluded.billing_state,
    billing_zip = excluded.billing_zip,
    billing_country = excluded.billing_country,
    shipping_street = excluded.shipping_street,
    shipping_city = excluded.shipping_city,
    shipping_state = excluded.shipping_state,
    shipping_zip = excluded.shipping_zip,
    shipping_country = excluded.shipping_country,
    crm_modified_time = excluded.crm_modified_time,
    updated_at = excluded.updated_at
WHERE c.merged_into_customer_id IS NULL
  AND (c.crm_modified_time IS NULL OR excluded.crm_modified_time > c.crm_modified_time);

-- Contact persons whose account customer exists (loaded earlier or in this transaction) and that
-- are not held join that customer, or the master it was merged into, straight from staging. A
-- customer that had no contact persons gets its primary here: the first in insert order, so the
-- lowest contact_person_id, as attach_held_contact_persons would choose; a first import then does
-- not rewrite every new row there. A customer that already has contact persons, or receives an
-- existing one, is left to attach_held_contact_persons.
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
    FROM books.valid_stg_contact_persons AS s
    JOIN books.customers AS c ON c.crm_account_id = s.crm_account_id
    LEFT JOIN books.pending_contact_persons AS q ON q.crm_contact_id = s.crm_contact_id
    LEFT JOIN books.contact_persons AS e ON e.crm_contact_id = s.crm_contact_id
    WHERE s.run_id = :run_id
      AND q.crm_contact_id IS NULL
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
