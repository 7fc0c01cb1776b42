-- Clear this run's transformed rows and rejects, so transform can be re-run.
DELETE FROM books.stg_customers WHERE run_id = :run_id;
DELETE FROM books.stg_contact_persons WHERE run_id = :run_id;
DELETE FROM books.stg_rejects WHERE run_id = :run_id
