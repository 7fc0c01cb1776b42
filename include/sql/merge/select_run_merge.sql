-- The merge a run already committed, if any (a retried task finds its own work done).
SELECT merge_id, master_customer_id, merged_customer_ids, moved, run_id, merged_by, merged_at
FROM books.merges
WHERE run_id = :run_id
