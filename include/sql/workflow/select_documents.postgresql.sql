-- Estimates and invoices linked to the given deals (one text[] parameter).
SELECT 'estimate' AS document_type, estimate_id AS document_id, crm_deal_id, customer_id,
       status, workflow_status, total, line_item
FROM books.estimates
WHERE crm_deal_id = ANY(:deal_ids)
UNION ALL
SELECT 'invoice' AS document_type, invoice_id AS document_id, crm_deal_id, customer_id,
       status, workflow_status, total, line_item
FROM books.invoices
WHERE crm_deal_id = ANY(:deal_ids)
