UPDATE books.sync_runs
SET inserted = :inserted, updated = :updated, unchanged = :unchanged, rejected = :rejected, held = :held
WHERE run_id = :run_id AND module = :module
