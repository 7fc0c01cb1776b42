-- The (group, customer) pairs flagged so far in the groups this run regroups, whatever their
-- status: flag_duplicates stages only the pairs that are not among them.
SELECT d.group_key, d.customer_id FROM books.duplicate_candidates AS d
WHERE d.group_key IN (SELECT t.kind || ':' || t.match_key FROM books.stg_duplicate_keys AS t
                      WHERE t.run_id = :run_id)
