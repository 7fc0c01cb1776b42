-- Clear this run's raw extract of one module, so a re-run extracts into empty staging.
DELETE FROM books.stg_crm_records WHERE run_id = :run_id AND module = :module;
DELETE FROM books.stg_crm_deleted WHERE run_id = :run_id AND module = :module;
DELETE FROM books.stg_rejects WHERE run_id = :run_id AND module = :module AND stage = 'extract'
