-- CRM accounts and contacts in Books whose name contains :pattern (lower-case, with % around it):
-- customers from an account or an individual contact, and contact persons, each by its CRM id.
SELECT crm_id, record_type, name, customer_id, customer_name
FROM (
    SELECT c.crm_account_id AS crm_id, 'account' AS record_type, c.contact_name AS name,
           c.customer_id, c.contact_name AS customer_name
    FROM books.customers AS c
    WHERE c.crm_account_id IS NOT NULL AND LOWER(c.contact_name) LIKE :pattern
    UNION ALL
    SELECT c.crm_contact_id, 'contact', c.contact_name, c.customer_id, c.contact_name
    FROM books.customers AS c
    WHERE c.crm_contact_id IS NOT NULL AND LOWER(c.contact_name) LIKE :pattern
    UNION ALL
    SELECT p.crm_contact_id, 'contact',
           TRIM(COALESCE(p.first_name, '') || ' ' || COALESCE(p.last_name, '')),
           c.customer_id, c.contact_name
    FROM books.contact_persons AS p
    JOIN books.customers AS c ON c.customer_id = p.customer_id
    WHERE p.crm_contact_id IS NOT NULL
      AND LOWER(TRIM(COALESCE(p.first_name, '') || ' ' || COALESCE(p.last_name, ''))) LIKE :pattern
) AS found
ORDER BY name, crm_id
LIMIT :limit
