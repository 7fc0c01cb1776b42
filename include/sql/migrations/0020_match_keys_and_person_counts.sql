-- Issue 16, two parts: stored match keys for incremental duplicate flagging, and the run log's
-- contact-person counts.

-- Issue 16: incremental duplicate flagging. books.duplicate_match_keys holds, per active customer
-- (not merged away), the fields its match keys were computed from and the keys themselves, as
-- flag_duplicates last saw them. A later run recomputes keys only for the customers whose fields
-- differ from these (or that are new), and regroups only the keys those customers hold: the
-- groups that no changed customer holds can only have lost members, which flags nothing.
-- No foreign key: a customer deleted since is dropped from here by flag_duplicates. No index on
-- the keys: a run finds the holders of its touched keys in one scan (hash lookups), and a first
-- run copies every customer in, which four more indexes made about three times as slow.
CREATE TABLE IF NOT EXISTS books.duplicate_match_keys (
    customer_id         BIGINT PRIMARY KEY,
    contact_name        TEXT,
    company_name        TEXT,
    email               TEXT,
    phone               TEXT,
    website             TEXT,
    name_key            TEXT,
    email_key           TEXT,
    phone_key           TEXT,
    website_key         TEXT
);

-- The (kind, key) pairs a run's changed customers hold: the groups flag_duplicates regroups.
CREATE TABLE IF NOT EXISTS books.stg_duplicate_keys (
    run_id              TEXT NOT NULL,
    kind                TEXT NOT NULL,
    match_key           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_stg_duplicate_keys_run ON books.stg_duplicate_keys (run_id, kind);

-- Issue 16: a Contacts run-log row counts its contact persons apart. inserted, updated and
-- unchanged stay the totals of the module's writes (individual customers and contact persons,
-- as the CRM -> Books page reads them); these say how many of each were contact persons.
ALTER TABLE books.sync_runs ADD COLUMN contact_persons_inserted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE books.sync_runs ADD COLUMN contact_persons_updated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE books.sync_runs ADD COLUMN contact_persons_unchanged INTEGER NOT NULL DEFAULT 0;
