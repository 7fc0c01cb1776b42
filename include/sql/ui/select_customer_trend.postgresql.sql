-- Customers created per UTC day.
SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*) AS created
FROM books.customers
GROUP BY to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
ORDER BY day
