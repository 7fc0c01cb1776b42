-- Estimates created by one run; workflow_status records the status the workflow set.
INSERT INTO books.estimates (estimate_number, customer_id, crm_deal_id, status, workflow_status, total,
                       date, line_item, created_at, updated_at)
SELECT document_number, customer_id, crm_deal_id, to_status, to_status, total, date, line_item,
       :now, :now
FROM books.stg_workflow_documents
WHERE run_id = :run_id AND document_type = 'estimate' AND action = 'create'
ORDER BY document_number
