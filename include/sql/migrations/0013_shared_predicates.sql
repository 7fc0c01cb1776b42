-- Predicates several load and deletion statements share, named once (issue 12) instead of copied
-- into each file. Views only: nothing is stored, and the planners inline them (PostgreSQL pushes
-- a caller's run_id filter into each arm of stg_contact_move_candidates, SQLite flattens them).
-- {{create_view}} renders CREATE OR REPLACE VIEW on PostgreSQL, CREATE VIEW IF NOT EXISTS on SQLite.

-- Staged customers the load may write: no reject filed for them in their run, and their CRM record
-- not deleted (an older extract never brings a deleted record back). A staged Accounts row carries
-- only crm_account_id, a Contacts row only crm_contact_id: the COALESCE is the record's CRM id.
{{create_view}} books.valid_stg_customers AS
SELECT s.run_id, s.module, s.crm_account_id, s.crm_contact_id, s.customer_sub_type, s.contact_name,
       s.company_name, s.email, s.phone, s.mobile, s.fax, s.website, s.notes, s.billing_street,
       s.billing_city, s.billing_state, s.billing_zip, s.billing_country, s.shipping_street,
       s.shipping_city, s.shipping_state, s.shipping_zip, s.shipping_country, s.crm_modified_time
FROM books.stg_customers AS s
WHERE NOT EXISTS (SELECT 1 FROM books.stg_rejects AS r
                  WHERE r.run_id = s.run_id AND r.module = s.module
                    AND r.crm_id = COALESCE(s.crm_account_id, s.crm_contact_id))
  AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                  WHERE d.module = s.module
                    AND d.crm_id = COALESCE(s.crm_account_id, s.crm_contact_id));

-- Staged contact persons the load may write, by the same rule (they come from Contacts records).
{{create_view}} books.valid_stg_contact_persons AS
SELECT s.run_id, s.crm_contact_id, s.crm_account_id, s.salutation, s.first_name, s.last_name,
       s.email, s.phone, s.mobile, s.crm_modified_time
FROM books.stg_contact_persons AS s
WHERE NOT EXISTS (SELECT 1 FROM books.stg_rejects AS r
                  WHERE r.run_id = s.run_id AND r.module = 'Contacts' AND r.crm_id = s.crm_contact_id)
  AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                  WHERE d.module = 'Contacts' AND d.crm_id = s.crm_contact_id);

-- B2/B5: a run's staged contacts that exist both as an individual customer and as a contact person
-- or held row, i.e. may have moved between the two. Each arm joins staging to one table on its
-- unique crm_contact_id and carries no per-row subqueries, so PostgreSQL plans it cheaply.
{{create_view}} books.stg_contact_move_candidates AS
SELECT s.run_id, s.crm_contact_id FROM books.stg_contact_persons AS s
JOIN books.customers AS c0 ON c0.crm_contact_id = s.crm_contact_id
UNION
SELECT s.run_id, s.crm_contact_id FROM books.stg_customers AS s
JOIN books.contact_persons AS cp0 ON cp0.crm_contact_id = s.crm_contact_id
WHERE s.module = 'Contacts'
UNION
SELECT s.run_id, s.crm_contact_id FROM books.stg_customers AS s
JOIN books.pending_contact_persons AS p0 ON p0.crm_contact_id = s.crm_contact_id
WHERE s.module = 'Contacts';

-- B5: a customer with estimates, invoices or customers merged into it has history; retired (its
-- CRM record deleted, or its contact moved), it is kept inactive instead of deleted.
{{create_view}} books.customer_history AS
SELECT c.customer_id,
       CASE WHEN EXISTS (SELECT 1 FROM books.estimates AS e WHERE e.customer_id = c.customer_id)
              OR EXISTS (SELECT 1 FROM books.invoices AS i WHERE i.customer_id = c.customer_id)
              OR EXISTS (SELECT 1 FROM books.customers AS m WHERE m.merged_into_customer_id = c.customer_id)
            THEN 1 ELSE 0 END AS has_history
FROM books.customers AS c;

-- B5: active CRM customers (not merged away) whose CRM record was deleted: apply_deletions
-- deletes them, or keeps them inactive when they have history.
{{create_view}} books.crm_deleted_customers AS
SELECT c.customer_id, h.has_history
FROM books.customers AS c
JOIN books.customer_history AS h ON h.customer_id = c.customer_id
WHERE c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
  AND (c.crm_account_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Accounts')
       OR c.crm_contact_id IN (SELECT d.crm_id FROM books.crm_deletions AS d WHERE d.module = 'Contacts'));
