-- A run refused before it had rows (wrong organisation, Params selecting nothing) still gets one
-- row per module saying why; rows the run already has are left to finish_sync_run.
INSERT INTO books.sync_runs (run_id, module, dag_id, interval_start, interval_end, full_refresh,
                             status, message, started_at, finished_at)
VALUES (:run_id, :module, :dag_id, :interval_start, :interval_end, :full_refresh,
        'failed', :message, :now, :now)
ON CONFLICT (run_id, module) DO NOTHING
