-- After upsert_contact_persons has attached the held contact persons whose account customer
-- exists (whichever modules this run read): they leave the held list, every customer with contact
-- persons gets exactly one primary, and the run log learns how many of this run's contact persons
-- are still held (B2).
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
