-- A merged customer's estimates or invoices ({{documents}}: see config.DOCUMENT_TABLES) now
-- belong to the master.
UPDATE {{documents}} SET customer_id = :master_customer_id, updated_at = :now
WHERE customer_id = :customer_id
