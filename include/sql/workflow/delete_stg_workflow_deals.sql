DELETE FROM books.stg_workflow_deals WHERE run_id = :run_id
