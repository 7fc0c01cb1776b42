-- Every estimate and invoice Books holds for a CRM account or contact id (B9 views).
SELECT 'account' AS record_type, customer_id, document_type, document_number, status, total, date
FROM books.crm_account_documents
WHERE crm_account_id = :crm_id
UNION ALL
SELECT 'contact' AS record_type, customer_id, document_type, document_number, status, total, date
FROM books.crm_contact_documents
WHERE crm_contact_id = :crm_id
ORDER BY date, document_type, document_number
