-- Where each quality-gate chunk of this run's staged customers starts: every :chunk_size-th key
-- in select_staged_customers' order, so the chunks can be checked side by side.
SELECT k FROM (
    SELECT COALESCE(crm_account_id, crm_contact_id) AS k,
           ROW_NUMBER() OVER (ORDER BY COALESCE(crm_account_id, crm_contact_id)) AS n
    FROM books.stg_customers
    WHERE run_id = :run_id AND module = :module
) AS numbered
WHERE n % :chunk_size = 0
ORDER BY k
