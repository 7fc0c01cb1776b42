-- Held contact persons join their account customer once it exists, whichever modules this run
-- read; then every customer with contact persons gets exactly one primary, and the run log
-- learns how many of this run's contact persons are still held (B2).
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
WHERE cp.crm_modified_time IS NULL OR excluded.crm_modified_time > cp.crm_modified_time;

DELETE FROM books.pending_contact_persons
WHERE crm_account_id IN (SELECT crm_account_id FROM books.customers WHERE crm_account_id IS NOT NULL);

-- Each customer with contact persons has exactly one primary: the earliest, unless one is set.
UPDATE books.contact_persons SET is_primary_contact = TRUE
WHERE contact_person_id IN (
    SELECT MIN(contact_person_id) FROM books.contact_persons
    GROUP BY customer_id
    HAVING SUM(CASE WHEN is_primary_contact THEN 1 ELSE 0 END) = 0
);

-- This run's contact persons still waiting for their account.
SELECT COUNT(*) FROM books.pending_contact_persons AS p
WHERE p.crm_contact_id IN (SELECT s.crm_contact_id FROM books.stg_contact_persons AS s WHERE s.run_id = :run_id)
