-- Customer totals for the page header.
SELECT COUNT(*) AS total,
       COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0) AS active,
       COALESCE(SUM(CASE WHEN source = 'books' THEN 1 ELSE 0 END), 0) AS books_native
FROM books.customers
