-- One audit row per workflow action; a document created in this run is found by its deal.
INSERT INTO books.workflow_events (run_id, crm_deal_id, workflow, document_type, document_id,
                                   action, from_status, to_status, reason, created_at)
VALUES (:run_id, :crm_deal_id, :workflow, :document_type,
        COALESCE(:document_id, CASE :document_type
            WHEN 'estimate' THEN (SELECT estimate_id FROM books.estimates
                                  WHERE crm_deal_id = :crm_deal_id)
            WHEN 'invoice' THEN (SELECT invoice_id FROM books.invoices
                                 WHERE crm_deal_id = :crm_deal_id)
        END),
        :action, :from_status, :to_status, :reason, :now)
