-- A run's row per module; re-running a task overwrites the counts it owns.
INSERT INTO books.sync_runs (run_id, module, dag_id, interval_start, interval_end, read_from,
                             full_refresh, extracted, api_calls, api_credits, bulk_jobs, status,
                             started_at)
VALUES (:run_id, :module, :dag_id, :interval_start, :interval_end, :read_from,
        :full_refresh, :extracted, :api_calls, :api_credits, :bulk_jobs, 'running', :now)
ON CONFLICT (run_id, module) DO UPDATE SET
    (read_from, full_refresh, extracted, api_calls, api_credits, bulk_jobs, status, message,
        finished_at) =
    (excluded.read_from, excluded.full_refresh, excluded.extracted, excluded.api_calls,
        excluded.api_credits, excluded.bulk_jobs, 'running', NULL, NULL)
