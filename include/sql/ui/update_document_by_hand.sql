-- A person's edit from the page (B10). The workflow updates only documents whose status is still
-- the one it set (B8): a new status keeps workflow_status, so they differ; an edit that keeps the
-- status clears workflow_status, which the workflow also treats as set by a person.
-- {{documents}} and {{document_id}}: the document type's table and key (config.DOCUMENT_TABLES).
UPDATE {{documents}}
SET status = :status, total = :total, updated_at = :now,
    workflow_status = CASE WHEN workflow_status = :status THEN NULL ELSE workflow_status END
WHERE {{document_id}} = :document_id;
INSERT INTO books.workflow_events (run_id, crm_deal_id, workflow, document_type, document_id,
    action, from_status, to_status, reason, created_at)
VALUES (:run_id, :crm_deal_id, 'by_hand', :document_type, :document_id, 'manual_edit',
    :from_status, :status, :reason, :now)
