-- The documents of one type that one run staged (B8), run once per type: {{documents}},
-- {{document_id}} and {{document_number}} are that type's table and key columns (estimates:
-- books.estimates, estimate_id, estimate_number; see deals/store.py DOCUMENT_TABLES), every value
-- is a bind parameter. New documents are created with the status the workflow set as their
-- workflow_status; a document is updated only while the workflow still owns it (its status
-- unchanged since the workflow set it).
INSERT INTO {{documents}} ({{document_number}}, customer_id, crm_deal_id, status, workflow_status,
                           total, date, line_item, created_at, updated_at)
SELECT document_number, customer_id, crm_deal_id, to_status, to_status, total, date, line_item,
       :now, :now
FROM books.stg_workflow_documents
WHERE run_id = :run_id AND document_type = :document_type AND action = 'create'
ORDER BY document_number;

UPDATE {{documents}} AS d
SET status = s.to_status, workflow_status = s.to_status, total = s.total,
    line_item = s.line_item, updated_at = :now
FROM books.stg_workflow_documents AS s
WHERE s.run_id = :run_id AND s.document_type = :document_type AND s.action = 'update'
  AND d.{{document_id}} = s.document_id
  AND d.status = d.workflow_status
