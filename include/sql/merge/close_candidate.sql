-- A duplicate candidate the merge settled.
UPDATE books.duplicate_candidates SET status = 'merged', closed_at = :now
WHERE candidate_id = :candidate_id AND status = 'open'
