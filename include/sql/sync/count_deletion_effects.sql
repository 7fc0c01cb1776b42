-- B5: customers of deleted CRM records are deleted, or kept inactive when they have transactions.
SELECT
    SUM(CASE WHEN (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.customers AS m WHERE m.merged_into_customer_id = c.customer_id)) THEN 0 ELSE 1 END) AS deleted,
    SUM(CASE WHEN (EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = c.customer_id)
       OR EXISTS (SELECT 1 FROM books.customers AS m WHERE m.merged_into_customer_id = c.customer_id)) THEN 1 ELSE 0 END) AS inactivated
FROM books.customers AS c
WHERE c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
  AND (c.crm_account_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Accounts')
       OR c.crm_contact_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Contacts'))
