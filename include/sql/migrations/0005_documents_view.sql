-- B9: estimates and invoices seen from the CRM side, keyed by CRM account id and CRM contact id.
-- A CRM record lists the documents of the Books customer it maps to today: its own customer, or
-- the master it was merged into (merges keep one level: see include/sql/merge). A CRM contact that
-- is a contact person lists the documents of the customer it belongs to.
-- {{create_view}} renders CREATE OR REPLACE VIEW on PostgreSQL, CREATE VIEW IF NOT EXISTS on SQLite.

{{create_view}} books.crm_account_documents AS
SELECT c.crm_account_id, d.customer_id, d.document_type, d.document_number, d.status, d.total, d.date
FROM books.customers AS c
JOIN (
    SELECT e.customer_id, 'estimate' AS document_type, e.estimate_number AS document_number,
           e.status, e.total, e.date
    FROM books.estimates AS e
    UNION ALL
    SELECT i.customer_id, 'invoice' AS document_type, i.invoice_number AS document_number,
           i.status, i.total, i.date
    FROM books.invoices AS i
) AS d ON d.customer_id = COALESCE(c.merged_into_customer_id, c.customer_id)
WHERE c.crm_account_id IS NOT NULL;

{{create_view}} books.crm_contact_documents AS
SELECT k.crm_contact_id, d.customer_id, d.document_type, d.document_number, d.status, d.total, d.date
FROM (
    SELECT c.crm_contact_id, COALESCE(c.merged_into_customer_id, c.customer_id) AS customer_id
    FROM books.customers AS c
    WHERE c.crm_contact_id IS NOT NULL
    UNION
    SELECT p.crm_contact_id, COALESCE(pc.merged_into_customer_id, pc.customer_id) AS customer_id
    FROM books.contact_persons AS p
    JOIN books.customers AS pc ON pc.customer_id = p.customer_id
    WHERE p.crm_contact_id IS NOT NULL
) AS k
JOIN (
    SELECT e.customer_id, 'estimate' AS document_type, e.estimate_number AS document_number,
           e.status, e.total, e.date
    FROM books.estimates AS e
    UNION ALL
    SELECT i.customer_id, 'invoice' AS document_type, i.invoice_number AS document_number,
           i.status, i.total, i.date
    FROM books.invoices AS i
) AS d ON d.customer_id = k.customer_id;
