-- Clear this run's transformed rows and rejects, so transform can be re-run; the extract's own
-- rejects (records it could not stage) stay until the extract runs again.
DELETE FROM books.stg_customers WHERE run_id = :run_id;
DELETE FROM books.stg_contact_persons WHERE run_id = :run_id;
DELETE FROM books.stg_rejects WHERE run_id = :run_id AND stage <> 'extract'
