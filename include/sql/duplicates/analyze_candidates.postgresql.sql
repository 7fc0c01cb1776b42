-- Planner statistics for the candidates this run just staged (autovacuum has not seen them), so
-- insert_candidates' anti-join is planned for their real size.
ANALYZE books.stg_duplicate_candidates
