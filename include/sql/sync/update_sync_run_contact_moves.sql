-- Customers retired by contact moves (deleted, or kept inactive) and contact persons removed by
-- them, on the Contacts row of the run log; apply_deletions records CRM deletions on the first row.
UPDATE books.sync_runs SET deleted = :deleted, inactivated = :inactivated
WHERE run_id = :run_id AND module = :module
