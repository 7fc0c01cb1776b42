-- Added, not set: a retried flag_duplicates finds its pairs flagged already and adds 0 instead of
-- erasing the first count.
UPDATE books.sync_runs SET flagged = flagged + :flagged WHERE run_id = :run_id AND module = :module
