-- B5: a deleted CRM record whose customer has no transactions is deleted with its contact persons.
-- Duplicate-candidate rows of a deleted customer go with it.
DELETE FROM books.contact_persons WHERE customer_id IN (
    SELECT c.customer_id FROM books.customers AS c WHERE c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
  AND (c.crm_account_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Accounts')
       OR c.crm_contact_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Contacts')) AND NOT (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.customers AS m WHERE m.merged_into_customer_id = c.customer_id)));
DELETE FROM books.duplicate_candidates WHERE customer_id IN (
    SELECT c.customer_id FROM books.customers AS c WHERE c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
  AND (c.crm_account_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Accounts')
       OR c.crm_contact_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Contacts')) AND NOT (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.customers AS m WHERE m.merged_into_customer_id = c.customer_id)));
DELETE FROM books.customers WHERE customer_id IN (
    SELECT c.customer_id FROM books.customers AS c WHERE c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
  AND (c.crm_account_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Accounts')
       OR c.crm_contact_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Contacts')) AND NOT (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.customers AS m WHERE m.merged_into_customer_id = c.customer_id)))
