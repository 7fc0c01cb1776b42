-- A bulk write's foreign key, dropped until the write is done (warehouse/bulk.py,
-- foreign_key_checked_after). The drop locks the table (ACCESS EXCLUSIVE) until the transaction
-- ends; add_foreign_key puts the constraint back before then.
ALTER TABLE books.{{table_name}} DROP CONSTRAINT {{constraint_name}}
