-- Estimates created by the Potential workflow; workflow_status records the status it set.
INSERT INTO books.estimates (estimate_number, customer_id, crm_deal_id, status, workflow_status, total,
                       date, line_item, created_at, updated_at)
VALUES (:document_number, :customer_id, :crm_deal_id, :to_status, :to_status, :total,
        :date, :line_item, :now, :now)
