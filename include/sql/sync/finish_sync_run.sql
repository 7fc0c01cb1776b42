-- The run log ends as Airflow ends: a retry that succeeds after a failure was recorded overwrites
-- it (status and message), and a failure after a success likewise.
UPDATE books.sync_runs SET status = :status, message = :message, finished_at = :now
WHERE run_id = :run_id
