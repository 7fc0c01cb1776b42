-- The audit row of a document made by hand: workflow 'manual', no deal (crm_deal_id is ''), the
-- run that made it and who triggered it in the reason.
INSERT INTO books.workflow_events (run_id, crm_deal_id, workflow, document_type, document_id,
                                   action, from_status, to_status, reason, created_at)
VALUES (:run_id, '', 'manual', :document_type, :document_id, 'create', NULL, :status, :reason, :now)
