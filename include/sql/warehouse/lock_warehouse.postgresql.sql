-- The warehouse write lock: steps that change shared warehouse state (load_customers,
-- apply_deletions, flag_duplicates, merges, potential reconciles) take it first, so concurrent
-- runs (a backfill runs several at once) apply one after the other. Transaction-level: it is
-- released at commit or rollback, and when the session dies. Key 1651470187 = 0x626F6F6B ('book');
-- pg_locks shows it as locktype 'advisory', classid 0, objid 1651470187.
SELECT pg_advisory_xact_lock(1651470187)
