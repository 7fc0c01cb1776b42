-- File a run's rejected deal versions, one row per CRM version and reason: a version filed before
-- (by an earlier run) keeps its first row (the unique key of migration 0009).
INSERT INTO books.rejected_records (run_id, module, crm_id, crm_modified_time, reason, raw_payload,
                                    rejected_at)
VALUES (:run_id, 'Deals', :crm_id, :crm_modified_time, :reason, :raw_payload, :now)
ON CONFLICT DO NOTHING
