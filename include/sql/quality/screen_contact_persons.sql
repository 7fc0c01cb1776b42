-- The quality gate's screen of one chunk's staged contact persons (the rows of
-- sync/select_staged_contact_persons): the rows that could fail a row-level expectation of the
-- gate, or that share their crm_contact_id with another row of the chunk. GX then runs the whole
-- suite on these rows; every row left out passes every row-level expectation, so its verdict is
-- the same. One predicate per expectation of
-- crm_books.customers.quality_checks.contact_person_checks, in its order
-- (tests/integration/test_quality_screen.py checks each one screens its failing rows).
-- One text for both backends: regexp_like and char_length are PostgreSQL's own (15 or later;
-- the patterns are the checks' with Python's \s spelt out), and on SQLite the gate registers
-- them as Python's re.search and len on the connection, so they mean the same on both.
WITH chunk AS (
    SELECT s.* FROM books.stg_contact_persons AS s
    WHERE s.run_id = :run_id
      AND s.crm_contact_id > :after_crm_id
      AND s.crm_contact_id <= COALESCE(CAST(:until_crm_id AS TEXT), s.crm_contact_id)
)
SELECT c.*, '' AS raw_payload FROM chunk AS c
WHERE c.crm_contact_id IS NULL OR NOT regexp_like(c.crm_contact_id, :not_blank_regex)
   OR (c.first_name IS NULL AND c.last_name IS NULL)
   OR NOT regexp_like(c.email, :email_regex)
   OR char_length(c.salutation) > :max_salutation
   OR char_length(c.first_name) > :max_first_name
   OR char_length(c.last_name) > :max_last_name
   OR char_length(c.email) > :max_email
   OR char_length(c.phone) > :max_phone
   OR char_length(c.mobile) > :max_mobile
   OR c.crm_modified_time IS NULL
   OR c.crm_contact_id IN (
       SELECT d.crm_contact_id FROM chunk AS d GROUP BY d.crm_contact_id HAVING COUNT(*) > 1
   )
ORDER BY c.crm_contact_id
