-- Rejects are kept per CRM record version (DESIGN §4): a bad record that later syncs re-read is
-- filed once, under its module, CRM id, CRM Modified_Time and reason. NULLs are distinct in a
-- unique index on both backends, so the key compares '' and -infinity in their place.
ALTER TABLE books.rejected_records ADD COLUMN crm_modified_time TIMESTAMPTZ;
ALTER TABLE books.stg_rejects ADD COLUMN crm_modified_time TIMESTAMPTZ;
-- Rows filed before versions were told apart have no time: one per record and reason, the first.
DELETE FROM books.rejected_records
WHERE rejected_id NOT IN (
    SELECT MIN(rejected_id) FROM books.rejected_records
    GROUP BY module, COALESCE(crm_id, ''), reason
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_rejected_records_version ON books.rejected_records (module, (COALESCE(crm_id, '')), (COALESCE(crm_modified_time, '-infinity')), reason);
-- The run log: rejects of this run that an earlier run had filed already, and when the run's
-- load committed (a later attempt of the same run's load then changes nothing).
ALTER TABLE books.sync_runs ADD COLUMN rejected_again INTEGER NOT NULL DEFAULT 0;
ALTER TABLE books.sync_runs ADD COLUMN loaded_at TIMESTAMPTZ;
