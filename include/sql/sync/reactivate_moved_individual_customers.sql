-- B2: a contact that lost its account again is an individual customer again. If the earlier move
-- kept its customer inactive (it had transactions), that customer is active again (decided in
-- stage_contact_moves; CRM deletions and merged-away customers stay as they are).
UPDATE books.customers SET status = 'active', updated_at = :now
WHERE customer_id IN (SELECT customer_id FROM books.stg_contact_moves
                      WHERE run_id = :run_id AND reactivate = 1)
