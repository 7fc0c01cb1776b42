-- Staging of finished runs is no longer needed once the run is recorded.
DELETE FROM books.stg_crm_records WHERE run_id = :run_id;
DELETE FROM books.stg_crm_deleted WHERE run_id = :run_id;
DELETE FROM books.stg_customers WHERE run_id = :run_id;
DELETE FROM books.stg_contact_persons WHERE run_id = :run_id;
DELETE FROM books.stg_rejects WHERE run_id = :run_id;
DELETE FROM books.stg_contact_moves WHERE run_id = :run_id
