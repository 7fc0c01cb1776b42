-- An invoice made by hand: no deal and no workflow status, so the Potential workflow never
-- selects or updates it (it reads documents by crm_deal_id, and updates only where the status is
-- still the one it set).
INSERT INTO books.invoices (invoice_number, customer_id, crm_deal_id, status, workflow_status,
                            total, date, line_item, created_at, updated_at)
VALUES (:document_number, :customer_id, NULL, :status, NULL, :total, :date, :line_item, :now, :now)
RETURNING invoice_id AS document_id
