-- The load's counts, and the mark that this run's load committed (in the same transaction).
UPDATE books.sync_runs
SET inserted = :inserted, updated = :updated, unchanged = :unchanged, rejected = :rejected,
    rejected_again = :rejected_again, held = :held, loaded_at = :now
WHERE run_id = :run_id AND module = :module
