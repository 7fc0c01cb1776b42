-- A merged customer's estimates now belong to the master.
UPDATE books.estimates SET customer_id = :master_customer_id, updated_at = :now
WHERE customer_id = :customer_id
