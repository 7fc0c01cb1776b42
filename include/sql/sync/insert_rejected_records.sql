-- File this run's refused rows (idempotent: a re-run replaces them).
DELETE FROM books.rejected_records WHERE run_id = :run_id;
INSERT INTO books.rejected_records (run_id, module, crm_id, reason, raw_payload, rejected_at)
SELECT run_id, module, crm_id, reason, raw_payload, :now FROM books.stg_rejects WHERE run_id = :run_id
