-- The merged customer stays, inactive, pointing at its master; syncs never revive it.
UPDATE books.customers
SET status = 'inactive', merged_into_customer_id = :master_customer_id, updated_at = :now
WHERE customer_id = :customer_id AND status = 'active' AND merged_into_customer_id IS NULL
