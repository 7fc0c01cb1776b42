-- Indexes the benchmark showed missing: the deletion step looks up a customer's transactions,
-- merges and contact persons, and deleting a customer checks every table that references it.
-- Without them each lookup is a sequential scan (and PostgreSQL JIT-compiles the plan).
CREATE INDEX IF NOT EXISTS ix_contact_persons_customer ON books.contact_persons (customer_id);
CREATE INDEX IF NOT EXISTS ix_estimates_customer ON books.estimates (customer_id);
CREATE INDEX IF NOT EXISTS ix_invoices_customer ON books.invoices (customer_id);
CREATE INDEX IF NOT EXISTS ix_customers_merged_into ON books.customers (merged_into_customer_id);
CREATE INDEX IF NOT EXISTS ix_duplicate_candidates_customer ON books.duplicate_candidates (customer_id);
