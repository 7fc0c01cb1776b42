-- A run's modules whose load has committed, with the counts it recorded.
SELECT module, extracted, read_from, inserted, updated, unchanged, rejected, rejected_again, held,
       contact_persons_inserted, contact_persons_updated, contact_persons_unchanged, loaded_at
FROM books.sync_runs WHERE run_id = :run_id AND loaded_at IS NOT NULL ORDER BY module
