-- The quality gate's screen of one chunk's staged contact persons (the rows of
-- sync/select_staged_contact_persons): the rows that could fail a row-level expectation of the
-- gate, or that share their crm_contact_id with another row of the chunk. GX then runs the whole
-- suite on these rows; every row left out passes every row-level expectation, so its verdict is
-- the same. One predicate per expectation of
-- crm_books.customers.quality_checks.contact_person_checks, in its order
-- (tests/integration/test_quality_screen.py checks each one screens its failing rows).
-- REGEXP is Python's re.search (registered on the connection by the gate), so the patterns are
-- the checks' own; lengths are counted in bytes, never fewer than the characters (a NUL ends
-- SQLite's length() early), so no over-long value is missed.
WITH chunk AS (
    SELECT s.* FROM books.stg_contact_persons AS s
    WHERE s.run_id = :run_id
      AND s.crm_contact_id > :after_crm_id
      AND s.crm_contact_id <= COALESCE(CAST(:until_crm_id AS TEXT), s.crm_contact_id)
)
SELECT c.*, '' AS raw_payload FROM chunk AS c
WHERE c.crm_contact_id IS NULL OR NOT (c.crm_contact_id REGEXP :not_blank_regex)
   OR (c.first_name IS NULL AND c.last_name IS NULL)
   OR NOT (c.email REGEXP :email_regex)
   OR length(CAST(c.salutation AS BLOB)) > :max_salutation
   OR length(CAST(c.first_name AS BLOB)) > :max_first_name
   OR length(CAST(c.last_name AS BLOB)) > :max_last_name
   OR length(CAST(c.email AS BLOB)) > :max_email
   OR length(CAST(c.phone AS BLOB)) > :max_phone
   OR length(CAST(c.mobile AS BLOB)) > :max_mobile
   OR c.crm_modified_time IS NULL
   OR c.crm_contact_id IN (
       SELECT d.crm_contact_id FROM chunk AS d GROUP BY d.crm_contact_id HAVING COUNT(*) > 1
   )
ORDER BY c.crm_contact_id
