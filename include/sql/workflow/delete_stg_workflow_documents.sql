DELETE FROM books.stg_workflow_documents WHERE run_id = :run_id
