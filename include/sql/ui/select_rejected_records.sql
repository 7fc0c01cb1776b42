-- The latest rejected CRM records with their reasons.
SELECT rejected_id, run_id, module, crm_id, reason, raw_payload, rejected_at
FROM books.rejected_records
ORDER BY rejected_at DESC, rejected_id DESC
LIMIT :limit
