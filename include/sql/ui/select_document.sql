-- One estimate or invoice with its customer and deal, for the page's document details.
SELECT d.document_type, d.document_id, d.document_number, d.status, d.workflow_status, d.total,
       d.date, d.line_item, d.crm_deal_id, d.created_at, d.updated_at,
       c.customer_id, c.contact_name, c.crm_account_id, c.crm_contact_id,
       g.deal_name, g.stage, g.amount AS deal_amount
FROM (
    SELECT 'estimate' AS document_type, estimate_id AS document_id,
           estimate_number AS document_number, status, workflow_status, total, date, line_item,
           crm_deal_id, customer_id, created_at, updated_at
    FROM books.estimates
    WHERE :document_type = 'estimate' AND estimate_number = :number
    UNION ALL
    SELECT 'invoice', invoice_id, invoice_number, status, workflow_status, total, date, line_item,
           crm_deal_id, customer_id, created_at, updated_at
    FROM books.invoices
    WHERE :document_type = 'invoice' AND invoice_number = :number
) AS d
JOIN books.customers AS c ON c.customer_id = d.customer_id
LEFT JOIN books.deals AS g ON g.crm_deal_id = d.crm_deal_id
