-- The latest runs of each module with their counts and Zoho API cost, newest first (the page's
-- run log).
SELECT run_id, module, status, extracted, inserted, updated, unchanged, deleted, inactivated,
       flagged, rejected, held, api_calls, api_credits, bulk_jobs, message, started_at,
       finished_at
FROM (
    SELECT r.*,
           ROW_NUMBER() OVER (PARTITION BY module ORDER BY started_at DESC, run_id DESC) AS recency
    FROM books.sync_runs AS r
) AS ranked
WHERE recency <= :per_module
ORDER BY module, started_at DESC, run_id DESC
