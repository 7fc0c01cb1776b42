-- Valid contact persons of this run that cannot go straight to contact_persons pass through here
-- (B2: a contact whose account has not arrived waits instead of being lost): those whose account
-- customer does not exist, and those already held, so the newer of the held and staged versions
-- wins as it always did. attach_pending then moves the held ones whose account customer exists;
-- the rest go straight from staging (attach_staged_contact_persons).
INSERT INTO books.pending_contact_persons AS p (crm_contact_id, crm_account_id, salutation, first_name,
    last_name, email, phone, mobile, crm_modified_time, first_seen_run_id, held_at)
SELECT s.crm_contact_id, s.crm_account_id, s.salutation, s.first_name, s.last_name, s.email, s.phone,
       s.mobile, s.crm_modified_time, s.run_id, :now
FROM books.stg_contact_persons AS s
LEFT JOIN books.customers AS c ON c.crm_account_id = s.crm_account_id
LEFT JOIN books.pending_contact_persons AS q ON q.crm_contact_id = s.crm_contact_id
WHERE s.run_id = :run_id
  AND (c.customer_id IS NULL OR q.crm_contact_id IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM books.stg_rejects AS r
                  WHERE r.run_id = s.run_id AND r.module = 'Contacts' AND r.crm_id = s.crm_contact_id)
  AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                  WHERE d.module = 'Contacts' AND d.crm_id = s.crm_contact_id)
ON CONFLICT (crm_contact_id) DO UPDATE SET
    crm_account_id = excluded.crm_account_id,
    salutation = excluded.salutation,
    first_name = excluded.first_name,
    last_name = excluded.last_name,
    email = excluded.email,
    phone = excluded.phone,
    mobile = excluded.mobile,
    crm_modified_time = excluded.crm_modified_time
WHERE p.crm_modified_time IS NULL OR excluded.crm_modified_time > p.crm_modified_time
