-- apply_deletions in proportion to the run's deletions, not to the warehouse (issues 12 and 16: the 1 % incremental).
-- A CRM deletion is applied by the run that records it (insert_crm_deletions and
-- apply_crm_deletions share one transaction), and no later write can make its customer active
-- again (the load skips deleted records, a contact move never reactivates one): so each run needs
-- only the deletions it recorded, found through this index instead of a scan of every customer.
CREATE INDEX IF NOT EXISTS ix_crm_deletions_applied_run ON books.crm_deletions (applied_run_id);

-- B5: the active CRM customers (not merged away) of each run's recorded CRM deletions, with
-- whether they have history (books.customer_history). Each arm looks customers up on their unique
-- CRM id of the deleted record's module; a caller's run_id filter reaches both arms.
{{create_view}} books.run_deleted_customers AS
SELECT d.applied_run_id AS run_id, c.customer_id, h.has_history
FROM books.crm_deletions AS d
JOIN books.customers AS c ON c.crm_account_id = d.crm_id AND d.module = 'Accounts'
JOIN books.customer_history AS h ON h.customer_id = c.customer_id
WHERE c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
UNION ALL
SELECT d.applied_run_id, c.customer_id, h.has_history
FROM books.crm_deletions AS d
JOIN books.customers AS c ON c.crm_contact_id = d.crm_id AND d.module = 'Contacts'
JOIN books.customer_history AS h ON h.customer_id = c.customer_id
WHERE c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active';

-- Superseded by books.run_deleted_customers: it matched every customer against every deletion.
DROP VIEW IF EXISTS books.crm_deleted_customers;
