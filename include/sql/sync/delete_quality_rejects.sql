DELETE FROM books.stg_rejects WHERE run_id = :run_id AND stage = 'quality'
