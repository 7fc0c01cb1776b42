COPY bench_bound.stg_customers (
    run_id, module, crm_account_id, crm_contact_id, customer_sub_type, contact_name,
    company_name, email, phone, mobile, fax, website, notes, billing_street, billing_city,
    billing_state, billing_zip, billing_country, shipping_street, shipping_city, shipping_state,
    shipping_zip, shipping_country, crm_modified_time
) FROM STDIN
