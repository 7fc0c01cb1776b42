-- B5: customers of this run's recorded CRM deletions (books.run_deleted_customers) are deleted, or
-- kept inactive when they have history; a deleted contact leaves its customer's contact persons
-- and the held list. Only the deletions this run recorded (applied_run_id): those of earlier runs
-- were applied by them, so the work follows the run's deletions, not the warehouse's size. Each
-- counted write returns one row per row it changed, named for the run log and the module the
-- deleted record came from (RETURNING): the contact persons of deleted contacts go first, so the
-- count sees them all.
DELETE FROM books.contact_persons
WHERE crm_contact_id IN (SELECT crm_id FROM books.crm_deletions
                         WHERE applied_run_id = :run_id AND module = 'Contacts')
RETURNING 'Contacts:contact_persons_removed';
DELETE FROM books.pending_contact_persons
WHERE crm_contact_id IN (SELECT crm_id FROM books.crm_deletions
                         WHERE applied_run_id = :run_id AND module = 'Contacts');

UPDATE books.customers SET status = 'inactive', crm_deleted_time = :now, updated_at = :now
WHERE customer_id IN (SELECT customer_id FROM books.run_deleted_customers
                      WHERE run_id = :run_id AND has_history = 1)
RETURNING CASE WHEN crm_account_id IS NULL THEN 'Contacts:inactivated' ELSE 'Accounts:inactivated' END;

-- A deleted customer goes with its contact persons and its duplicate-candidate rows.
DELETE FROM books.contact_persons
WHERE customer_id IN (SELECT customer_id FROM books.run_deleted_customers
                      WHERE run_id = :run_id AND has_history = 0);
DELETE FROM books.duplicate_candidates
WHERE customer_id IN (SELECT customer_id FROM books.run_deleted_customers
                      WHERE run_id = :run_id AND has_history = 0);
DELETE FROM books.customers
WHERE customer_id IN (SELECT customer_id FROM books.run_deleted_customers
                      WHERE run_id = :run_id AND has_history = 0)
RETURNING CASE WHEN crm_account_id IS NULL THEN 'Contacts:deleted' ELSE 'Accounts:deleted' END
