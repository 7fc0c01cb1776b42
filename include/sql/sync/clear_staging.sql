-- The staging tables hold only this run's rows: SQLite empties a table without a WHERE at once.
DELETE FROM books.stg_crm_records;
DELETE FROM books.stg_crm_deleted;
DELETE FROM books.stg_customers;
DELETE FROM books.stg_contact_persons;
DELETE FROM books.stg_rejects;
DELETE FROM books.stg_contact_moves
