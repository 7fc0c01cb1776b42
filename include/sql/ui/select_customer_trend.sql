-- Customers created per UTC day (SQLite stores times as fixed-format UTC text).
SELECT substr(created_at, 1, 10) AS day, COUNT(*) AS created
FROM books.customers
GROUP BY substr(created_at, 1, 10)
ORDER BY day
