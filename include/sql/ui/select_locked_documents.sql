-- Estimates and invoices a person changed (in Books, or on this page: a manual_edit event; an edit
-- that keeps the status clears workflow_status): the workflow no longer touches them (B8, B10).
SELECT document_type, document_number, customer_id, contact_name, crm_deal_id, status,
       workflow_status, total, date, updated_at
FROM (
    SELECT 'estimate' AS document_type, e.estimate_number AS document_number, e.customer_id,
           c.contact_name, e.crm_deal_id, e.status, e.workflow_status, e.total, e.date,
           e.updated_at
    FROM books.estimates AS e
    JOIN books.customers AS c ON c.customer_id = e.customer_id
    WHERE (e.status <> e.workflow_status OR (e.workflow_status IS NULL AND EXISTS (
          SELECT 1 FROM books.workflow_events AS w
          WHERE w.document_type = 'estimate' AND w.document_id = e.estimate_id
            AND w.action = 'manual_edit')))
    UNION ALL
    SELECT 'invoice' AS document_type, i.invoice_number AS document_number, i.customer_id,
           c.contact_name, i.crm_deal_id, i.status, i.workflow_status, i.total, i.date,
           i.updated_at
    FROM books.invoices AS i
    JOIN books.customers AS c ON c.customer_id = i.customer_id
    WHERE (i.status <> i.workflow_status OR (i.workflow_status IS NULL AND EXISTS (
          SELECT 1 FROM books.workflow_events AS w
          WHERE w.document_type = 'invoice' AND w.document_id = i.invoice_id
            AND w.action = 'manual_edit')))
) AS locked
ORDER BY updated_at DESC, document_number
LIMIT :limit
