-- Planner statistics for the touched keys this run just staged, so select_touched_members looks
-- each of them up in the key indexes.
ANALYZE books.stg_duplicate_keys
