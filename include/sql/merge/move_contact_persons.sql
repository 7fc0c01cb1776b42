-- A merged customer's contact persons join the master, which keeps a single primary contact.
UPDATE books.contact_persons
SET is_primary_contact = (is_primary_contact AND NOT EXISTS (
        SELECT 1 FROM books.contact_persons AS m
        WHERE m.customer_id = :master_customer_id AND m.is_primary_contact)),
    customer_id = :master_customer_id,
    updated_at = :now
WHERE customer_id = :customer_id
