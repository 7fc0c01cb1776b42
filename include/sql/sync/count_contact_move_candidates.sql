-- B2/B5: how many of this run's staged contacts may have moved (books.stg_contact_move_candidates);
-- load_run reconciles them only when there are any (none on a first import).
SELECT COUNT(*) FROM books.stg_contact_move_candidates WHERE run_id = :run_id
