-- :records staged-customer rows made from what the full run loaded (customers repeated with a
-- suffix on the key until there are enough), all keyed on crm_account_id, in COPY text format.
COPY (
    SELECT 'bench-bound', 'Accounts',
           coalesce(c.crm_account_id, c.crm_contact_id) || '.' || k.n, NULL,
           c.customer_sub_type, c.contact_name, c.company_name, c.email, c.phone, c.mobile,
           c.fax, c.website, c.notes, c.billing_street, c.billing_city, c.billing_state,
           c.billing_zip, c.billing_country, c.shipping_street, c.shipping_city, c.shipping_state,
           c.shipping_zip, c.shipping_country, c.crm_modified_time
    FROM generate_series(0, %(repeats)s) AS k(n)
    CROSS JOIN books.customers AS c
    ORDER BY k.n, c.customer_id
    LIMIT %(records)s
) TO STDOUT
