UPDATE books.sync_runs SET flagged = :flagged WHERE run_id = :run_id AND module = :module
