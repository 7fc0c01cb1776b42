-- Every estimate and invoice linked to a deal, with the status the workflow last set.
SELECT document_type, document_id, crm_deal_id, customer_id, status, workflow_status, total,
       line_item
FROM books.documents
WHERE crm_deal_id IS NOT NULL
