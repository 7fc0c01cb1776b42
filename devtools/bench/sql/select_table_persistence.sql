-- 'u' when the product's staging table is UNLOGGED, 'p' when it is an ordinary table.
SELECT c.relpersistence
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'books' AND c.relname = 'stg_customers'
