-- The quality gate's screen of one chunk's staged customers (the rows of
-- sync/select_staged_customers): the rows that could fail a row-level expectation of the gate, or
-- that share their CRM id with another row of the chunk. GX then runs the whole suite on these
-- rows; every row left out passes every row-level expectation, so its verdict is the same.
-- One predicate per expectation of crm_books.customers.quality_checks.customer_checks, in its
-- order (tests/integration/test_quality_screen.py checks each one screens its failing rows).
-- REGEXP is Python's re.search (registered on the connection by the gate), so the patterns are
-- the checks' own; lengths are counted in bytes, never fewer than the characters (a NUL ends
-- SQLite's length() early), so no over-long value is missed.
WITH chunk AS (
    SELECT s.*,
           CASE WHEN s.module = 'Accounts' THEN s.crm_account_id ELSE s.crm_contact_id END
               AS gate_id
    FROM books.stg_customers AS s
    WHERE s.run_id = :run_id AND s.module = :module
      AND COALESCE(s.crm_account_id, s.crm_contact_id) > :after_crm_id
      AND COALESCE(s.crm_account_id, s.crm_contact_id)
          <= COALESCE(CAST(:until_crm_id AS TEXT), s.crm_account_id, s.crm_contact_id)
)
SELECT c.*, '' AS raw_payload FROM chunk AS c
WHERE c.gate_id IS NULL OR NOT (c.gate_id REGEXP :not_blank_regex)
   OR c.contact_name IS NULL OR NOT (c.contact_name REGEXP :not_blank_regex)
   OR c.customer_sub_type IS NULL OR c.customer_sub_type NOT IN ('business', 'individual')
   OR NOT (c.email REGEXP :email_regex)
   OR length(CAST(c.contact_name AS BLOB)) > :max_contact_name
   OR length(CAST(c.company_name AS BLOB)) > :max_company_name
   OR length(CAST(c.email AS BLOB)) > :max_email
   OR length(CAST(c.phone AS BLOB)) > :max_phone
   OR length(CAST(c.mobile AS BLOB)) > :max_mobile
   OR length(CAST(c.fax AS BLOB)) > :max_fax
   OR length(CAST(c.website AS BLOB)) > :max_website
   OR length(CAST(c.notes AS BLOB)) > :max_notes
   OR length(CAST(c.billing_street AS BLOB)) > :max_billing_street
   OR length(CAST(c.billing_city AS BLOB)) > :max_billing_city
   OR length(CAST(c.billing_state AS BLOB)) > :max_billing_state
   OR length(CAST(c.billing_zip AS BLOB)) > :max_billing_zip
   OR length(CAST(c.billing_country AS BLOB)) > :max_billing_country
   OR length(CAST(c.shipping_street AS BLOB)) > :max_shipping_street
   OR length(CAST(c.shipping_city AS BLOB)) > :max_shipping_city
   OR length(CAST(c.shipping_state AS BLOB)) > :max_shipping_state
   OR length(CAST(c.shipping_zip AS BLOB)) > :max_shipping_zip
   OR length(CAST(c.shipping_country AS BLOB)) > :max_shipping_country
   OR c.crm_modified_time IS NULL
   OR c.gate_id IN (SELECT d.gate_id FROM chunk AS d GROUP BY d.gate_id HAVING COUNT(*) > 1)
ORDER BY COALESCE(c.crm_account_id, c.crm_contact_id)
