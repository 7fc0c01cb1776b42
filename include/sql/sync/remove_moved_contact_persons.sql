-- B2: a contact whose individual customer holds a newer version than its contact person (or held
-- row) has lost its account: the older row goes. A primary removed here is replaced by
-- mark_primary_contact_persons, which load_run runs afterwards. Only this run's staged contacts
-- that count_contact_move_candidates finds are looked at.
DELETE FROM books.contact_persons WHERE contact_person_id IN (
    SELECT cp.contact_person_id
    FROM (
          SELECT s.crm_contact_id FROM books.stg_contact_persons AS s
          JOIN books.customers AS c0 ON c0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id
          UNION
          SELECT s.crm_contact_id FROM books.stg_customers AS s
          JOIN books.contact_persons AS cp0 ON cp0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id AND s.module = 'Contacts'
          UNION
          SELECT s.crm_contact_id FROM books.stg_customers AS s
          JOIN books.pending_contact_persons AS p0 ON p0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id AND s.module = 'Contacts'
    ) AS s
    JOIN books.contact_persons AS cp ON cp.crm_contact_id = s.crm_contact_id
    JOIN books.customers AS c ON c.crm_contact_id = cp.crm_contact_id
    WHERE c.crm_modified_time > cp.crm_modified_time
);
DELETE FROM books.pending_contact_persons WHERE crm_contact_id IN (
    SELECT p.crm_contact_id
    FROM (
          SELECT s.crm_contact_id FROM books.stg_contact_persons AS s
          JOIN books.customers AS c0 ON c0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id
          UNION
          SELECT s.crm_contact_id FROM books.stg_customers AS s
          JOIN books.contact_persons AS cp0 ON cp0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id AND s.module = 'Contacts'
          UNION
          SELECT s.crm_contact_id FROM books.stg_customers AS s
          JOIN books.pending_contact_persons AS p0 ON p0.crm_contact_id = s.crm_contact_id
          WHERE s.run_id = :run_id AND s.module = 'Contacts'
    ) AS s
    JOIN books.pending_contact_persons AS p ON p.crm_contact_id = s.crm_contact_id
    JOIN books.customers AS c ON c.crm_contact_id = p.crm_contact_id
    WHERE c.crm_modified_time > p.crm_modified_time
)
