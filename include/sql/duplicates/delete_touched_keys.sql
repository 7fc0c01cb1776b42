-- This run's staged keys, once its groups are flagged.
DELETE FROM books.stg_duplicate_keys WHERE run_id = :run_id
