-- What a CRM id is in Books: an account's or individual contact's customer, or a contact person.
SELECT 'account' AS record_type, c.customer_id, c.contact_name, c.status, c.merged_into_customer_id
FROM books.customers AS c
WHERE c.crm_account_id = :crm_id
UNION ALL
SELECT 'contact' AS record_type, c.customer_id, c.contact_name, c.status, c.merged_into_customer_id
FROM books.customers AS c
WHERE c.crm_contact_id = :crm_id
UNION ALL
SELECT 'contact' AS record_type, c.customer_id, c.contact_name, c.status, c.merged_into_customer_id
FROM books.contact_persons AS p
JOIN books.customers AS c ON c.customer_id = p.customer_id
WHERE p.crm_contact_id = :crm_id
