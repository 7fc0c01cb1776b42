-- Keys of every Books customer, to find each deal's customer (merges are followed in Python).
SELECT customer_id, crm_account_id, crm_contact_id, status, merged_into_customer_id
FROM books.customers
