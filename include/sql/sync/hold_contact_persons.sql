-- Valid staged contact persons of this run that cannot go straight to contact_persons pass
-- through the held list, pending_contact_persons (B2): those whose account customer does not
-- exist, and those already held, so that the newer of the held and staged versions wins as it
-- always did. An older CRM version never overwrites a newer one, deleted records stay deleted
-- (books.valid_stg_contact_persons). The held ones are attached once their account customer
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
WHERE p.crm_modified_time IS NULL OR excluded.crm_modified_time > p.crm_modified_time
