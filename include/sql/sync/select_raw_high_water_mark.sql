SELECT MAX(modified_time) FROM books.stg_crm_records WHERE run_id = :run_id AND module = :module
