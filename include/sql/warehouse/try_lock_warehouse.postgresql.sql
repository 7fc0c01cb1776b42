-- The warehouse write lock (see lock_warehouse) if it is free now: true when taken, false when
-- another transaction holds it (the caller then logs that it waits, and waits in lock_warehouse).
SELECT pg_try_advisory_xact_lock(1651470187)
