-- B5: a deleted CRM record whose customer has transactions (or absorbed merged customers) stays, inactive.
UPDATE books.customers AS c SET status = 'inactive', crm_deleted_time = :now, updated_at = :now
WHERE c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
  AND (c.crm_account_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Accounts')
       OR c.crm_contact_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Contacts'))
  AND (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.customers AS m WHERE m.merged_into_customer_id = c.customer_id))
