-- The latest sync runs (all modules, every kind), oldest first: one bar each on the run chart.
SELECT run_id, module, status, extracted, inserted, updated, rejected, started_at
FROM (
    SELECT run_id, module, status, extracted, inserted, updated, rejected, started_at
    FROM books.sync_runs
    ORDER BY started_at DESC, run_id DESC, module DESC
    LIMIT :limit
) AS latest
ORDER BY started_at, run_id, module
