-- File this run's refused rows, one row per CRM record version and reason: a version filed before
-- (by an earlier run) keeps its first row, and nothing is ever deleted here.
INSERT INTO books.rejected_records (run_id, module, crm_id, crm_modified_time, reason, raw_payload,
                                    rejected_at)
SELECT run_id, module, crm_id, crm_modified_time, reason, raw_payload, :now
FROM books.stg_rejects WHERE run_id = :run_id
ON CONFLICT DO NOTHING
