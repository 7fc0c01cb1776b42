DELETE FROM books.pending_contact_persons
WHERE crm_account_id IN (SELECT crm_account_id FROM books.customers WHERE crm_account_id IS NOT NULL)
