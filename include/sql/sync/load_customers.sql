-- Valid staged customers of this run, both modules at once, into books.customers: Accounts rows
-- are matched on crm_account_id, Contacts rows (individual customers: a contact without an
-- account) on crm_contact_id; a staged row carries only the id of its own module, so one of the
-- two joins finds its customer. Existing ones are updated when the staged CRM version is newer,
-- then the others inserted, in staging order (an ORDER BY module made PostgreSQL sort the staged
-- rows for a merge join: 1.1 of 3.4 s at 300,000 records). An older CRM version never overwrites
-- a newer one, a merged-away customer is never revived, and deleted CRM records stay deleted
-- (books.valid_stg_customers). Each write returns its own rows ("<module>:updated",
-- "<module>:inserted"); load_run counts the staged rows that neither wrote as unchanged. The load
-- holds the warehouse lock, so no other writer adds a customer in between (no ON CONFLICT).
UPDATE books.customers AS c
SET (customer_sub_type, contact_name, company_name, email, phone, mobile, fax, website, notes,
     billing_street, billing_city, billing_state, billing_zip, billing_country, shipping_street,
     shipping_city, shipping_state, shipping_zip, shipping_country, crm_modified_time, updated_at)
  = (x.customer_sub_type, x.contact_name, x.company_name, x.email, x.phone, x.mobile, x.fax,
     x.website, x.notes, x.billing_street, x.billing_city, x.billing_state, x.billing_zip,
     x.billing_country, x.shipping_street, x.shipping_city, x.shipping_state, x.shipping_zip,
     x.shipping_country, x.crm_modified_time, :now)
FROM (
    SELECT COALESCE(a.customer_id, i.customer_id) AS customer_id, s.customer_sub_type,
           s.contact_name, s.company_name, s.email, s.phone, s.mobile, s.fax, s.website, s.notes,
           s.billing_street, s.billing_city, s.billing_state, s.billing_zip, s.billing_country,
           s.shipping_street, s.shipping_city, s.shipping_state, s.shipping_zip,
           s.shipping_country, s.crm_modified_time
    FROM books.valid_stg_customers AS s
    LEFT JOIN books.customers AS a ON a.crm_account_id = s.crm_account_id
    LEFT JOIN books.customers AS i ON i.crm_contact_id = s.crm_contact_id
    WHERE s.run_id = :run_id AND s.module IN :modules
) AS x
WHERE c.customer_id = x.customer_id
  AND c.merged_into_customer_id IS NULL
  AND (c.crm_modified_time IS NULL OR x.crm_modified_time > c.crm_modified_time)
RETURNING CASE WHEN crm_account_id IS NULL THEN 'Contacts:updated' ELSE 'Accounts:updated' END;

INSERT INTO books.customers (source, crm_account_id, crm_contact_id, customer_sub_type, contact_name, company_name, email, phone, mobile, fax, website, notes, billing_street, billing_city, billing_state, billing_zip, billing_country, shipping_street, shipping_city, shipping_state, shipping_zip, shipping_country, crm_modified_time, status, created_at, updated_at)
SELECT 'crm', s.crm_account_id, s.crm_contact_id, s.customer_sub_type, s.contact_name, s.company_name, s.email, s.phone, s.mobile, s.fax, s.website, s.notes, s.billing_street, s.billing_city, s.billing_state, s.billing_zip, s.billing_country, s.shipping_street, s.shipping_city, s.shipping_state, s.shipping_zip, s.shipping_country, s.crm_modified_time, 'active', :now, :now
FROM books.valid_stg_customers AS s
WHERE s.run_id = :run_id AND s.module IN :modules
  AND NOT EXISTS (SELECT 1 FROM books.customers AS a WHERE a.crm_account_id = s.crm_account_id)
  AND NOT EXISTS (SELECT 1 FROM books.customers AS i WHERE i.crm_contact_id = s.crm_contact_id)
RETURNING CASE WHEN crm_account_id IS NULL THEN 'Contacts:inserted' ELSE 'Accounts:inserted' END
