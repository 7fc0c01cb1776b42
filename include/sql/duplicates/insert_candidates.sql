-- New (group, customer) pairs become open candidates; known pairs keep their status and history.
INSERT INTO books.duplicate_candidates (group_key, customer_id, match_reason, status,
                                        first_flagged_run_id, flagged_at)
SELECT group_key, customer_id, MIN(match_reason), 'open', run_id, :now
FROM books.stg_duplicate_candidates
WHERE run_id = :run_id
GROUP BY group_key, customer_id, run_id
ON CONFLICT (group_key, customer_id) DO NOTHING;
DELETE FROM books.stg_duplicate_candidates WHERE run_id = :run_id
