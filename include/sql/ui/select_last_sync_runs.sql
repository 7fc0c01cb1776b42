-- The latest runs of each module with their counts and Zoho API cost, newest first (the page's run
-- log), kept apart by how the run was started (Airflow's run id prefix), so backfills do not hide
-- scheduled runs.
SELECT run_kind, run_id, module, status, extracted, inserted, updated, unchanged, deleted,
       inactivated, flagged, rejected, held, api_calls, api_credits, bulk_jobs, message,
       started_at, finished_at
FROM (
    SELECT k.*,
           ROW_NUMBER() OVER (PARTITION BY run_kind, module
                              ORDER BY started_at DESC, run_id DESC) AS recency
    FROM (
        SELECT r.*,
               CASE WHEN r.run_id LIKE 'scheduled%' THEN 'scheduled'
                    WHEN r.run_id LIKE 'backfill%' THEN 'backfill'
                    ELSE 'manual' END AS run_kind
        FROM books.sync_runs AS r
    ) AS k
) AS ranked
WHERE recency <= :per_module
ORDER BY CASE run_kind WHEN 'scheduled' THEN 0 WHEN 'manual' THEN 1 ELSE 2 END, module,
         started_at DESC, run_id DESC
