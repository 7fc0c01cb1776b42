-- B2: a contact whose individual customer holds a newer version than its contact person (or held
-- row) has lost its account: the older row goes. A primary removed here is replaced by
-- mark_primary_contact_persons, which load_run runs afterwards. Only this run's staged contacts
-- are looked at; see count_contact_moves.
DELETE FROM books.contact_persons WHERE contact_person_id IN (
    SELECT cp.contact_person_id
    FROM (SELECT crm_contact_id FROM books.stg_contact_persons WHERE run_id = :run_id
          UNION ALL
          SELECT crm_contact_id FROM books.stg_customers WHERE run_id = :run_id AND module = 'Contacts') AS s
    JOIN books.contact_persons AS cp ON cp.crm_contact_id = s.crm_contact_id
    JOIN books.customers AS c ON c.crm_contact_id = cp.crm_contact_id
    WHERE c.crm_modified_time > cp.crm_modified_time
);
DELETE FROM books.pending_contact_persons WHERE crm_contact_id IN (
    SELECT p.crm_contact_id
    FROM (SELECT crm_contact_id FROM books.stg_contact_persons WHERE run_id = :run_id
          UNION ALL
          SELECT crm_contact_id FROM books.stg_customers WHERE run_id = :run_id AND module = 'Contacts') AS s
    JOIN books.pending_contact_persons AS p ON p.crm_contact_id = s.crm_contact_id
    JOIN books.customers AS c ON c.crm_contact_id = p.crm_contact_id
    WHERE c.crm_modified_time > p.crm_modified_time
)
