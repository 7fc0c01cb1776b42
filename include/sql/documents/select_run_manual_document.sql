-- The document an earlier try of this run already made by hand, if any (a retry returns it).
SELECT w.document_type, w.document_id,
       COALESCE(e.estimate_number, i.invoice_number) AS document_number,
       COALESCE(e.customer_id, i.customer_id) AS customer_id
FROM books.workflow_events AS w
LEFT JOIN books.estimates AS e ON w.document_type = 'estimate' AND e.estimate_id = w.document_id
LEFT JOIN books.invoices AS i ON w.document_type = 'invoice' AND i.invoice_id = w.document_id
WHERE w.run_id = :run_id AND w.workflow = 'manual' AND w.action = 'create'
