-- B2/B5: an individual customer whose contact now has a newer version as a contact person (or
-- held for its account) is retired like a CRM deletion (decided in stage_contact_moves): kept
-- inactive when it has estimates, invoices or absorbed merged customers, else deleted with its own
-- contact persons and its duplicate-candidate rows. Books-native and merged-away customers are
-- never retired.
UPDATE books.customers SET status = 'inactive', updated_at = :now
WHERE customer_id IN (SELECT customer_id FROM books.stg_contact_moves
                      WHERE run_id = :run_id AND retire = 1 AND kept = 1);
DELETE FROM books.contact_persons
WHERE customer_id IN (SELECT customer_id FROM books.stg_contact_moves
                      WHERE run_id = :run_id AND retire = 1 AND kept = 0);
DELETE FROM books.duplicate_candidates
WHERE customer_id IN (SELECT customer_id FROM books.stg_contact_moves
                      WHERE run_id = :run_id AND retire = 1 AND kept = 0);
DELETE FROM books.customers
WHERE customer_id IN (SELECT customer_id FROM books.stg_contact_moves
                      WHERE run_id = :run_id AND retire = 1 AND kept = 0)
