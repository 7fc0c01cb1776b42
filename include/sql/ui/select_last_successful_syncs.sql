-- When each module last synced successfully (E15 freshness), and by which run.
SELECT module, MAX(finished_at) AS finished_at, MAX(run_id) AS run_id
FROM books.sync_runs AS r
WHERE status = 'success'
  AND finished_at = (SELECT MAX(s.finished_at) FROM books.sync_runs AS s
                     WHERE s.module = r.module AND s.status = 'success')
GROUP BY module
ORDER BY module
