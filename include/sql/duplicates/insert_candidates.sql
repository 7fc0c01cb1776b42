-- New (group, customer) pairs become open candidates; known pairs keep their status and history.
-- Each pair inserted comes back (RETURNING) to be counted as newly flagged.
-- The anti-join leaves out the pairs already flagged (most of them, after the first run) instead
-- of letting each one hit the unique index and be dropped by ON CONFLICT. A run stages each pair
-- once (find_duplicate_groups), so no grouping is needed, and flag_duplicates holds the warehouse
-- lock, the only writer of this table, so no other run inserts a pair meanwhile: no ON CONFLICT
-- (its speculative insertion cost 0.6 s of 2.6 s for 440,000 pairs), and a pair inserted twice
-- would be a bug the unique index reports. Rows go in customer order: the foreign-key check of
-- each row then reads books.customers in order, about twice as fast as in group order.
INSERT INTO books.duplicate_candidates (group_key, customer_id, match_reason, status,
                                        first_flagged_run_id, flagged_at)
SELECT s.group_key, s.customer_id, s.match_reason, 'open', s.run_id, :now
FROM books.stg_duplicate_candidates AS s
WHERE s.run_id = :run_id
  AND NOT EXISTS (SELECT 1 FROM books.duplicate_candidates AS d
                  WHERE d.group_key = s.group_key AND d.customer_id = s.customer_id)
ORDER BY s.customer_id
RETURNING 'flagged';
DELETE FROM books.stg_duplicate_candidates WHERE run_id = :run_id
