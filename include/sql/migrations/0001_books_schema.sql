-- Books warehouse schema (DESIGN.md section 2). Runs on PostgreSQL (schema books) and on
-- SQLite (the warehouse file attached as books). {{identity_pk}} is the only dialect token.

CREATE TABLE IF NOT EXISTS books.crm_organization (
    singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
    crm_org_id      TEXT NOT NULL,
    org_name        TEXT,
    linked_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS books.customers (
    customer_id             {{identity_pk}},
    source                  TEXT NOT NULL DEFAULT 'crm' CHECK (source IN ('crm', 'books')),
    crm_account_id          TEXT UNIQUE,
    crm_contact_id          TEXT UNIQUE,
    customer_sub_type       TEXT NOT NULL CHECK (customer_sub_type IN ('business', 'individual')),
    contact_name            TEXT NOT NULL,
    company_name            TEXT,
    email                   TEXT,
    phone                   TEXT,
    mobile                  TEXT,
    fax                     TEXT,
    website                 TEXT,
    notes                   TEXT,
    billing_street          TEXT,
    billing_city            TEXT,
    billing_state           TEXT,
    billing_zip             TEXT,
    billing_country         TEXT,
    shipping_street         TEXT,
    shipping_city           TEXT,
    shipping_state          TEXT,
    shipping_zip            TEXT,
    shipping_country        TEXT,
    status                  TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    merged_into_customer_id BIGINT REFERENCES books.customers (customer_id),
    crm_modified_time       TIMESTAMPTZ,
    crm_deleted_time        TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    CHECK (source = 'crm' OR (crm_account_id IS NULL AND crm_contact_id IS NULL)),
    CHECK (crm_account_id IS NULL OR crm_contact_id IS NULL)
);

CREATE TABLE IF NOT EXISTS books.contact_persons (
    contact_person_id   {{identity_pk}},
    customer_id         BIGINT NOT NULL REFERENCES books.customers (customer_id),
    crm_contact_id      TEXT UNIQUE,
    salutation          TEXT,
    first_name          TEXT,
    last_name           TEXT,
    email               TEXT,
    phone               TEXT,
    mobile              TEXT,
    is_primary_contact  BOOLEAN NOT NULL DEFAULT FALSE,
    crm_modified_time   TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

-- Contacts whose CRM account has not reached Books yet (B2: held, attached when it lands).
CREATE TABLE IF NOT EXISTS books.pending_contact_persons (
    crm_contact_id      TEXT PRIMARY KEY,
    crm_account_id      TEXT NOT NULL,
    salutation          TEXT,
    first_name          TEXT,
    last_name           TEXT,
    email               TEXT,
    phone               TEXT,
    mobile              TEXT,
    crm_modified_time   TIMESTAMPTZ,
    first_seen_run_id   TEXT NOT NULL,
    held_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS books.estimates (
    estimate_id         {{identity_pk}},
    estimate_number     TEXT NOT NULL UNIQUE,
    customer_id         BIGINT NOT NULL REFERENCES books.customers (customer_id),
    crm_deal_id         TEXT UNIQUE,
    status              TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'invoiced', 'accepted', 'declined', 'expired')),
    workflow_status     TEXT,
    total               NUMERIC(18, 2) NOT NULL DEFAULT 0,
    date                DATE NOT NULL,
    line_item           TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS books.invoices (
    invoice_id          {{identity_pk}},
    invoice_number      TEXT NOT NULL UNIQUE,
    customer_id         BIGINT NOT NULL REFERENCES books.customers (customer_id),
    crm_deal_id         TEXT UNIQUE,
    status              TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'overdue', 'paid', 'void', 'unpaid', 'partially_paid')),
    workflow_status     TEXT,
    total               NUMERIC(18, 2) NOT NULL DEFAULT 0,
    date                DATE NOT NULL,
    line_item           TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

-- Per-module high-water marks; advanced only in the transaction that loads the data.
CREATE TABLE IF NOT EXISTS books.sync_state (
    module              TEXT PRIMARY KEY,
    high_water_mark     TIMESTAMPTZ,
    deleted_high_water_mark TIMESTAMPTZ,
    last_run_id         TEXT,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS books.sync_runs (
    run_id              TEXT NOT NULL,
    module              TEXT NOT NULL,
    dag_id              TEXT,
    interval_start      TIMESTAMPTZ,
    interval_end        TIMESTAMPTZ,
    read_from           TIMESTAMPTZ,
    full_refresh        BOOLEAN NOT NULL DEFAULT FALSE,
    extracted           INTEGER NOT NULL DEFAULT 0,
    inserted            INTEGER NOT NULL DEFAULT 0,
    updated             INTEGER NOT NULL DEFAULT 0,
    unchanged           INTEGER NOT NULL DEFAULT 0,
    deleted             INTEGER NOT NULL DEFAULT 0,
    inactivated         INTEGER NOT NULL DEFAULT 0,
    flagged             INTEGER NOT NULL DEFAULT 0,
    rejected            INTEGER NOT NULL DEFAULT 0,
    held                INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL CHECK (status IN ('running', 'success', 'failed')),
    message             TEXT,
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    PRIMARY KEY (run_id, module)
);

CREATE TABLE IF NOT EXISTS books.rejected_records (
    rejected_id         {{identity_pk}},
    run_id              TEXT NOT NULL,
    module              TEXT NOT NULL,
    crm_id              TEXT,
    reason              TEXT NOT NULL,
    raw_payload         TEXT NOT NULL,
    rejected_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_rejected_records_run ON books.rejected_records (run_id, module);

CREATE TABLE IF NOT EXISTS books.duplicate_candidates (
    candidate_id        {{identity_pk}},
    group_key           TEXT NOT NULL,
    customer_id         BIGINT NOT NULL REFERENCES books.customers (customer_id),
    match_reason        TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'dismissed')),
    first_flagged_run_id TEXT NOT NULL,
    flagged_at          TIMESTAMPTZ NOT NULL,
    closed_at           TIMESTAMPTZ,
    UNIQUE (group_key, customer_id)
);

CREATE TABLE IF NOT EXISTS books.merges (
    merge_id            {{identity_pk}},
    master_customer_id  BIGINT NOT NULL REFERENCES books.customers (customer_id),
    merged_customer_ids TEXT NOT NULL,
    moved               TEXT NOT NULL,
    run_id              TEXT NOT NULL,
    merged_by           TEXT,
    merged_at           TIMESTAMPTZ NOT NULL
);

-- Potentials (Deals) seen by potential_reconcile, including those waiting for a customer.
CREATE TABLE IF NOT EXISTS books.deals (
    crm_deal_id         TEXT PRIMARY KEY,
    deal_name           TEXT,
    amount              NUMERIC(18, 2),
    stage               TEXT,
    crm_account_id      TEXT,
    crm_contact_id      TEXT,
    crm_modified_time   TIMESTAMPTZ,
    was_won             BOOLEAN NOT NULL DEFAULT FALSE,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'processed', 'deleted')),
    pending_reason      TEXT,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS books.workflow_events (
    event_id            {{identity_pk}},
    run_id              TEXT NOT NULL,
    crm_deal_id         TEXT NOT NULL,
    workflow            TEXT NOT NULL,
    document_type       TEXT,
    document_id         BIGINT,
    action              TEXT NOT NULL,
    from_status         TEXT,
    to_status           TEXT,
    reason              TEXT,
    created_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS books.document_sequences (
    document_type       TEXT PRIMARY KEY CHECK (document_type IN ('estimate', 'invoice')),
    last_value          BIGINT NOT NULL
);

-- Raw CRM pages as extracted, one row per record version; bulk data between tasks.
CREATE TABLE IF NOT EXISTS books.stg_crm_records (
    run_id              TEXT NOT NULL,
    module              TEXT NOT NULL,
    crm_id              TEXT NOT NULL,
    modified_time       TIMESTAMPTZ,
    payload             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_stg_crm_records_run ON books.stg_crm_records (run_id, module);

CREATE TABLE IF NOT EXISTS books.stg_crm_deleted (
    run_id              TEXT NOT NULL,
    module              TEXT NOT NULL,
    crm_id              TEXT NOT NULL,
    deleted_time        TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS ix_stg_crm_deleted_run ON books.stg_crm_deleted (run_id, module);
