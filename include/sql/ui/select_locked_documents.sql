-- Estimates and invoices a person changed, in Books or on this page: the workflow no longer
-- touches them (B8, B10).
SELECT d.document_type, d.document_number, d.customer_id, c.contact_name, d.crm_deal_id, d.status,
       d.workflow_status, d.total, d.date, d.updated_at
FROM books.locked_documents AS d
JOIN books.customers AS c ON c.customer_id = d.customer_id
ORDER BY d.updated_at DESC, d.document_number
LIMIT :limit
