-- Estimates and invoices in one shape, named once (issue 12) instead of a UNION ALL of the two
-- tables copied into each query that reads both. Views only: nothing is stored, and the planners
-- push a caller's filter into each arm (PostgreSQL on UNION ALL views, SQLite's push-down).
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

-- B8: documents a person changed in Books (the status differs from the one the workflow set):
-- the workflow never touches them again.
{{create_view}} books.locked_documents AS
SELECT d.document_type, d.document_id, d.document_number, d.customer_id, d.crm_deal_id, d.status,
       d.workflow_status, d.total, d.date, d.line_item, d.created_at, d.updated_at
FROM books.documents AS d
WHERE d.workflow_status IS NOT NULL AND d.status <> d.workflow_status;
