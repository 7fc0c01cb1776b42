SELECT module, extracted, inserted, updated, unchanged, deleted, inactivated, flagged, rejected,
       rejected_again, held, api_calls, api_credits, bulk_jobs, status, message
FROM books.sync_runs WHERE run_id = :run_id ORDER BY module
