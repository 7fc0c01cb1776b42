-- Planner statistics for the touched keys this run just staged, so select_touched_members hashes
-- them (a few thousand at most) and probes the hash from one scan of the stored keys.
ANALYZE books.stg_duplicate_keys
