-- Customers an earlier merge folded into this one; they follow it to its new master.
SELECT customer_id
FROM books.customers
WHERE merged_into_customer_id = :customer_id
ORDER BY customer_id
