-- Valid Contacts customers of this run into books.customers. An older CRM version never overwrites a
-- newer one, a merged-away customer is never revived, and deleted CRM records stay deleted.
INSERT INTO books.customers AS c (source, crm_contact_id, customer_sub_type, contact_name, company_name, email, phone, mobile, fax, website, notes, billing_street, billing_city, billing_state, billing_zip, billing_country, shipping_street, shipping_city, shipping_state, shipping_zip, shipping_country, crm_modified_time, status, created_at, updated_at)
SELECT 'crm', s.crm_contact_id, s.customer_sub_type, s.contact_name, s.company_name, s.email, s.phone, s.mobile, s.fax, s.website, s.notes, s.billing_street, s.billing_city, s.billing_state, s.billing_zip, s.billing_country, s.shipping_street, s.shipping_city, s.shipping_state, s.shipping_zip, s.shipping_country, s.crm_modified_time, 'active', :now, :now
FROM books.stg_customers AS s
WHERE s.run_id = :run_id AND s.module = 'Contacts'
  AND NOT EXISTS (SELECT 1 FROM books.stg_rejects AS r
                  WHERE r.run_id = s.run_id AND r.module = s.module AND r.crm_id = s.crm_contact_id)
  AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                  WHERE d.module = s.module AND d.crm_id = s.crm_contact_id)
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
  AND (c.crm_modified_time IS NULL OR excluded.crm_modified_time > c.crm_modified_time)
