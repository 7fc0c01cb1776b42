-- One customer the merge names, with what the rules need.
SELECT customer_id, source, crm_account_id, crm_contact_id, contact_name, status,
       merged_into_customer_id
FROM books.customers
WHERE customer_id = :customer_id
