SELECT MAX(deleted_time) FROM books.stg_crm_deleted WHERE run_id = :run_id AND module = :module
