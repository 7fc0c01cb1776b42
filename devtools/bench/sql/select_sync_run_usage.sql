-- What each module's extract of one run recorded in the run log (books.sync_runs).
SELECT module, extracted, api_calls, api_credits, bulk_jobs
FROM books.sync_runs
WHERE run_id = :run_id
ORDER BY module
