UPDATE books.sync_runs SET status = :status, message = :message, finished_at = :now
WHERE run_id = :run_id AND status = 'running'
