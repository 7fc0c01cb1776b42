-- Customer totals for the page header: customers (accounts and individual contacts) and the
-- contact persons attached to them are counted apart.
SELECT COUNT(*) AS total,
       COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0) AS active,
       COALESCE(SUM(CASE WHEN source = 'books' THEN 1 ELSE 0 END), 0) AS books_native,
       COALESCE(SUM(CASE WHEN crm_account_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS from_accounts,
       COALESCE(SUM(CASE WHEN crm_contact_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS from_contacts,
       (SELECT COUNT(*) FROM books.contact_persons) AS contact_persons
FROM books.customers
