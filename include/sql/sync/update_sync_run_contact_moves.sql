-- Customers retired by contact moves (deleted, or kept inactive) and contact persons removed by
-- them, on the Contacts row of the run log; apply_deletions records CRM deletions on the first row.
-- Added, not set: a re-run finds nothing left to move and adds nothing, and does not wipe what
-- another step recorded on the same row.
UPDATE books.sync_runs SET deleted = deleted + :deleted, inactivated = inactivated + :inactivated
WHERE run_id = :run_id AND module = :module
