-- The quality gate's expectations of the latest runs that were checked, per module, chunk and
-- frame, with the rows each failed (books.quality_results).
SELECT q.run_id, q.module, q.chunk_after, q.chunk_until, q.frame, q.expectation, q.column_name,
       q.rows_checked, q.failed_rows, q.success, q.error, q.checked_at
FROM books.quality_results AS q
WHERE q.run_id IN (
    SELECT run_id FROM books.quality_results
    GROUP BY run_id
    ORDER BY MAX(checked_at) DESC, run_id DESC
    LIMIT :runs
)
ORDER BY q.checked_at DESC, q.run_id DESC, q.module, q.chunk_after, q.frame, q.expectation,
         q.column_name
LIMIT :limit
