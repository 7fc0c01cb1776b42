-- An estimate or invoice made by hand ({{documents}}: see config.DOCUMENT_TABLES): no deal and no
-- workflow status, so the Potential workflow never selects or updates it (it reads documents by
-- crm_deal_id, and updates only where the status is still the one it set).
INSERT INTO {{documents}} ({{document_number}}, customer_id, crm_deal_id, status, workflow_status,
                           total, date, line_item, created_at, updated_at)
VALUES (:document_number, :customer_id, NULL, :status, NULL, :total, :date, :line_item, :now, :now)
RETURNING {{document_id}} AS document_id
