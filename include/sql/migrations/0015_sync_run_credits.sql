-- What each run's extract cost in the Zoho API (issue 14): calls sent (retries included), credits
-- used (one per answered call; a records GET costs 1) and Bulk Read jobs, per run and module.
ALTER TABLE books.sync_runs ADD COLUMN api_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE books.sync_runs ADD COLUMN api_credits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE books.sync_runs ADD COLUMN bulk_jobs INTEGER NOT NULL DEFAULT 0;
