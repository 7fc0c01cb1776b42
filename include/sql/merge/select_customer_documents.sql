-- Estimates and invoices a customer holds, which a merge moves to the master.
SELECT 'estimate' AS document_type, estimate_id AS document_id, estimate_number AS document_number
FROM books.estimates
WHERE customer_id = :customer_id
UNION ALL
SELECT 'invoice' AS document_type, invoice_id AS document_id, invoice_number AS document_number
FROM books.invoices
WHERE customer_id = :customer_id
ORDER BY document_type, document_id
