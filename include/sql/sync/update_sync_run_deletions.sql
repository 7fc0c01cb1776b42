-- Added, not set: the load may already have counted contact moves on this row, and a retried
-- apply_deletions finds nothing left to delete, so it adds 0 instead of erasing the first count.
UPDATE books.sync_runs SET deleted = deleted + :deleted, inactivated = inactivated + :inactivated
WHERE run_id = :run_id AND module = :module
