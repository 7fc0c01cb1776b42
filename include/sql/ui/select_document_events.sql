-- A document's audit trail: workflow events about it, including the one that created it (written
-- before the document had an id), and edits made on the page, oldest first.
SELECT event_id, run_id, workflow, action, from_status, to_status, reason, created_at
FROM books.workflow_events
WHERE document_type = :document_type
  AND (document_id = :document_id
       OR (document_id IS NULL AND crm_deal_id = :crm_deal_id AND action = 'create'))
ORDER BY created_at, event_id
