-- The quality gate's screen of one chunk's staged customers (the rows of
-- sync/select_staged_customers): the rows that could fail a row-level expectation of the gate, or
-- that share their CRM id with another row of the chunk. GX then runs the whole suite on these
-- rows; every row left out passes every row-level expectation, so its verdict is the same.
-- One predicate per expectation of crm_books.customers.quality_checks.customer_checks, in its
-- order (tests/integration/test_quality_screen.py checks each one screens its failing rows).
-- One text for both backends: regexp_like and char_length are PostgreSQL's own (15 or later;
-- the patterns are the checks' with Python's \s spelt out), and on SQLite the gate registers
-- them as Python's re.search and len on the connection, so they mean the same on both.
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
WHERE c.gate_id IS NULL OR NOT regexp_like(c.gate_id, :not_blank_regex)
   OR c.contact_name IS NULL OR NOT regexp_like(c.contact_name, :not_blank_regex)
   OR c.customer_sub_type IS NULL OR c.customer_sub_type NOT IN ('business', 'individual')
   OR NOT regexp_like(c.email, :email_regex)
   OR char_length(c.contact_name) > :max_contact_name
   OR char_length(c.company_name) > :max_company_name
   OR char_length(c.email) > :max_email
   OR char_length(c.phone) > :max_phone
   OR char_length(c.mobile) > :max_mobile
   OR char_length(c.fax) > :max_fax
   OR char_length(c.website) > :max_website
   OR char_length(c.notes) > :max_notes
   OR char_length(c.billing_street) > :max_billing_street
   OR char_length(c.billing_city) > :max_billing_city
   OR char_length(c.billing_state) > :max_billing_state
   OR char_length(c.billing_zip) > :max_billing_zip
   OR char_length(c.billing_country) > :max_billing_country
   OR char_length(c.shipping_street) > :max_shipping_street
   OR char_length(c.shipping_city) > :max_shipping_city
   OR char_length(c.shipping_state) > :max_shipping_state
   OR char_length(c.shipping_zip) > :max_shipping_zip
   OR char_length(c.shipping_country) > :max_shipping_country
   OR c.crm_modified_time IS NULL
   OR c.gate_id IN (SELECT d.gate_id FROM chunk AS d GROUP BY d.gate_id HAVING COUNT(*) > 1)
ORDER BY COALESCE(c.crm_account_id, c.crm_contact_id)
