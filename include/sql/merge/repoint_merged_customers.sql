-- Customers folded into a customer now merged away point straight at the new master (one level).
UPDATE books.customers SET merged_into_customer_id = :master_customer_id, updated_at = :now
WHERE merged_into_customer_id = :customer_id
