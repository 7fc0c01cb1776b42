-- What the load's writes are given, counted on staging alone (after hold_contact_persons): this
-- run's valid staged customers per module, and its valid staged contact persons that go straight
-- to contact_persons (those not held: their account customer exists). A write's RETURNING counts
-- what it inserted or updated; the rest of what it was given is unchanged.
SELECT
    (SELECT COUNT(*) FROM books.valid_stg_customers AS s
     WHERE s.run_id = :run_id AND s.module = 'Accounts') AS accounts,
    (SELECT COUNT(*) FROM books.valid_stg_customers AS s
     WHERE s.run_id = :run_id AND s.module = 'Contacts') AS individuals,
    (SELECT COUNT(*) FROM books.valid_stg_contact_persons AS s
     WHERE s.run_id = :run_id
       AND NOT EXISTS (SELECT 1 FROM books.pending_contact_persons AS q
                       WHERE q.crm_contact_id = s.crm_contact_id)) AS contact_persons
