-- The (group, customer) pairs flagged so far, whatever their status: flag_duplicates stages only
-- the pairs of this run's groups that are not among them.
SELECT group_key, customer_id FROM books.duplicate_candidates
