-- Potential workflow (DESIGN.md B8): the deal's closing date (document date of pending deals
-- processed later) and indexes for the per-run lookups.

ALTER TABLE books.deals ADD COLUMN closing_date DATE;

CREATE INDEX IF NOT EXISTS ix_deals_state ON books.deals (state);
CREATE INDEX IF NOT EXISTS ix_workflow_events_deal ON books.workflow_events (crm_deal_id);
CREATE INDEX IF NOT EXISTS ix_workflow_events_run ON books.workflow_events (run_id);

-- Staging for one apply of potential_reconcile: bulk-loaded (COPY on PostgreSQL), written to the
-- Books tables set-based, and emptied in the same transaction.
CREATE TABLE IF NOT EXISTS books.stg_workflow_deals (
    run_id              TEXT NOT NULL,
    crm_deal_id         TEXT NOT NULL,
    deal_name           TEXT,
    amount              NUMERIC(18, 2),
    stage               TEXT,
    crm_account_id      TEXT,
    crm_contact_id      TEXT,
    closing_date        DATE,
    crm_modified_time   TIMESTAMPTZ,
    was_won             BOOLEAN NOT NULL,
    state               TEXT NOT NULL,
    pending_reason      TEXT
);
CREATE INDEX IF NOT EXISTS ix_stg_workflow_deals_run ON books.stg_workflow_deals (run_id);

CREATE TABLE IF NOT EXISTS books.stg_workflow_documents (
    run_id              TEXT NOT NULL,
    action              TEXT NOT NULL,
    document_type       TEXT NOT NULL,
    document_id         BIGINT,
    document_number     TEXT,
    crm_deal_id         TEXT NOT NULL,
    customer_id         BIGINT,
    to_status           TEXT NOT NULL,
    total               NUMERIC(18, 2) NOT NULL,
    line_item           TEXT,
    date                DATE
);
CREATE INDEX IF NOT EXISTS ix_stg_workflow_documents_run ON books.stg_workflow_documents (run_id);

CREATE TABLE IF NOT EXISTS books.stg_workflow_events (
    run_id              TEXT NOT NULL,
    seq                 BIGINT NOT NULL,
    crm_deal_id         TEXT NOT NULL,
    document_type       TEXT,
    document_id         BIGINT,
    action              TEXT NOT NULL,
    from_status         TEXT,
    to_status           TEXT,
    reason              TEXT
);
CREATE INDEX IF NOT EXISTS ix_stg_workflow_events_run ON books.stg_workflow_events (run_id);
