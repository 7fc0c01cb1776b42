-- More shared shapes named once (issue 12; 0013 has the first ones): estimates and invoices as one
-- set of documents, instead of a UNION ALL of the two tables copied into each query that reads
-- both, and the contact persons that can join their account customer, which the load counts and
-- then writes. Views only: nothing is stored, and the planners inline them or push a caller's
-- filter into each arm (PostgreSQL on UNION ALL views, SQLite's push-down).
-- {{create_view}} renders CREATE OR REPLACE VIEW on PostgreSQL, CREATE VIEW IF NOT EXISTS on SQLite.

-- Every estimate and invoice, by document_type; workflow_status is the status the workflow last set.
{{create_view}} books.documents AS
SELECT 'estimate' AS document_type, e.estimate_id AS document_id,
       e.estimate_number AS document_number, e.customer_id, e.crm_deal_id, e.status,
       e.workflow_status, e.total, e.date, e.line_item, e.created_at, e.updated_at
FROM books.estimates AS e
UNION ALL
SELECT 'invoice', i.invoice_id, i.invoice_number, i.customer_id, i.crm_deal_id, i.status,
       i.workflow_status, i.total, i.date, i.line_item, i.created_at, i.updated_at
FROM books.invoices AS i;

-- B8: documents a person changed, in Books (the status differs from the one the workflow set) or
-- on the CRM -> Books page (a manual_edit event; an edit that keeps the status clears
-- workflow_status): the workflow never touches them again.
{{create_view}} books.locked_documents AS
SELECT d.document_type, d.document_id, d.document_number, d.customer_id, d.crm_deal_id, d.status,
       d.workflow_status, d.total, d.date, d.line_item, d.created_at, d.updated_at
FROM books.documents AS d
WHERE d.status <> d.workflow_status
   OR (d.workflow_status IS NULL AND EXISTS (
       SELECT 1 FROM books.workflow_events AS w
       WHERE w.document_type = d.document_type AND w.document_id = d.document_id
         AND w.action = 'manual_edit'));

-- B2: this run's valid staged contact persons whose account customer exists and that nothing is
-- held for: they join that customer, or the master it was merged into, straight from staging.
{{create_view}} books.attachable_stg_contact_persons AS
SELECT s.run_id, COALESCE(c.merged_into_customer_id, c.customer_id) AS customer_id, s.crm_contact_id,
       s.salutation, s.first_name, s.last_name, s.email, s.phone, s.mobile, s.crm_modified_time
FROM books.valid_stg_contact_persons AS s
JOIN books.customers AS c ON c.crm_account_id = s.crm_account_id
WHERE NOT EXISTS (SELECT 1 FROM books.pending_contact_persons AS q
                  WHERE q.crm_contact_id = s.crm_contact_id);

-- B2: held contact persons whose account customer now exists: they join it (or its master).
{{create_view}} books.attachable_held_contact_persons AS
SELECT COALESCE(c.merged_into_customer_id, c.customer_id) AS customer_id, p.crm_contact_id,
       p.salutation, p.first_name, p.last_name, p.email, p.phone, p.mobile, p.crm_modified_time
FROM books.pending_contact_persons AS p
JOIN books.customers AS c ON c.crm_account_id = p.crm_account_id;
