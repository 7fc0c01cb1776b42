-- The read window an earlier attempt of this run recorded for a module (no row: none recorded).
SELECT read_from FROM books.sync_runs WHERE run_id = :run_id AND module = :module
