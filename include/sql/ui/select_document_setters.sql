-- Who set each listed document's status: the status the workflow last set (NULL: not the workflow's).
SELECT 'estimate' AS document_type, estimate_number AS document_number, status, workflow_status
FROM books.estimates
WHERE estimate_number IN :numbers
UNION ALL
SELECT 'invoice', invoice_number, status, workflow_status
FROM books.invoices
WHERE invoice_number IN :numbers
