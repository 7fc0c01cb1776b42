-- A merged customer's invoices now belong to the master.
UPDATE books.invoices SET customer_id = :master_customer_id, updated_at = :now
WHERE customer_id = :customer_id
