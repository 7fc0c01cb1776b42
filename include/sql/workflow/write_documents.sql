-- The estimates and invoices one run staged (B8): new documents are created with the status the
-- workflow set as their workflow_status; a document is updated only while the workflow still owns
-- it (its status unchanged since the workflow set it). One statement per table and action: the
-- two tables have the same columns under their own names.
INSERT INTO books.estimates (estimate_number, customer_id, crm_deal_id, status, workflow_status, total,
                             date, line_item, created_at, updated_at)
SELECT document_number, customer_id, crm_deal_id, to_status, to_status, total, date, line_item,
       :now, :now
FROM books.stg_workflow_documents
WHERE run_id = :run_id AND document_type = 'estimate' AND action = 'create'
ORDER BY document_number;

UPDATE books.estimates AS d
SET status = s.to_status, workflow_status = s.to_status, total = s.total,
    line_item = s.line_item, updated_at = :now
FROM books.stg_workflow_documents AS s
WHERE s.run_id = :run_id AND s.document_type = 'estimate' AND s.action = 'update'
  AND d.estimate_id = s.document_id
  AND d.status = d.workflow_status;

INSERT INTO books.invoices (invoice_number, customer_id, crm_deal_id, status, workflow_status, total,
                            date, line_item, created_at, updated_at)
SELECT document_number, customer_id, crm_deal_id, to_status, to_status, total, date, line_item,
       :now, :now
FROM books.stg_workflow_documents
WHERE run_id = :run_id AND document_type = 'invoice' AND action = 'create'
ORDER BY document_number;

UPDATE books.invoices AS d
SET status = s.to_status, workflow_status = s.to_status, total = s.total,
    line_item = s.line_item, updated_at = :now
FROM books.stg_workflow_documents AS s
WHERE s.run_id = :run_id AND s.document_type = 'invoice' AND s.action = 'update'
  AND d.invoice_id = s.document_id
  AND d.status = d.workflow_status
