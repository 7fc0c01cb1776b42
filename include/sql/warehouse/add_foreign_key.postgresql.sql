-- The bulk write's foreign key back, as the migrations define it: every books table that refers
-- to a customer does so by books.customers (customer_id), with no ON DELETE action. Adding it
-- checks every row of the table in one join (a violation fails the transaction, and with it the
-- write), instead of one trigger call per written row.
ALTER TABLE books.{{table_name}} ADD CONSTRAINT {{constraint_name}}
    FOREIGN KEY ({{column_name}}) REFERENCES books.customers (customer_id)
