-- Issue 15 part 6: what the quality gate checked, per run, module, chunk and frame: each
-- expectation that ran, how many rows it failed, and whether it could run at all. A retried
-- chunk replaces its rows (include/sql/quality/replace_chunk_results).
CREATE TABLE IF NOT EXISTS books.quality_results (
    run_id              TEXT NOT NULL,
    module              TEXT NOT NULL,
    chunk_after         TEXT NOT NULL,
    chunk_until         TEXT,
    frame               TEXT NOT NULL,
    expectation         TEXT NOT NULL,
    column_name         TEXT,
    rows_checked        INTEGER NOT NULL,
    failed_rows         INTEGER NOT NULL,
    success             BOOLEAN NOT NULL,
    error               TEXT,
    checked_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_quality_results_run ON books.quality_results (run_id, module);
