-- B2/B5: how many of this run's staged contacts exist both as an individual customer and as a
-- contact person or held row, i.e. may have moved. load_run reconciles them only when there are
-- any (none on a first import). Each arm joins staging to one table on its unique crm_contact_id
-- and carries no per-row subqueries, so PostgreSQL plans it cheaply (no JIT compilation).
-- The same arms select the contacts in count_contact_moves and the writes that follow it.
SELECT COUNT(*) FROM (
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
) AS m
