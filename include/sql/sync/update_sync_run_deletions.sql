UPDATE books.sync_runs SET deleted = :deleted, inactivated = :inactivated
WHERE run_id = :run_id AND module = :module
