-- The bound's one set-based upsert: every staged row into the copy of books.customers.
INSERT INTO bench_bound.customers (
    source, crm_account_id, crm_contact_id, customer_sub_type, contact_name, company_name,
    email, phone, mobile, fax, website, notes, billing_street, billing_city, billing_state,
    billing_zip, billing_country, shipping_street, shipping_city, shipping_state, shipping_zip,
    shipping_country, status, crm_modified_time, created_at, updated_at
)
SELECT 'crm', s.crm_account_id, s.crm_contact_id, s.customer_sub_type, s.contact_name,
       s.company_name, s.email, s.phone, s.mobile, s.fax, s.website, s.notes, s.billing_street,
       s.billing_city, s.billing_state, s.billing_zip, s.billing_country, s.shipping_street,
       s.shipping_city, s.shipping_state, s.shipping_zip, s.shipping_country, 'active',
       s.crm_modified_time, now(), now()
FROM bench_bound.stg_customers AS s
WHERE s.run_id = %(run_id)s
ON CONFLICT (crm_account_id) DO UPDATE SET
    customer_sub_type = excluded.customer_sub_type, contact_name = excluded.contact_name,
    company_name = excluded.company_name, email = excluded.email, phone = excluded.phone,
    mobile = excluded.mobile, fax = excluded.fax, website = excluded.website,
    notes = excluded.notes, billing_street = excluded.billing_street,
    billing_city = excluded.billing_city, billing_state = excluded.billing_state,
    billing_zip = excluded.billing_zip, billing_country = excluded.billing_country,
    shipping_street = excluded.shipping_street, shipping_city = excluded.shipping_city,
    shipping_state = excluded.shipping_state, shipping_zip = excluded.shipping_zip,
    shipping_country = excluded.shipping_country, crm_modified_time = excluded.crm_modified_time,
    updated_at = excluded.updated_at
