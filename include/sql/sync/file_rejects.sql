-- This run's rejects: each names the CRM version it refuses, is counted per module (and how
-- many of them an earlier run filed already), then filed.
-- Each reject names the CRM version it refuses: the Modified_Time of the newest extracted version
-- of its record (the one transformed), part of the key it is filed under.
UPDATE books.stg_rejects
SET crm_modified_time = (
    SELECT MAX(r.modified_time) FROM books.stg_crm_records AS r
    WHERE r.run_id = stg_rejects.run_id AND r.module = stg_rejects.module
      AND r.crm_id = stg_rejects.crm_id
)
WHERE run_id = :run_id;

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
GROUP BY s.module;

-- File this run's refused rows, one row per CRM record version and reason: a version filed before
-- (by an earlier run) keeps its first row, and nothing is ever deleted here.
INSERT INTO books.rejected_records (run_id, module, crm_id, crm_modified_time, reason, raw_payload,
                                    rejected_at)
SELECT run_id, module, crm_id, crm_modified_time, reason, raw_payload, :now
FROM books.stg_rejects WHERE run_id = :run_id
ON CONFLICT DO NOTHING
