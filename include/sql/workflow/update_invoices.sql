-- Only a invoice the workflow still owns (status unchanged since the workflow set it) is updated.
UPDATE books.invoices
SET status = :to_status, workflow_status = :to_status, total = :total, line_item = :line_item,
    updated_at = :now
WHERE invoice_id = :document_id
  AND status = workflow_status
