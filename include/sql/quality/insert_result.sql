-- One expectation's outcome on one frame of a chunk.
INSERT INTO books.quality_results (run_id, module, chunk_after, chunk_until, frame, expectation,
    column_name, rows_checked, failed_rows, success, error, checked_at)
VALUES (:run_id, :module, :after_crm_id, :until_crm_id, :frame, :expectation, :column_name,
    :rows_checked, :failed_rows, :success, :error, :checked_at)
