-- Only a estimate the workflow still owns (status unchanged since the workflow set it) is updated.
UPDATE books.estimates AS d
SET status = s.to_status, workflow_status = s.to_status, total = s.total,
    line_item = s.line_item, updated_at = :now
FROM books.stg_workflow_documents AS s
WHERE s.run_id = :run_id AND s.document_type = 'estimate' AND s.action = 'update'
  AND d.estimate_id = s.document_id
  AND d.status = d.workflow_status
