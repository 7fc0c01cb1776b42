-- One audit row per workflow action, in plan order; documents created in the run found by deal.
INSERT INTO books.workflow_events (run_id, crm_deal_id, workflow, document_type, document_id,
                                   action, from_status, to_status, reason, created_at)
SELECT s.run_id, s.crm_deal_id, :workflow, s.document_type,
       COALESCE(s.document_id, e.estimate_id, i.invoice_id),
       s.action, s.from_status, s.to_status, s.reason, :now
FROM books.stg_workflow_events AS s
LEFT JOIN books.estimates AS e
       ON s.document_type = 'estimate' AND e.crm_deal_id = s.crm_deal_id
LEFT JOIN books.invoices AS i
       ON s.document_type = 'invoice' AND i.crm_deal_id = s.crm_deal_id
WHERE s.run_id = :run_id
ORDER BY s.seq
