-- B2/B5: reconcile this run's contacts that moved between "own customer" and "contact person of
-- an account" (books.stg_contact_move_candidates; load_run runs this only when there are any). What
-- to do with each is decided once, after this run's upserts, and written to stg_contact_moves,
-- which the writes below read; the decisions come back (RETURNING) for the run log. The newest
-- version wins: each representation already holds the newest version of its kind, so the older
-- one is stale. An individual customer older than the contact's contact person or held row is
-- retired like a CRM deletion (deleted, or kept inactive when it has history); a contact person or
-- held row older than the individual customer is removed, and that customer, if a move had made it
-- inactive, is active again.
DELETE FROM books.stg_contact_moves WHERE run_id = :run_id;
INSERT INTO books.stg_contact_moves (run_id, crm_contact_id, customer_id, retire, kept, reactivate,
                                     person_removed, held_removed)
SELECT :run_id, m.crm_contact_id, c.customer_id,
    CASE WHEN c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'active'
              AND (cp.crm_modified_time > c.crm_modified_time OR p.crm_modified_time > c.crm_modified_time)
         THEN 1 ELSE 0 END,
    h.has_history,
    CASE WHEN c.source = 'crm' AND c.merged_into_customer_id IS NULL AND c.status = 'inactive'
              AND c.crm_deleted_time IS NULL
              AND NOT EXISTS (SELECT 1 FROM books.crm_deletions AS d
                              WHERE d.module = 'Contacts' AND d.crm_id = c.crm_contact_id)
              AND (c.crm_modified_time > cp.crm_modified_time OR c.crm_modified_time > p.crm_modified_time)
         THEN 1 ELSE 0 END,
    CASE WHEN c.crm_modified_time > cp.crm_modified_time THEN 1 ELSE 0 END,
    CASE WHEN c.crm_modified_time > p.crm_modified_time THEN 1 ELSE 0 END
FROM books.stg_contact_move_candidates AS m
JOIN books.customers AS c ON c.crm_contact_id = m.crm_contact_id
JOIN books.customer_history AS h ON h.customer_id = c.customer_id
LEFT JOIN books.contact_persons AS cp ON cp.crm_contact_id = m.crm_contact_id
LEFT JOIN books.pending_contact_persons AS p ON p.crm_contact_id = m.crm_contact_id
WHERE m.run_id = :run_id
RETURNING retire, kept, reactivate, person_removed, held_removed;

-- B2: a contact that lost its account again is an individual customer again. If the earlier move
-- kept its customer inactive (it had transactions), that customer is active again (decided
-- above; CRM deletions and merged-away customers stay as they are).
UPDATE books.customers SET status = 'active', updated_at = :now
WHERE customer_id IN (SELECT customer_id FROM books.stg_contact_moves
                      WHERE run_id = :run_id AND reactivate = 1);

-- B2: a contact whose individual customer holds a newer version than its contact person (or held
-- row) has lost its account: the older row goes (decided above). A primary removed here is
-- replaced in settle_contact_persons, which load_run runs afterwards.
DELETE FROM books.contact_persons
WHERE crm_contact_id IN (SELECT crm_contact_id FROM books.stg_contact_moves
                         WHERE run_id = :run_id AND person_removed = 1);
DELETE FROM books.pending_contact_persons
WHERE crm_contact_id IN (SELECT crm_contact_id FROM books.stg_contact_moves
                         WHERE run_id = :run_id AND held_removed = 1);

-- B2/B5: an individual customer whose contact now has a newer version as a contact person (or
-- held for its account) is retired like a CRM deletion (decided above): kept
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
