-- Every customer a duplicate could belong to, Books-native ones included (B6).
SELECT customer_id, contact_name, company_name, email, phone, website
FROM books.customers
WHERE status = 'active' AND merged_into_customer_id IS NULL
ORDER BY customer_id
