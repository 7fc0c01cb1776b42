-- Staging for crm_books_sync's transformed rows and tombstones of CRM deletions.

CREATE TABLE IF NOT EXISTS books.stg_customers (
    run_id              TEXT NOT NULL,
    module              TEXT NOT NULL,
    crm_account_id      TEXT,
    crm_contact_id      TEXT,
    customer_sub_type   TEXT,
    contact_name        TEXT,
    company_name        TEXT,
    email               TEXT,
    phone               TEXT,
    mobile              TEXT,
    fax                 TEXT,
    website             TEXT,
    notes               TEXT,
    billing_street      TEXT,
    billing_city        TEXT,
    billing_state       TEXT,
    billing_zip         TEXT,
    billing_country     TEXT,
    shipping_street     TEXT,
    shipping_city       TEXT,
    shipping_state      TEXT,
    shipping_zip        TEXT,
    shipping_country    TEXT,
    crm_modified_time   TIMESTAMPTZ,
    raw_payload         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_stg_customers_run ON books.stg_customers (run_id, module);

CREATE TABLE IF NOT EXISTS books.stg_contact_persons (
    run_id              TEXT NOT NULL,
    crm_contact_id      TEXT,
    crm_account_id      TEXT,
    salutation          TEXT,
    first_name          TEXT,
    last_name           TEXT,
    email               TEXT,
    phone               TEXT,
    mobile              TEXT,
    crm_modified_time   TIMESTAMPTZ,
    raw_payload         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_stg_contact_persons_run ON books.stg_contact_persons (run_id);

-- Rows the transform or the quality gate refused in a run; the load skips them and files them.
CREATE TABLE IF NOT EXISTS books.stg_rejects (
    run_id              TEXT NOT NULL,
    stage               TEXT NOT NULL,
    module              TEXT NOT NULL,
    crm_id              TEXT,
    reason              TEXT NOT NULL,
    raw_payload         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_stg_rejects_run ON books.stg_rejects (run_id, module, crm_id);

-- Every CRM deletion seen, so an older extract can never bring a deleted record back.
CREATE TABLE IF NOT EXISTS books.crm_deletions (
    module              TEXT NOT NULL,
    crm_id              TEXT NOT NULL,
    deleted_time        TIMESTAMPTZ,
    applied_run_id      TEXT NOT NULL,
    PRIMARY KEY (module, crm_id)
);

CREATE TABLE IF NOT EXISTS books.stg_duplicate_candidates (
    run_id              TEXT NOT NULL,
    group_key           TEXT NOT NULL,
    customer_id         BIGINT NOT NULL,
    match_reason        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_stg_duplicate_candidates_run ON books.stg_duplicate_candidates (run_id);
