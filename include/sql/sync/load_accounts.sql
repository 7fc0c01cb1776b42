-- Valid Accounts customers of this run into books.customers: what the upsert will do is counted
-- first (an upsert's RETURNING cannot tell "unchanged" rows, which it skips, from rows it never
-- saw), then it runs. An older CRM version never overwrites a newer one, a merged-away customer is
-- never revived, and deleted CRM records stay deleted (books.valid_stg_customers).
SELECT
    SUM(CASE WHEN c.customer_id IS NULL THEN 1 ELSE 0 END) AS inserted,
    SUM(CASE WHEN c.customer_id IS NOT NULL AND c.merged_into_customer_id IS NULL
              AND (c.crm_modified_time IS NULL OR s.crm_modified_time > c.crm_modified_time)
             THEN 1 ELSE 0 END) AS updated,
    SUM(CASE WHEN c.customer_id IS NOT NULL AND NOT (c.merged_into_customer_id IS NULL
              AND (c.crm_modified_time IS NULL OR s.crm_modified_time > c.crm_modified_time))
             THEN 1 ELSE 0 END) AS unchanged
FROM books.valid_stg_customers AS s
LEFT JOIN books.customers AS c ON c.crm_account_id = s.crm_account_id
WHERE s.run_id = :run_id AND s.module = 'Accounts';
INSERT INTO books.customers AS c (source, crm_account_id, customer_sub_type, contact_name, company_name, email, phone, mobile, fax, website, notes, billing_street, billing_city, billing_state, billing_zip, billing_country, shipping_street, shipping_city, shipping_state, shipping_zip, shipping_country, crm_modified_time, status, created_at, updated_at)
SELECT 'crm', s.crm_account_id, s.customer_sub_type, s.contact_name, s.company_name, s.email, s.phone, s.mobile, s.fax, s.website, s.notes, s.billing_street, s.billing_city, s.billing_state, s.billing_zip, s.billing_country, s.shipping_street, s.shipping_city, s.shipping_state, s.shipping_zip, s.shipping_country, s.crm_modified_time, 'active', :now, :now
FROM books.valid_stg_customers AS s
WHERE s.run_id = :run_id AND s.module = 'Accounts'
ON CONFLICT (crm_account_id) DO UPDATE SET
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
