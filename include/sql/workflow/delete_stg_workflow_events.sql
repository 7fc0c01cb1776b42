DELETE FROM books.stg_workflow_events WHERE run_id = :run_id
