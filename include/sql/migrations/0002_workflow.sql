-- Potential workflow (DESIGN.md B8): the deal's closing date (document date of pending deals
-- processed later) and indexes for the per-run lookups.

ALTER TABLE books.deals ADD COLUMN closing_date DATE;

CREATE INDEX IF NOT EXISTS ix_deals_state ON books.deals (state);
CREATE INDEX IF NOT EXISTS ix_workflow_events_deal ON books.workflow_events (crm_deal_id);
CREATE INDEX IF NOT EXISTS ix_workflow_events_run ON books.workflow_events (run_id);
