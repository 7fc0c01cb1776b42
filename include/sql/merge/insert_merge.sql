-- The permanent record of a merge: who, into whom, when, by which run and what moved.
INSERT INTO books.merges (master_customer_id, merged_customer_ids, moved, run_id, merged_by,
                          merged_at)
VALUES (:master_customer_id, :merged_customer_ids, :moved, :run_id, :merged_by, :merged_at)
RETURNING merge_id
