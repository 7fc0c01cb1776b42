-- B2: a contact whose individual customer holds a newer version than its contact person (or held
-- row) has lost its account: the older row goes (decided in stage_contact_moves). A primary
-- removed here is replaced by mark_primary_contact_persons, which load_run runs afterwards.
DELETE FROM books.contact_persons
WHERE crm_contact_id IN (SELECT crm_contact_id FROM books.stg_contact_moves
                         WHERE run_id = :run_id AND person_removed = 1);
DELETE FROM books.pending_contact_persons
WHERE crm_contact_id IN (SELECT crm_contact_id FROM books.stg_contact_moves
                         WHERE run_id = :run_id AND held_removed = 1)
