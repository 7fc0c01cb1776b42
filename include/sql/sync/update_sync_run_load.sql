-- The load's counts, and the mark that this run's load committed (in the same transaction).
-- inserted, updated and unchanged are the module's totals; the contact_persons_* counts say how
-- many of them were contact persons (Contacts only).
UPDATE books.sync_runs
SET inserted = :inserted, updated = :updated, unchanged = :unchanged, rejected = :rejected,
    rejected_again = :rejected_again, held = :held,
    contact_persons_inserted = :contact_persons_inserted,
    contact_persons_updated = :contact_persons_updated,
    contact_persons_unchanged = :contact_persons_unchanged, loaded_at = :now
WHERE run_id = :run_id AND module = :module
