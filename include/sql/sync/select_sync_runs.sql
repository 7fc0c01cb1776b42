SELECT module, extracted, inserted, updated, unchanged, contact_persons_inserted,
       contact_persons_updated, contact_persons_unchanged, deleted, inactivated, flagged, rejected,
       rejected_again, held, api_calls, api_credits, bulk_jobs, status, message
FROM books.sync_runs WHERE run_id = :run_id ORDER BY module
