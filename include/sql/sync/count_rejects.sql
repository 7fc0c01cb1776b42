SELECT module, COUNT(*) AS rejected FROM books.stg_rejects WHERE run_id = :run_id GROUP BY module
