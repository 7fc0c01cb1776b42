-- Valid Contacts of this run: individual customers (a contact without an account) into
-- books.customers and, while their account customer does not exist, contact persons held in
-- pending_contact_persons (B2); upsert_contact_persons then attaches the others. Same rules as
-- load_accounts: an older CRM version never overwrites a newer one, merged-away customers are never
-- revived, deleted records stay deleted (books.valid_stg_customers, books.valid_stg_contact_persons).

-- Contact persons that cannot go straight to contact_persons pass through the held list: those
-- whose account customer does not exist, and those already held, so the newer of the held and
-- staged versions wins as it always did. The held ones are attached once their account customer
-- exists; the rest go straight from staging (books.attachable_stg_contact_persons).
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
    (crm_account_id, salutation, first_name, last_name, email, phone, mobile, crm_modified_time)
  = (excluded.crm_account_id, excluded.salutation, excluded.first_name, excluded.last_name,
     excluded.email, excluded.phone, excluded.mobile, excluded.crm_modified_time)
WHERE p.crm_modified_time IS NULL OR excluded.crm_modified_time > p.crm_modified_time;

-- What the writes will do, counted before them (and after the held list, which decides which
-- contact persons go straight): the individual customers, the staged contact persons that go
-- straight, and the held ones whose account customer now exists. An upsert's RETURNING cannot tell
-- "unchanged" rows from rows it never saw, so this stays a count. The individual upsert does not
-- change what the contact-person arms see: individual customers have no crm_account_id.
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
    SELECT a.crm_modified_time, cp.contact_person_id, cp.crm_modified_time, 1
    FROM books.attachable_stg_contact_persons AS a
    LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = a.crm_contact_id
    WHERE a.run_id = :run_id
    UNION ALL
    SELECT h.crm_modified_time, cp.contact_person_id, cp.crm_modified_time, 1
    FROM books.attachable_held_contact_persons AS h
    LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = h.crm_contact_id
) AS x;

-- Individual customers.
INSERT INTO books.customers AS c (source, crm_contact_id, customer_sub_type, contact_name, company_name, email, phone, mobile, fax, website, notes, billing_street, billing_city, billing_state, billing_zip, billing_country, shipping_street, shipping_city, shipping_state, shipping_zip, shipping_country, crm_modified_time, status, created_at, updated_at)
SELECT 'crm', s.crm_contact_id, s.customer_sub_type, s.contact_name, s.company_name, s.email, s.phone, s.mobile, s.fax, s.website, s.notes, s.billing_street, s.billing_city, s.billing_state, s.billing_zip, s.billing_country, s.shipping_street, s.shipping_city, s.shipping_state, s.shipping_zip, s.shipping_country, s.crm_modified_time, 'active', :now, :now
FROM books.valid_stg_customers AS s
WHERE s.run_id = :run_id AND s.module = 'Contacts'
ON CONFLICT (crm_contact_id) DO UPDATE SET
    (customer_sub_type, contact_name, company_name, email, phone, mobile, fax, website, notes,
     billing_street, billing_city, billing_state, billing_zip, billing_country, shipping_street,
     shipping_city, shipping_state, shipping_zip, shipping_country, crm_modified_time, updated_at)
  = (excluded.customer_sub_type, excluded.contact_name, excluded.company_name, excluded.email,
     excluded.phone, excluded.mobile, excluded.fax, excluded.website, excluded.notes,
     excluded.billing_street, excluded.billing_city, excluded.billing_state, excluded.billing_zip,
     excluded.billing_country, excluded.shipping_street, excluded.shipping_city,
     excluded.shipping_state, excluded.shipping_zip, excluded.shipping_country,
     excluded.crm_modified_time, excluded.updated_at)
WHERE c.merged_into_customer_id IS NULL
  AND (c.crm_modified_time IS NULL OR excluded.crm_modified_time > c.crm_modified_time)
