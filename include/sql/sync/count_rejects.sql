-- This run's rejects per module, and how many of them an earlier run filed already (same record
-- version and reason; the key of ux_rejected_records_version).
SELECT s.module, COUNT(*) AS rejected,
       SUM(CASE WHEN EXISTS (
           SELECT 1 FROM books.rejected_records AS f
           WHERE f.module = s.module
             AND COALESCE(f.crm_id, '') = COALESCE(s.crm_id, '')
             AND COALESCE(f.crm_modified_time, '-infinity') = COALESCE(s.crm_modified_time, '-infinity')
             AND f.reason = s.reason
       ) THEN 1 ELSE 0 END) AS rejected_again
FROM books.stg_rejects AS s
WHERE s.run_id = :run_id
GROUP BY s.module
