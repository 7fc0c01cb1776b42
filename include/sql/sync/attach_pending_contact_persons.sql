-- Held contact persons whose account customer now exists join it (or the master it was merged into).
INSERT INTO books.contact_persons AS cp (customer_id, crm_contact_id, salutation, first_name, last_name,
    email, phone, mobile, is_primary_contact, crm_modified_time, created_at, updated_at)
SELECT COALESCE(c.merged_into_customer_id, c.customer_id), p.crm_contact_id, p.salutation, p.first_name,
       p.last_name, p.email, p.phone, p.mobile, FALSE, p.crm_modified_time, :now, :now
FROM books.pending_contact_persons AS p
JOIN books.customers AS c ON c.crm_account_id = p.crm_account_id
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
