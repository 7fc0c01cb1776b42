-- Only a estimate the workflow still owns (status unchanged since the workflow set it) is updated.
UPDATE books.estimates
SET status = :to_status, workflow_status = :to_status, total = :total, line_item = :line_item,
    updated_at = :now
WHERE estimate_id = :document_id
  AND status = workflow_status
